"""Writing files without ever losing what was there before.

A plain `open(path, "w")` has two faults. A crash halfway leaves half a file. And if
`path` is a symbolic link, the bytes go *through* the link into whatever file it
points at: a run's top-level `config.json` is a link into its checkpoint folder, so
writing it that way would change the checkpoint behind the manifest's back.

So every file the tool writes goes the same way:

    out/.config.json.tg-3f9a1c.tmp   1. the bytes go to a new file with a name of our own,
                                        created exclusively (never an existing file), in
                                        the same folder (a rename cannot cross disks);
                                     2. flushed and fsync'ed: on disk before it is visible;
    out/config.json                  3. os.replace() renames it over the target in one
                                        step. A link at the target is replaced by the file,
                                        never written through; readers see the old file
                                        or the new one, never a mix.

The temporary names match TEMP_NAME exactly, so a clean-up can tell ours (left by a
killed run) from a user's file that merely looks alike. This module imports nothing of
the package: anything that writes files (checkpoints, the tokenizer, the models) uses it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TEMP_NAME = re.compile(r"\.(?P<target>.+)\.tg-[0-9a-f]{6}\.tmp")


def temp_name(target: str) -> str:
    """A fresh temporary name (no folder) for writing the file named `target`."""
    return f".{target}.tg-{os.urandom(3).hex()}.tmp"


def is_temp_name(name: str) -> bool:
    """Whether `name` has the exact form temp_name() makes."""
    return TEMP_NAME.fullmatch(name) is not None


def write_bytes_atomic(path: str | os.PathLike, data: bytes, tmp: str | None = None) -> Path:
    """Replace the file (or link) at `path` by one holding `data`, in one rename.

    tmp: the temporary name to use (a name from temp_name(), chosen in advance so that
    the caller can record it before it exists); a fresh one if None.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ValueError(f"cannot write a file at {path}")
    if os.path.isdir(path) and not os.path.islink(path):
        raise IsADirectoryError(f"{path} is a folder, not a file: not replaced")
    tmp_path = path.parent / (tmp if tmp is not None else temp_name(path.name))
    if not is_temp_name(tmp_path.name):
        raise ValueError(f"{tmp_path.name!r} is not a temporary name of ours")
    # O_EXCL: fails rather than open an existing file (or follow a link planted there)
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)  # replaces a link itself, never its target
    except BaseException:
        try:
            os.remove(tmp_path)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str, tmp: str | None = None) -> Path:
    """write_bytes_atomic for text, in UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"), tmp)


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename inside the folder `path` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
