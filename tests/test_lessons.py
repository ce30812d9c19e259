"""The lessons, run as a learner runs them (`--quick`): every verdict they print and every
belief outcome they record is the one this file's table expects, every figure they save
exists, every source file and name they point to exists, and every "lesson N" or
"section N" they mention exists and holds what is claimed of it.

pytest runs each lesson with seed 0; `tests/check_lesson_records.py DIR` checks a folder of
verdict records written with another seed (.ci/run: seed 1, and seed 2 in the book) against the same table.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

from tinygrad_edu.lessons.book import definitions, lessons, mentions, resolve_path

ROOT = Path(__file__).resolve().parents[1]

# lesson -> what its --quick run must record, for every seed:
#   "verdicts": key -> the value it must have (None: recorded but not asserted, for a timing
#               verdict that a loaded machine can blur);
#   "beliefs":  key -> (outcome, the numbers of the learner's notes in CURRICULUM.md it covers).
# A verdict or belief the run records but this table does not list is an error too: add it
# here with the value it must have.
EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "01_neuron": {
        "verdicts": {"stroke_neuron_prefers_ones": True, "untrained_network_guesses": True},
        "beliefs": {
            "order_sum_bias_then_activation": ("confirmed", (3,)),
            "neuron_detects_a_feature": ("confirmed", (1,)),
            "one_weight_per_connection": ("confirmed", (2,)),
            "network_is_one_function": ("confirmed", (4,)),
        },
    },
    "02_cost_and_gradient_descent": {
        "verdicts": {
            "start_decides_valley": True,
            "saddle_crawls": True,
            "learning_rate_too_small_good_too_big": True,
        },
        "beliefs": {
            "cost_measures_how_badly": ("partly", (5,)),
            "descent_needs_backprop": ("partly", (7,)),
            "local_minimum_is_easy": ("partly", (6,)),
            "gradient_points_at_the_minimum": ("corrected", ()),
        },
    },
    "03_backpropagation": {
        "verdicts": {
            "gradient_beats_random_directions": True,
            "layer_delta_matches_backward": True,
            "gradcheck_tanh": True,
            "gradcheck_matmul": True,
            "default_start_learns_faster": True,
            "small_start_starves_the_first_layer": True,
        },
        "beliefs": {
            "backprop_runs_from_the_output": ("partly", (8,)),
            "gradient_ranks_the_changes": ("confirmed", (8,)),
            "shuffle_into_mini_batches": ("confirmed", (9,)),
        },
    },
    "04_digits": {
        "verdicts": {
            "cross_entropy_learns_faster": True,
            "learned_part_is_smooth": True,
            "shuffling_helps": True,
            "mini_batches_beat_full_batch": True,
            "relu_beats_sigmoid": True,
            "activation_matters_more_than_optimizer": True,
            "noise_answered_with_confidence": True,
        },
        "beliefs": {
            "shuffled_mini_batches": ("confirmed", (9,)),
            "relu_modern_sigmoid_older": ("confirmed", (3,)),
            "knows_what_a_digit_is": ("corrected", ()),
        },
    },
    "05_next_token": {
        "verdicts": {
            "gpt2_english_is_cheapest": True,
            "gpt2_vocab_is_denser": True,
            "gpt_beats_bigram": True,
            "hot_sampling_invents_words": True,
            "greedy_repeats_itself": True,
        },
        "beliefs": {
            "attention_mlp_alternate": ("partly", (12,)),
            "next_word_from_the_input": ("partly", (10,)),
            "choose_the_top_word": ("partly", (13,)),
            "model_copies_its_text": ("corrected", ()),
        },
    },
    "06_attention": {
        "verdicts": {
            "vowels_grouped": True,
            "case_direction": True,
            "a_head_prefers_previous_token": True,
            "logit_lens_sharpens": True,
        },
        "beliefs": {
            "weights_not_data": ("confirmed", (16,)),
            "attention_sees_whole_text": ("corrected", ()),
            "vectors_talk": ("confirmed", (14,)),
            "mlp_per_vector": ("confirmed", (15,)),
            "embedding_unembedding": ("confirmed", (17,)),
            "answer_only_at_the_end": ("corrected", ()),
            "softmax_near_one": ("partly", (18,)),
        },
    },
    "07_queries_keys_values": {
        "verdicts": {
            "several_heads_help_one_layer": True,
            "attention_cost_grows_faster_than_T": None,  # timing: a loaded machine blurs it
            "fused_same_numbers_less_memory": True,
            "kv_cache_linear_per_token": True,
        },
        "beliefs": {
            "multi_head_scales_out": ("corrected", (22,)),
            "query_key_value": ("confirmed", (19,)),
            "irrelevant_words_neg_inf": ("corrected", (20,)),
            "long_context_hard": ("confirmed", (21,)),
            "generation_recomputes_everything": ("corrected", ()),
        },
    },
    "08_mlp_and_superposition": {
        "verdicts": {
            "mlp_stores_facts": True,
            "neurons_are_shared": True,
            "facts_lean_on_their_own_neurons": True,
            "spread_within_tolerance": True,
            "directions_grow_faster_than_dimensions": True,
            "superposition_when_sparse": True,
            "gpt_mlp_fires_sparsely": True,  # held for 6 training seeds, 4 backends
            "gpt_neurons_selective": True,
            "mlp_by_hand_is_the_model": True,
        },
        "beliefs": {
            "one_neuron_one_fact": ("corrected", ()),
            "features_at_most_dimensions": ("corrected", ()),
            "mlp_is_simple_network": ("partly", (24,)),
            "perpendicular_same_family": ("corrected", (23,)),
        },
    },
    "09_rlhf": {
        "verdicts": {
            "reward_model_learned_the_rater": True,
            "reward_rises": True,
            "kl_bounded_with_penalty": True,
            "dpo_ranks_held_out_pairs": True,
            "preference_learned": True,
            "reward_hacked_without_kl": True,
        },
        "beliefs": {
            "rlhf_model_is_told_the_rule": ("corrected", (11,)),
            "rlhf_second_stage": ("confirmed", (11,)),
            "higher_reward_is_better": ("corrected", (11,)),
            "rlhf_needs_reward_model": ("corrected", (11,)),
        },
    },
    # Lesson 10's timings move with a shared machine's load: those verdicts and outcomes are
    # recorded but not asserted (None); the wide-margin ones (SIMD vs plain C, 1.5x asked,
    # 15x and more seen) and the counted ones (bytes, page faults) are.
    "10_engine_room": {
        "verdicts": {
            "ours_near_openblas": None,
            "simd_beats_plain_c_softmax": True,
            "simd_beats_plain_c_attention": True,
            "fused_attention_memory": True,
            "pool_removes_page_faults": True,
            "fusion_moves_fewer_bytes": True,
            "fusion_not_slower": True,
            "gpt_step_far_from_peak": None,
        },
        "beliefs": {
            "python_loop_as_fast_as_numpy": ("corrected", ()),
            "c_loop_beats_numpy": (None, ()),
            "attention_needs_all_scores": ("corrected", ()),
        },
    },
    "11_data_parallel": {
        "verdicts": {"shard_average_is_full_gradient": True, "n_workers_same_steps": True},
        "beliefs": {
            "n_workers_different_step": ("corrected", ()),
            "n_workers_n_times_faster": ("partly", ()),
        },
    },
    "12_your_gpt": {
        "verdicts": {
            "gpt_beats_bigram": True,
            "a_head_prefers_previous_token": True,
            "a_neuron_reads_the_context": True,
            "dpo_shifts_towards_preference": True,
        },
        "beliefs": {
            "your_weights_not_data": ("confirmed", (16,)),
            "your_greedy_choice": ("partly", (13,)),
        },
    },
}

LECTURE_LESSONS = range(1, 12)  # every lesson 1-11 has verdicts and checked beliefs
N_NOTES = 24  # the learner's notes in CURRICULUM.md


def record_problems(stem: str, record: dict, seed: Optional[int] = None) -> list[str]:
    """What is wrong with one lesson's verdict record, against EXPECTED (empty: nothing)."""
    if stem not in EXPECTED:
        return [f"{stem}: no entry in EXPECTED (tests/test_lessons.py)"]
    want = EXPECTED[stem]
    problems = []
    if record.get("quick") is not True:
        problems.append(f"{stem}: the record is not from a --quick run")
    if seed is not None and record.get("seed") != seed:
        problems.append(f"{stem}: the record is from seed {record.get('seed')}, not {seed}")
    verdicts, beliefs = record.get("verdicts", {}), record.get("beliefs", {})
    for key, value in want["verdicts"].items():
        if key not in verdicts:
            problems.append(f"{stem}: verdict {key} was not recorded")
        elif value is not None and verdicts[key] is not value:
            problems.append(f"{stem}: verdict {key} came out {verdicts[key]}, expected {value}")
    for key in sorted(set(verdicts) - set(want["verdicts"])):
        problems.append(f"{stem}: verdict {key} (= {verdicts[key]}) is not in EXPECTED")
    for key, (outcome, notes) in want["beliefs"].items():
        if key not in beliefs:
            problems.append(f"{stem}: belief {key} was not recorded")
            continue
        got = beliefs[key]
        if outcome is not None and got.get("outcome") != outcome:
            problems.append(
                f"{stem}: belief {key} came out {got.get('outcome')!r}, expected {outcome!r} "
                f"({got.get('evidence')})"
            )
        if tuple(got.get("notes", ())) != tuple(notes):
            problems.append(
                f"{stem}: belief {key} covers notes {got.get('notes')}, expected {notes}"
            )
        if not got.get("claim") or not got.get("evidence") or not re.search(r"\d", got["evidence"]):
            problems.append(f"{stem}: belief {key} needs a claim and evidence with numbers")
    for key in sorted(set(beliefs) - set(want["beliefs"])):
        problems.append(
            f"{stem}: belief {key} (= {beliefs[key].get('outcome')}) is not in EXPECTED"
        )
    return problems


