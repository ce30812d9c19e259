"""fileio: atomic writes that replace a link instead of writing through it."""

from __future__ import annotations

import os

import pytest

from tinygrad_edu import fileio


def test_a_link_at_the_target_is_replaced_never_written_through(tmp_path):
    elsewhere = tmp_path / "users_file.txt"
    elsewhere.write_text("the user's words")
    (tmp_path / "config.json").symlink_to(elsewhere)
    fileio.write_text_atomic(tmp_path / "config.json", "{}")
    assert elsewhere.read_text() == "the user's words"
    assert not (tmp_path / "config.json").is_symlink()
    assert (tmp_path / "config.json").read_text() == "{}"


def test_a_dangling_link_creates_nothing_at_its_target(tmp_path):
    (tmp_path / "tokenizer.json").symlink_to(tmp_path / "missing" / "t.json")
    (tmp_path / "missing").mkdir()
    fileio.write_bytes_atomic(tmp_path / "tokenizer.json", b"x")
    assert os.listdir(tmp_path / "missing") == []
    assert (tmp_path / "tokenizer.json").read_bytes() == b"x"


def test_temporary_names_have_one_exact_form():
    name = fileio.temp_name("config.json")
    assert fileio.is_temp_name(name)
    for other in (".draft.tmp", ".config.json.tmp", ".config.json.tg-12345.tmp", "x.tg-abcdef.tmp"):
        assert not fileio.is_temp_name(other), other


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        fileio.write_bytes_atomic(tmp_path / "a.json", object())  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_a_folder_at_the_target_is_refused(tmp_path):
    (tmp_path / "model.safetensors").mkdir()
    (tmp_path / "model.safetensors" / "keep").write_text("k")
    with pytest.raises(IsADirectoryError, match="model.safetensors"):
        fileio.write_bytes_atomic(tmp_path / "model.safetensors", b"x")
    assert (tmp_path / "model.safetensors" / "keep").read_text() == "k"


def test_an_existing_file_at_a_chosen_temporary_name_is_never_opened(tmp_path):
    name = fileio.temp_name("a.json")
    (tmp_path / name).write_text("someone's")
    with pytest.raises(FileExistsError):
        fileio.write_bytes_atomic(tmp_path / "a.json", b"x", tmp=name)
    assert (tmp_path / name).read_text() == "someone's"
