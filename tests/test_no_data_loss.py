"""Issue 24, part 1: the tool never deletes or overwrites what it did not write.

One test per reproduction of the issue (each deleted or overwrote a user's bytes before),
then a property test: random folder contents before a run (names like ours, look-alikes,
links), and every byte that is not the run's own is intact after it.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("safetensors")

from tinygrad_edu import checkpoint  # noqa: E402
from tinygrad_edu.cli import main  # noqa: E402

TEXT = "hello world, hello tensors. " * 60


def _flags(tmp_path, out, *extra, max_iters=2):
    text = tmp_path / "text.txt"
    if not text.exists():
        text.write_text(TEXT, encoding="utf-8")
    return ["train-gpt", "--data", str(text), "--out", str(out), "--block-size", "8",
            "--batch-size", "2", "--n-layer", "1", "--n-head", "1", "--n-embd", "8",
            "--max-iters", str(max_iters), "--eval-interval", "2", "--eval-iters", "1",
            "--warmup-iters", "0", "--no-progress", *extra]  # fmt: skip


def snapshot(folder) -> dict[str, tuple]:
    """Every entry under `folder`, links not followed: path -> (kind, bytes or target)."""
    seen = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                seen[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                seen[rel] = ("dir", None)
            else:
                with open(path, "rb") as f:
                    seen[rel] = ("file", f.read())
    return seen


def intact(before: dict, after: dict) -> list[str]:
    """The entries of `before` that are gone or changed in `after`."""
    return [k for k, v in before.items() if after.get(k) != v]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _a_run(tmp_path, capsys, name="run", max_iters=2):
    out = tmp_path / name
    assert main(_flags(tmp_path, out, max_iters=max_iters)) == 0
    capsys.readouterr()
    return out


# ---- the reproductions of the issue ---------------------------------------------------


def test_look_alike_folders_and_files_of_the_user_survive_a_run(tmp_path, capsys):
    """`ckpt-2023-paper/results.csv`, a copied `ckpt-best-keep/`, a `.draft.tmp`: deleted by
    the prefix-only clean-up of `train-gpt --out .`."""
    out = tmp_path / "work"
    (out / "ckpt-2023-paper").mkdir(parents=True)
    (out / "ckpt-2023-paper" / "results.csv").write_text("epoch,score\n1,0.9\n")
    (out / "ckpt-best-keep").mkdir()
    (out / "ckpt-best-keep" / "model.safetensors").write_bytes(b"kept weights")
    (out / ".draft.tmp").write_text("draft")
    (out / ".tmp-ckpt-mine").mkdir()
    before = snapshot(out)
    for _ in range(2):  # a run, then a resumed run (its clean-up runs again)
        assert main(_flags(tmp_path, out, max_iters=4)) == 0
    assert intact(before, snapshot(out)) == []


def test_a_pointer_naming_no_folder_is_refused_and_nothing_deleted(tmp_path, capsys):
    """checkpoint.json `{"dir": "", "iter": 20}`: a plain resume deleted every checkpoint
    folder and made the top-level files links to themselves; said only "no manifest.json"."""
    out = _a_run(tmp_path, capsys)
    checkpoint.write_json_atomic(out / "checkpoint.json", {"dir": "", "iter": 20})
    before = snapshot(out)
    assert main(_flags(tmp_path, out, max_iters=4)) == 2
    line = _one_error_line(capsys)
    assert "checkpoint.json names ''" in line and "damaged" in line
    assert intact(before, snapshot(out)) == [] and snapshot(out) == before


@pytest.mark.parametrize("name", ["ckpt-000020-xxxxxx/", "../decoy"])
def test_a_bad_pointer_under_no_resume_is_refused_before_the_run(tmp_path, capsys, name):
    """The same deletion with `"dir": "ckpt-000020-xxxxxx/"` or `"../decoy"` under
    --no-resume, when the run failed before its first save."""
    out = _a_run(tmp_path, capsys)
    (tmp_path / "decoy").mkdir()
    (tmp_path / "decoy" / "thesis.tex").write_text("chapter 1")
    checkpoint.write_json_atomic(out / "checkpoint.json", {"dir": name, "iter": 20})
    before, outside = snapshot(out), snapshot(tmp_path / "decoy")
    # a run that fails before its first save (block size too large for the text)
    argv = _flags(tmp_path, out, "--no-resume")
    argv[argv.index("--block-size") + 1] = "100000"
    assert main(argv) == 2
    assert repr(name) in _one_error_line(capsys)
    assert snapshot(out) == before and snapshot(tmp_path / "decoy") == outside
    assert main(_flags(tmp_path, out, "--no-resume")) == 2  # and a run that would save
    assert repr(name) in _one_error_line(capsys)
    assert snapshot(out) == before and snapshot(tmp_path / "decoy") == outside


def test_train_gpt_refuses_a_train_mnist_folder(tmp_path, capsys):
    """train-gpt --out on a train-mnist output folder replaced its model and config."""
    out = tmp_path / "digits"
    assert main(["train-mnist", "--epochs", "1", "--hidden", "8", "--out", str(out)]) == 0
    capsys.readouterr()
    before = snapshot(out)
    assert main(_flags(tmp_path, out)) == 2
    line = _one_error_line(capsys)
    assert "a train-mnist model (config.json, model.safetensors)" in line
    assert snapshot(out) == before


def test_train_mnist_refuses_a_train_gpt_run(tmp_path, capsys):
    """train-mnist --out into a train-gpt run wrote config.json through the top-level link
    into the checkpoint, which then failed its sha256 check: sample and resume refused it."""
    out = _a_run(tmp_path, capsys)
    before = snapshot(out)
    code = main(["train-mnist", "--epochs", "1", "--hidden", "8", "--out", str(out)])
    assert code == 2
    assert "holds a train-gpt run" in _one_error_line(capsys)
    assert snapshot(out) == before
    checkpoint.published_checkpoint(out)  # still verifies


def test_train_mnist_replaces_its_own_output_and_links_not_their_targets(tmp_path, capsys):
    out = tmp_path / "digits"
    mnist = ["train-mnist", "--epochs", "1", "--hidden", "8", "--out", str(out)]
    assert main(mnist) == 0
    shared = tmp_path / "shared_config.json"  # config.json made a link to a copy elsewhere
    shared.write_bytes((out / "config.json").read_bytes())
    os.remove(out / "config.json")
    (out / "config.json").symlink_to(shared)
    before = shared.read_bytes()
    assert main([*mnist, "--seed", "1"]) == 0  # its own kind: replaced
    assert shared.read_bytes() == before and not os.path.islink(out / "config.json")


def test_save_pretrained_refuses_a_train_gpt_run_and_replaces_links(tmp_path, capsys):
    """GPT.save_pretrained() into a run wrote config.json through the link (as above); into
    any folder, a link at config.json must be replaced, not written through."""
    from tinygrad_edu.models.gpt import GPT, GPTConfig

    out = _a_run(tmp_path, capsys)
    before = snapshot(out)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(checkpoint.CheckpointError, match="holds a train-gpt run"):
        model.save_pretrained(str(out))
    assert snapshot(out) == before
    checkpoint.published_checkpoint(out)

    notes = tmp_path / "notes.json"  # a link to someone's file: not a model folder
    notes.write_text('{"mine": true}')
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").symlink_to(notes)
    with pytest.raises(checkpoint.CheckpointError, match="files not made by this tool"):
        model.save_pretrained(str(tmp_path / "plain"))
    assert notes.read_text() == '{"mine": true}'

    shared = tmp_path / "shared_config.json"  # a link to a GPT config: replaced, not written
    model.save_pretrained(str(tmp_path / "other"))
    shared.write_bytes((tmp_path / "other" / "config.json").read_bytes())
    os.remove(tmp_path / "plain" / "config.json")
    (tmp_path / "plain" / "config.json").symlink_to(shared)
    before = shared.read_bytes()
    bigger = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=16))
    bigger.save_pretrained(str(tmp_path / "plain"))
    assert shared.read_bytes() == before
    assert not os.path.islink(tmp_path / "plain" / "config.json")
    assert GPT.from_pretrained(str(tmp_path / "plain")).config.n_embd == 16


def test_an_older_flat_run_with_a_dangling_tokenizer_link_creates_nothing(tmp_path, capsys):
    """An old flat-layout run whose tokenizer.json is a link to a missing file elsewhere:
    resume created that file there. The flat layout is no longer read: refused."""
    out = _a_run(tmp_path, capsys)
    flat = tmp_path / "flat"
    flat.mkdir()
    ckpt = checkpoint.published_checkpoint(out)
    for name in ("config.json", "model.safetensors", "optimizer.safetensors"):
        (flat / name).write_bytes((tmp_path / "run" / os.path.basename(ckpt) / name).read_bytes())
    state = checkpoint.read_json(os.path.join(ckpt, "train_state.json"))
    (flat / "train_state.json").write_text(json.dumps(state))
    (tmp_path / "elsewhere").mkdir()
    (flat / "tokenizer.json").symlink_to(tmp_path / "elsewhere" / "tokenizer.json")
    before = snapshot(flat)
    assert main(_flags(tmp_path, flat, max_iters=4)) == 2
    assert "an older train-gpt run" in _one_error_line(capsys)
    assert os.listdir(tmp_path / "elsewhere") == [] and snapshot(flat) == before


def test_a_manifest_naming_files_outside_its_folder_is_refused(tmp_path, capsys):
    """A manifest.json may name files outside its folder; they were opened and hashed (and
    one with the right digest passed as part of the checkpoint)."""
    out = _a_run(tmp_path, capsys)
    ckpt = checkpoint.published_checkpoint(out)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you")
    manifest = checkpoint.read_json(os.path.join(ckpt, "manifest.json"))
    manifest["files"]["../../secret.txt"] = checkpoint.sha256_file(secret)
    checkpoint.write_json_atomic(os.path.join(ckpt, "manifest.json"), manifest)
    opened = []
    real_sha = checkpoint.sha256_file

    def spy(path):
        opened.append(os.path.abspath(path))
        return real_sha(path)

    checkpoint.sha256_file = spy
    try:
        with pytest.raises(checkpoint.CheckpointError, match="not a file of a checkpoint"):
            checkpoint.published_checkpoint(out)
    finally:
        checkpoint.sha256_file = real_sha
    assert str(secret) not in opened


def test_a_manifest_naming_files_outside_is_refused_before_the_run_touches_anything(
    tmp_path, capsys
):
    out = _a_run(tmp_path, capsys)
    ckpt = checkpoint.published_checkpoint(out)
    manifest = checkpoint.read_json(os.path.join(ckpt, "manifest.json"))
    manifest["files"]["../../../etc/hostname"] = "0" * 64
    checkpoint.write_json_atomic(os.path.join(ckpt, "manifest.json"), manifest)
    before = snapshot(out)
    for extra in ([], ["--no-resume"]):
        assert main(_flags(tmp_path, out, *extra, max_iters=4)) == 2
        assert "'../../../etc/hostname', not a file of a checkpoint" in _one_error_line(capsys)
        assert snapshot(out) == before  # no lock taken, nothing recorded, nothing cleaned


def test_the_record_stays_short_and_lists_what_is_still_there(tmp_path, capsys):
    out = _a_run(tmp_path, capsys)
    many = [f".config.json.tg-{i:06x}.tmp" for i in range(3000)]  # long gone temporaries
    checkpoint.record_names(str(out), many)
    assert os.path.getsize(out / checkpoint.RECORD) > 1 << 16
    (out / many[7]).write_text("{}")  # one a kill left behind: ours, deleted
    checkpoint.remove_stale(str(out))
    assert not os.path.exists(out / many[7])
    assert os.path.getsize(out / checkpoint.RECORD) < 1 << 12
    current = os.path.basename(checkpoint.published_checkpoint(out))
    assert current in checkpoint.recorded_names(str(out))
    assert main(_flags(tmp_path, out, max_iters=4)) == 0  # the next save still cleans up
    ckpts = [e for e in os.listdir(out) if e.startswith("ckpt-")]
    assert ckpts == [os.path.basename(checkpoint.published_checkpoint(out))]


def test_a_top_level_file_of_the_user_in_a_run_is_refused(tmp_path, capsys):
    """In a run folder, a top-level name that is not the run's own link (someone's file put
    there) would be replaced by the next save: refused instead."""
    out = _a_run(tmp_path, capsys)
    os.remove(out / "tokenizer.json")
    (out / "tokenizer.json").write_text('{"my": "tokenizer"}')
    before = snapshot(out)
    assert main(_flags(tmp_path, out, max_iters=4)) == 2
    assert "tokenizer.json is not the run's own" in _one_error_line(capsys)
    assert snapshot(out) == before


def test_where_links_are_not_allowed_the_top_level_copies_are_the_runs_own(
    tmp_path, capsys, monkeypatch
):
    def no_links(*args, **kw):
        raise OSError("symbolic links are not allowed here")

    monkeypatch.setattr(checkpoint.os, "symlink", no_links)
    out = _a_run(tmp_path, capsys)
    assert not os.path.islink(out / "config.json")
    assert main(_flags(tmp_path, out, max_iters=4)) == 0  # its own copies: replaced
    ckpt = checkpoint.published_checkpoint(out)
    assert (out / "model.safetensors").read_bytes() == open(
        f"{ckpt}/model.safetensors", "rb"
    ).read()
    (out / "config.json").write_text('{"my": "edit"}')  # someone's file now: refused
    before = snapshot(out)
    assert main(_flags(tmp_path, out, max_iters=6)) == 2
    assert "config.json is not the run's own" in _one_error_line(capsys)
    assert snapshot(out) == before


def test_names_the_user_already_has_are_never_chosen_nor_recorded(tmp_path, capsys, monkeypatch):
    """The random part of a name the tool makes may come out as a name that is there
    already: another is drawn, so a user's file is never recorded as the tool's."""
    out = tmp_path / "run"
    out.mkdir()
    taken = [".tmp-ckpt-000000", "ckpt-000000-000000", "ckpt-000002-000000",
             ".checkpoint.json.tg-000000.tmp", ".config.json.tg-000000.tmp"]  # fmt: skip
    for name in taken:
        (out / name).mkdir() if "ckpt" in name else (out / name).write_text("mine")
    before = snapshot(out)
    urandom, calls = os.urandom, []

    def zeros_first(n):
        calls.append(n)
        return bytes(n) if len(calls) <= 40 else urandom(n)

    monkeypatch.setattr(os, "urandom", zeros_first)
    assert main(_flags(tmp_path, out)) == 0
    assert intact(before, snapshot(out)) == []
    assert not set(taken) & checkpoint.recorded_names(str(out))


def test_a_metrics_write_stopped_before_its_rename_is_cleaned_by_the_next_run(
    tmp_path, capsys, monkeypatch
):
    """.ci/crash.sh's trial: SIGINT came just after metrics.jsonl's temporary file was
    created (KeyboardInterrupt before write_text_atomic's clean-up could run), and the
    resumed run left the file there: its name had not been recorded. Here the same moment
    is made to happen every time, and the next run must delete that file."""
    from tinygrad_edu import fileio
    from tinygrad_edu.models import run_folder

    out = tmp_path / "run"
    assert main(_flags(tmp_path, out)) == 0
    real_open = os.open

    def open_then_interrupt(path, flags, *args):
        fd = real_open(path, flags, *args)
        if fileio.is_temp_name(os.path.basename(path)) and "metrics" in os.path.basename(path):
            os.close(fd)
            raise KeyboardInterrupt  # as a signal handler raises it, on the call's return
        return fd

    monkeypatch.setattr(fileio.os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_folder.write_metrics(str(out), [{"iter": 0}])
    monkeypatch.undo()
    left = [n for n in os.listdir(out) if fileio.is_temp_name(n)]
    assert len(left) == 1 and left[0] in checkpoint.recorded_names(str(out))
    assert main(_flags(tmp_path, out, max_iters=4)) == 0  # the resumed run
    capsys.readouterr()
    assert not [n for n in os.listdir(out) if fileio.is_temp_name(n)]


def test_a_lock_file_of_someone_else_is_not_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("my notes on locks")
    assert main(_flags(tmp_path, out)) == 2
    assert "not a lock file of this tool" in _one_error_line(capsys)
    assert (out / ".lock").read_text() == "my notes on locks"


def test_remove_run_deletes_only_what_the_run_made(tmp_path, capsys):
    """The lessons' "could not reuse, train again" path: it removed the whole folder."""
    out = _a_run(tmp_path, capsys, max_iters=4)
    (out / "my_plot.png").write_bytes(b"\x89PNG")
    (out / "ckpt-best-keep").mkdir()
    checkpoint.remove_run(str(out))
    assert sorted(os.listdir(out)) == ["ckpt-best-keep", "my_plot.png"]
    assert (out / "my_plot.png").read_bytes() == b"\x89PNG"
    before = snapshot(tmp_path)
    checkpoint.remove_run(str(tmp_path))  # nothing of a run's at the top: nothing changes
    assert snapshot(tmp_path) == before
    assert main(["train-mnist", "--epochs", "1", "--hidden", "8", "--out", str(out)]) == 0
    with pytest.raises(checkpoint.CheckpointError, match="a train-mnist model"):
        checkpoint.remove_run(str(out))
    os.remove(out / "config.json")
    os.remove(out / "model.safetensors")
    os.remove(out / "my_plot.png")
    os.rmdir(out / "ckpt-best-keep")
    out2 = _a_run(tmp_path, capsys, name="run2")
    checkpoint.remove_run(str(out2))
    assert not os.path.exists(out2)


# ---- property: random folder contents, every byte not ours intact ---------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Names a user might have, many shaped like ours; links inside and outside the folder.
NAMES = ["ckpt-2023-paper", "ckpt-best-keep", "ckpt-000002-abcdef", "ckpt-000004-0a1b2c",
         ".tmp-ckpt-abcdef", ".tmp-ckpt-x", ".draft.tmp", ".config.json.tg-abcdef.tmp",
         ".config.json.ab12cd.tmp", "..lock.tg-123456.tmp", "ckpt-", "notes.txt",
         "model.safetensors", "config.json", "tokenizer.json", "metrics.jsonl", ".lock",
         "checkpoint.json", "train_state.json", "manifest.json", checkpoint.RECORD]  # fmt: skip
KINDS = ["file", "dir", "dir with a file", "link to outside file", "link to missing",
         "link to outside dir", "link to itself"]  # fmt: skip


@st.composite
def folder_contents(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=5, unique=True))
    return [(n, draw(st.sampled_from(KINDS)), draw(st.binary(min_size=1, max_size=12)))
            for n in names]  # fmt: skip