def run_lesson(stem: str, out: Path, seed: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYGRAD_EDU_OUT": str(out), "MPLBACKEND": "Agg"}
    env.pop("TINYGRAD_EDU_QUICK", None)
    env.pop("TINYGRAD_EDU_SEED", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "tutorials" / f"{stem}.py"), "--quick", "--seed", str(seed)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_lesson_verdicts_and_beliefs_hold_in_quick_mode(stem, tmp_path):
    proc = run_lesson(stem, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((tmp_path / f"{stem}_verdicts.json").read_text())
    problems = record_problems(stem, record, seed=0)
    assert not problems, "\n".join(problems) + "\n" + proc.stdout[-3000:]
    # every verdict and every belief was printed, not only recorded
    assert proc.stdout.count("  -> ") >= len(record["verdicts"]) + len(record["beliefs"])
    assert proc.stdout.count("  belief: ") >= len(record["beliefs"])
    if _has_matplotlib():
        prefix = stem[:2] + "_"
        pngs = list(tmp_path.glob(prefix + "*.png"))
        assert pngs, "the lesson saved no figure under its name"


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_every_lesson_reads_quick_from_the_lesson_not_the_command_line():
    """The book runs the lessons in a Jupyter kernel and says --quick through the
    environment (TINYGRAD_EDU_QUICK): `lesson.quick` has both, `args.quick` only the flag.
    Lessons 2-4 once read `args.quick`, so the quick book trained them at full size."""
    for path in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        assert "args.quick" not in path.read_text(encoding="utf-8"), path.name


def test_record_problems_catches_a_wrong_outcome_and_an_unknown_key():
    record = {
        "quick": True,
        "seed": 0,
        "verdicts": {k: True for k in EXPECTED["01_neuron"]["verdicts"]},
        "beliefs": {
            k: {"claim": "c", "outcome": o, "evidence": "1 and 2", "notes": list(n)}
            for k, (o, n) in EXPECTED["01_neuron"]["beliefs"].items()
        },
    }
    assert record_problems("01_neuron", record, seed=0) == []
    record["beliefs"]["neuron_detects_a_feature"]["outcome"] = "corrected"
    record["verdicts"]["something_new"] = True
    problems = record_problems("01_neuron", record, seed=1)
    assert any("neuron_detects_a_feature came out 'corrected'" in p for p in problems)
    assert any("something_new" in p for p in problems)
    assert any("seed 0, not 1" in p for p in problems)


# --- every lesson has verdicts and beliefs; every learner's note is covered ---------------


@pytest.mark.parametrize("number", LECTURE_LESSONS)
def test_every_lesson_has_verdicts_and_beliefs(number):
    stems = [p.stem for p in lessons(ROOT) if p.stem.startswith(f"{number:02d}_")]
    assert stems, f"no lesson {number} in tutorials/"
    stem = stems[0]
    assert stem in EXPECTED, f"{stem} has no entry in EXPECTED"
    assert len(EXPECTED[stem]["verdicts"]) >= 2, f"{stem}: fewer than 2 verdicts"
    assert EXPECTED[stem]["beliefs"], f"{stem}: no checked beliefs"


def test_every_learners_note_is_covered_by_a_belief():
    text = (ROOT.parent / "shared" / "CURRICULUM.md").resolve()
    if text.is_file():  # the table's numbers, when the curriculum is beside the checkout
        rows = re.findall(r"^\| (\d+) \| \d+ \|", text.read_text(encoding="utf-8"), flags=re.M)
        assert len(rows) == N_NOTES
    covered: dict[int, list[str]] = {}
    for stem, want in EXPECTED.items():
        for key, (_, notes) in want["beliefs"].items():
            for n in notes:
                covered.setdefault(n, []).append(f"{stem}:{key}")
    missing = [n for n in range(1, N_NOTES + 1) if n not in covered]
    assert not missing, f"no belief covers the learner's notes {missing}"
    assert set(covered) <= set(range(1, N_NOTES + 1)), f"unknown notes {set(covered)}"


# --- pointers: source files and names, other lessons, sections --------------------------------


@pytest.mark.parametrize("lesson", lessons(ROOT), ids=lambda p: p.stem)
def test_every_pointer_resolves(lesson):
    paths, pairs = mentions(lesson.read_text(encoding="utf-8"))
    assert paths, "a lesson names the source it teaches from"
    for p in paths:
        assert resolve_path(p, ROOT) is not None, (
            f"{lesson.name} points at {p}, which does not exist"
        )
    for name, p in pairs:
        f = resolve_path(p, ROOT)
        assert f is not None, f"{lesson.name}: {p} does not exist"
        assert name in definitions(f), f"{lesson.name}: `{name}` is not defined in {p}"


# (lesson, lesson it mentions) -> words, one of which the mentioned lesson must contain:
# what the mention says is there. "" only checks that the lesson exists.
POINTER_TOPICS: dict[tuple[int, int], tuple[str, ...]] = {
    (1, 2): ("gradient descent",),
    (1, 3): ("backward()",),
    (1, 4): ("load_digits",),  # its test set
    (2, 1): ("784",),  # lesson 1's digit network
    (2, 3): ("finite differences",),
    (3, 2): ("gradient descent",),
    (3, 4): ("shuffle",),
    (4, 1): ("lesson.belief",),  # lessons 1-3 checked the learner's notes
    (4, 2): ("lesson.belief",),
    (4, 3): ("lesson.belief",),
    (4, 5): ("cross-entropy",),
    (5, 4): ("cross_entropy",),  # the cross-entropy cost of lesson 4
    (5, 6): ("lesson_gpt",),  # reuses the trained model
    (5, 7): ("cache",),  # teaches the KV cache
    (5, 8): ("lesson_gpt",),
    (5, 9): ("reward model",),
    (6, 5): ("lesson_gpt",),
    (6, 7): ("quer",),
    (7, 5): ("lesson_gpt", "BPE"),
    (7, 6): ("attention",),
    (7, 10): ("attention",),
    (7, 11): ("all-reduce", "allreduce"),
    (8, 1): ("Neuron",),
    (8, 5): ("lesson_gpt",),
    (8, 6): ("vowel",),
    (9, 5): ("next",),
    (10, 7): ("attention",),
    **{(11, n): ("",) for n in range(1, 11)},  # "lessons 1-9", "lessons 10 and 11"
    (12, 5): ("lesson_gpt",),  # the capstone: lessons 5-9 on your own text
    (12, 6): ("previous",),
    (12, 7): ("quer",),
    (12, 8): ("selectiv",),
    (12, 9): ("DPO",),
}
LESSON_MENTION_RE = re.compile(r"\b[Ll]essons? (\d+)((?:(?:, | and | or |-|–)\d+)*)")
SECTION_MENTION_RE = re.compile(r"\b[Ss]ections? (\d+)((?:(?:, | and | or |-|–)\d+)*)")


def _numbers(first: str, rest: str) -> list[int]:
    """'2', '-4' -> [2, 3, 4]; '6', ' and 8' -> [6, 8]."""
    found = [int(first)]
    for sep, n in re.findall(r"(, | and | or |-|–)(\d+)", rest):
        if sep in "-–":
            found.extend(range(found[-1] + 1, int(n) + 1))
        else:
            found.append(int(n))
    return found


def lesson_and_section_mentions(text: str) -> tuple[set[int], set[int]]:
    """The lesson numbers and the section numbers a lesson's text mentions."""
    found_lessons = {n for m in LESSON_MENTION_RE.finditer(text) for n in _numbers(*m.groups())}
    found_sections = {n for m in SECTION_MENTION_RE.finditer(text) for n in _numbers(*m.groups())}
    return found_lessons, found_sections


def test_mentions_of_lessons_and_sections_are_read():
    lessons_, sections = lesson_and_section_mentions(
        "lessons 2-4 and lesson 9's; sections 1 and 5, section 7; Lessons 6 and 8"
    )
    assert lessons_ == {2, 3, 4, 6, 8, 9} and sections == {1, 5, 7}


@pytest.mark.parametrize("lesson", lessons(ROOT), ids=lambda p: p.stem)
def test_every_lesson_and_section_it_mentions_exists_and_says_so(lesson):
    text = lesson.read_text(encoding="utf-8")
    me = int(lesson.stem[:2])
    by_number = {int(p.stem[:2]): p for p in lessons(ROOT)}
    mentioned, sections = lesson_and_section_mentions(text)
    headings = {int(n) for n in re.findall(r"^# ##+ (\d+)\.", text, flags=re.M)}
    missing_sections = sorted(sections - headings)
    assert not missing_sections, f"{lesson.stem} mentions sections {missing_sections}, not in it"
    problems = []
    for n in sorted(mentioned - {me}):
        if n not in by_number:
            problems.append(f"lesson {n} does not exist")
            continue
        topics = POINTER_TOPICS.get((me, n))
        if topics is None:
            problems.append(f"lesson {n} is mentioned, but POINTER_TOPICS has no ({me}, {n})")
            continue
        target = by_number[n].read_text(encoding="utf-8").lower()
        if not any(t.lower() in target for t in topics):
            problems.append(f"lesson {n} contains none of {topics}")
    assert not problems, f"{lesson.stem}: " + "; ".join(problems)


def test_mentions_finds_names_and_paths():
    text = "# `CausalSelfAttention` in `tinygrad_edu/nn/transformer.py`; `models/gpt.py` (GPT.forward,\n# sample_next)"
    paths, pairs = mentions(text)
    assert paths == ["models/gpt.py", "tinygrad_edu/nn/transformer.py"]
    assert ("CausalSelfAttention", "tinygrad_edu/nn/transformer.py") in pairs
    assert ("GPT.forward", "models/gpt.py") in pairs and ("sample_next", "models/gpt.py") in pairs
    assert "GPT.forward" in definitions(resolve_path("models/gpt.py", ROOT))
    assert "NoSuchThing" not in definitions(resolve_path("models/gpt.py", ROOT))


def test_figures_need_titles_and_labels(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    monkeypatch.setenv("TINYGRAD_EDU_OUT", str(tmp_path))
    from tinygrad_edu.lessons.common import Lesson

    monkeypatch.setattr(sys, "argv", ["lesson"])
    lesson = Lesson("99_test", "a test lesson")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with pytest.raises(ValueError, match="no title"):
        lesson.save(fig, "bare")
    ax.set_title("a line")
    with pytest.raises(ValueError, match="axis labels"):
        lesson.save(fig, "bare")
    ax.set(xlabel="x", ylabel="y")
    assert lesson.save(fig, "labelled") == tmp_path / "99_labelled.png"
    assert lesson.verdict("k", 1 > 0, "yes", "no") is None  # a notebook shows no Out[n]
    assert json.loads((tmp_path / "99_test_verdicts.json").read_text())["verdicts"] == {"k": True}


def test_a_belief_needs_a_known_outcome_and_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYGRAD_EDU_OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["lesson", "--seed", "3"])
    from tinygrad_edu.lessons.common import Lesson

    lesson = Lesson("99_test", "a test lesson")
    assert lesson.seed == 3
    with pytest.raises(ValueError, match="outcome"):
        lesson.belief("b", "a claim", "true", "1 number")
    with pytest.raises(ValueError, match="one line"):
        lesson.belief("b", "a claim", "partly", "two\nlines")
    lesson.belief("b", "a claim", "partly", "3 of 4", notes=(6,))
    lesson.summary()
    out = capsys.readouterr().out
    assert "PARTLY" in out and "3 of 4" in out and "notes 6" in out
    record = json.loads((tmp_path / "99_test_verdicts.json").read_text())
    assert record["seed"] == 3
    assert record["beliefs"]["b"] == {
        "claim": "a claim",
        "outcome": "partly",
        "evidence": "3 of 4",
        "notes": [6],
    }


def test_check_lesson_records_script_flags_a_wrong_record(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "check_lesson_records", ROOT / "tests" / "check_lesson_records.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    good = {
        "quick": True,
        "seed": 1,
        "verdicts": {k: v for k, v in EXPECTED["01_neuron"]["verdicts"].items()},
        "beliefs": {
            k: {"claim": "c", "outcome": o, "evidence": "1 of 2", "notes": list(n)}
            for k, (o, n) in EXPECTED["01_neuron"]["beliefs"].items()
        },
    }
    (tmp_path / "01_neuron_verdicts.json").write_text(json.dumps(good))
    assert script.main([str(tmp_path), "--seed", "1", "--lessons", "01"]) == 0
    good["verdicts"]["untrained_network_guesses"] = False
    (tmp_path / "01_neuron_verdicts.json").write_text(json.dumps(good))
    assert script.main([str(tmp_path), "--seed", "1", "--lessons", "01"]) == 1
    assert "untrained_network_guesses came out False" in capsys.readouterr().out
    assert script.main([str(tmp_path), "--lessons", "02"]) == 1  # no record at all