def _make(out, outside, contents):
    for name, kind, data in contents:
        path = out / name
        if kind == "file":
            path.write_bytes(data)
        elif kind == "dir":
            path.mkdir()
        elif kind == "dir with a file":
            path.mkdir()
            (path / "results.csv").write_bytes(data)
        elif kind == "link to outside file":
            target = outside / f"{name}.target"
            target.write_bytes(data)
            path.symlink_to(target)
        elif kind == "link to outside dir":
            (outside / f"{name}.d").mkdir()
            (outside / f"{name}.d" / "x").write_bytes(data)
            path.symlink_to(outside / f"{name}.d")
        elif kind == "link to missing":
            path.symlink_to(outside / "missing" / name)
        else:
            path.symlink_to(name)


PROPERTY_RUNS = {"examples": 0, "refused": 0, "trained": 0}


@settings(
    max_examples=40, derandomize=False, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(contents=folder_contents(), resume=st.booleans(), twice=st.booleans())
def test_property_every_byte_not_ours_is_intact(tmp_path_factory, contents, resume, twice):
    tmp = tmp_path_factory.mktemp("prop")
    out, outside = tmp / "out", tmp / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "missing").mkdir()
    _make(out, outside, contents)
    before_out, before_outside = snapshot(out), snapshot(outside)
    argv = _flags(tmp, out, *([] if resume else ["--no-resume"]))
    codes = [main(argv) for _ in range(2 if twice else 1)]
    PROPERTY_RUNS["examples"] += 1
    PROPERTY_RUNS["refused" if 2 in codes else "trained"] += 1
    assert set(codes) <= {0, 2}, codes
    assert intact(before_out, snapshot(out)) == []
    assert snapshot(outside) == before_outside
    if codes[0] == 2:  # refused: before anything was touched
        assert snapshot(out) == before_out
    else:
        weights = checkpoint.load(
            os.path.join(checkpoint.published_checkpoint(out), "model.safetensors")
        )
        assert all(np.isfinite(w).all() for w in weights.values())


def test_property_test_exercised_both_outcomes():
    """(runs after the property test, in file order) it must have trained and refused."""
    if PROPERTY_RUNS["examples"] == 0:
        pytest.skip("the property test did not run in this session")
    print(f"\nproperty test: {PROPERTY_RUNS}")
    assert PROPERTY_RUNS["refused"] > 0 and PROPERTY_RUNS["trained"] > 0
