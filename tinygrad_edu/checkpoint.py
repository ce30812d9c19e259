"""Checkpoints: a trained network's numbers, saved to a file and read back.

What is learned are the weights, not the code (lecture 6): a checkpoint is just the
state dict, name -> array. We store it in the safetensors format (the one Hugging
Face uses for GPT-2): a small JSON header with each array's name, dtype, shape and
byte range, then the raw bytes. Unlike pickle, loading it cannot run code, so a
checkpoint from anywhere is safe to open.

    tg.save(model.state_dict(), "digits.safetensors", metadata={"hidden": "100"})
    model.load_state_dict(tg.load("digits.safetensors"))

Writing is atomic: the bytes go to a temporary file in the same folder, which is
renamed over the target only when complete, so a crash never leaves half a
checkpoint behind. safetensors is an optional dependency (`pip install safetensors`,
or the package's `io` extra); it is imported only when needed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor

INSTALL_HINT = "pip install safetensors  (or: pip install 'tinygrad_edu[io]')"


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy
    except ImportError as exc:
        raise ImportError(f"checkpoints need the safetensors package: {INSTALL_HINT}") from exc
    return safetensors.numpy


def _as_state_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, dict):
        obj = obj.state_dict()  # a Module
    if not isinstance(obj, dict):
        raise TypeError(f"save needs a dict name -> array (a state dict), got {type(obj).__name__}")
    return obj


def save(state_dict: Any, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write name -> array (ndarrays or Tensors; or a Module's state_dict()) to path.

    metadata: optional str -> str pairs stored in the header (hyper-parameters, ...).
    Returns the path. The write is atomic (temporary file, then rename).
    """
    st = _safetensors_numpy()
    tensors = {}
    for name, value in _as_state_dict(state_dict).items():
        if not isinstance(name, str):
            raise TypeError(f"state dict keys must be strings, got {name!r}")
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
        tensors[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")  # keeps 0-d
    if metadata is not None:
        bad = [k for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))]
        if bad:
            raise TypeError(f"metadata must map str to str; not so for {bad}")
    path = Path(path)
    data = st.save(tensors, metadata=metadata)  # the whole file, as bytes
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it visible
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file: name -> numpy.ndarray.

    A truncated, damaged or foreign file raises ValueError naming the file.
    """
    st = _safetensors_numpy()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return dict(st.load_file(str(path)))
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise ValueError(f"{path}: not a valid safetensors file ({exc})") from exc


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The str -> str metadata stored in a checkpoint's header ({} if none)."""
    _safetensors_numpy()
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            return dict(f.metadata() or {})
    except Exception as exc:
        raise ValueError(f"{path}: not a valid safetensors file ({exc})") from exc


# --- A training run's folder: one checkpoint = one atomic unit -----------------------
#
# A training checkpoint is several files (weights, optimizer state, tokenizer, config,
# the loop's own state). Written one after another into the run folder, a kill between
# two writes leaves a mix: weights of iteration N beside an optimizer of N - 1. So:
#
#   out/.tmp-ckpt-XXXX/      1. every file of a save is written here, then fsync'ed;
#   out/ckpt-000120-ab12cd/  2. the folder is renamed to its final name (one rename);
#   out/checkpoint.json      3. the pointer {"dir": ..., "iter": ...} is replaced (one
#                               rename): THIS is the moment the new checkpoint exists;
#   out/model.safetensors    4. the top-level names are links (or copies) into the
#   out/config.json ...         current folder, for readers of the old flat layout;
#                            5. older checkpoint folders are deleted.
#
# A kill at any moment leaves checkpoint.json naming a complete folder: readers
# (resume, `sample`, GPT.from_pretrained) follow the pointer and check every file
# against the sha256 in the folder's manifest.json. One process writes a folder at a
# time: it holds out/.lock, a file with its PID, host and start time (RunLock).

POINTER = "checkpoint.json"
MANIFEST = "manifest.json"
LOCK = ".lock"
RUN_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "optimizer.safetensors",
    "train_state.json",
)


class CheckpointError(ValueError):
    """A run folder that cannot be used as it is (damaged, locked, inconsistent)."""


def _fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename inside `path` durable (a no-op where folders cannot be opened)."""
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


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync, then rename over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, +-inf) -> None, recursively: strict JSON only."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """json.load, with errors that name the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """One JSON value per line (metrics.jsonl); errors name the file and the line."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise CheckpointError(f"{path}, line {number}: not valid JSON: {exc}") from exc
    return rows


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_finite(arrays: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Refuse weights holding NaN or +-inf: a diverged run's checkpoint, not a model."""
    for name, arr in arrays.items():
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            bad = int(arr.size - np.isfinite(arr).sum())
            raise CheckpointError(
                f"{path}: {name} holds {bad} non-finite values (NaN or inf): the weights "
                "of a diverged run; use an earlier checkpoint"
            )


# ---- optimizer state: nested dicts/lists of arrays and numbers -> one safetensors file


def _split_state(obj: Any, prefix: str = "") -> tuple[dict[str, np.ndarray], Any]:
    """Optimizer state (nested dicts/lists with arrays) -> (flat arrays, JSON-able skeleton)."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return arrays, {"__array__": prefix}
    if isinstance(obj, dict):
        skel = {}
        for k, v in obj.items():
            a, skel[str(k)] = _split_state(v, f"{prefix}.{k}" if prefix else str(k))
            arrays.update(a)
        return arrays, {"__dict__": skel, "__intkeys__": all(isinstance(k, int) for k in obj)}
    if isinstance(obj, (list, tuple)):
        items = []
        for i, v in enumerate(obj):
            a, s = _split_state(v, f"{prefix}.{i}")
            arrays.update(a)
            items.append(s)
        return arrays, {"__list__": items}
    if isinstance(obj, (np.integer, np.floating)):
        obj = obj.item()
    return arrays, obj


def _join_state(skel: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(skel, dict) and "__array__" in skel:
        return arrays[skel["__array__"]]
    if isinstance(skel, dict) and "__dict__" in skel:
        conv = int if skel.get("__intkeys__") else str
        return {conv(k): _join_state(v, arrays) for k, v in skel["__dict__"].items()}
    if isinstance(skel, dict) and "__list__" in skel:
        return [_join_state(v, arrays) for v in skel["__list__"]]
    return skel


def save_optimizer_state(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """optimizer.state_dict() -> one safetensors file: the arrays as tensors, the rest
    (hyper-parameters, step counts, the nesting) as JSON in the header's metadata."""
    arrays, skeleton = _split_state(state)
    return save(arrays, path, metadata={"optimizer_state": json.dumps(skeleton)})


def load_optimizer_state(path: str | os.PathLike, skeleton: Any = None) -> dict[str, Any]:
    """The state dict save_optimizer_state wrote (ready for optimizer.load_state_dict).

    skeleton: for files of older versions, which kept it in train_state.json.
    """
    arrays = load(path)
    if skeleton is None:
        text = load_metadata(path).get("optimizer_state")
        if text is None:
            raise CheckpointError(f"{path}: no optimizer state in the header")
        skeleton = json.loads(text)
    return _join_state(skeleton, arrays)


# ---- the run folder


class RunLock:
    """out/.lock, naming the process that writes the folder: a second writer is refused.

    The lock holds {"pid", "host", "started"}: the process's PID, its machine and when it
    started (see _process_start_time). A PID alone is not enough: once a killed run's PID
    is given to an unrelated process, the lock would look held forever. So a lock of
    this machine is stale, and taken over, if its process is gone or if the process now
    bearing that PID started at another time. A lock of another machine (a folder on a
    shared filesystem) cannot be checked from here: it is refused, and the message says
    to delete it if that run is gone. Older lock files, holding only a PID, are read too
    (judged by the PID alone); an empty or damaged one is stale.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = os.path.join(folder, LOCK)
        self.held = False

    def acquire(self) -> None:
        me = _this_process()
        for _ in range(5):
            if _create_with(self.path, json.dumps(me) + "\n"):
                self.held = True
                return
            text = _read_text(self.path)
            if text is None:
                continue  # released meanwhile: try again
            holder = _parse_lock(text)
            if _is_live(holder, me):
                raise CheckpointError(_in_use_message(self.path, holder, me)) from None
            # stale: remove it, unless another process has just replaced it. (Two
            # processes taking over one stale lock at the same instant could still both
            # succeed: a lock made of files only narrows that window, it cannot close it.)
            if _read_text(self.path) == text:
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
        raise CheckpointError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            holder = _parse_lock(_read_text(self.path) or "")
            me = _this_process()
            if holder is not None and (holder["pid"], holder["host"]) == (me["pid"], me["host"]):
                os.remove(self.path)
        self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _this_process() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _process_start_time()}


def _process_start_time(pid: int | None = None) -> str | None:
    """When process `pid` (default: this one) started, as a string; None if unknown.

    Linux: field 22 of /proc/PID/stat, in clock ticks since boot; two processes that
    bear the same PID one after the other have different start times. (Field 2, the
    command name in parentheses, may hold spaces and ')': count after the last ')'.)
    macOS and Windows have no /proc: there the lock holds PID and host only, and a
    reused PID would look like the live run (delete the lock file by hand then).
    """
    try:
        with open(f"/proc/{os.getpid() if pid is None else pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _create_with(path: str, text: str) -> bool:
    """Create `path` holding `text` if it does not exist (True), atomically: a reader sees
    no file or the whole text. False if it exists already."""
    tmp = f"{path}.{os.urandom(3).hex()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    try:
        os.link(tmp, path)  # one step: fails if path exists
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:  # tmp removed by the lock holder's clean-up (remove_stale)
        return False
    except OSError:  # no hard links here (some network and FAT filesystems)
        try:  # create, then write: for an instant the file is empty (read as stale)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return True
    finally:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _parse_lock(text: str) -> dict[str, Any] | None:
    """{"pid", "host", "started"} from a lock file's text; None if damaged or empty.
    An older lock file holds only the PID: host and start time are then None."""
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    if isinstance(holder, int) and not isinstance(holder, bool):
        return {"pid": holder, "host": None, "started": None}  # the older format
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return None
    host, started = holder.get("host"), holder.get("started")
    return {
        "pid": holder["pid"],
        "host": host if isinstance(host, str) else None,
        "started": started if isinstance(started, str) else None,
    }


def _is_live(holder: dict[str, Any] | None, me: dict[str, Any]) -> bool:
    """Whether the lock's process may still be running (then it must not be taken over)."""
    if holder is None:
        return False  # empty or damaged: no process can be named
    if holder["host"] is not None and holder["host"] != me["host"]:
        return True  # another machine's process: cannot be checked from here
    if holder["pid"] == me["pid"]:
        return False  # left by this very process
    if not _alive(holder["pid"]):
        return False
    now = _process_start_time(holder["pid"])
    if holder["started"] is not None and now is not None and now != holder["started"]:
        return False  # the PID was given to another process since
    return True


def _in_use_message(path: str, holder: dict[str, Any], me: dict[str, Any]) -> str:
    folder = os.path.dirname(path) or "."
    if holder["host"] is not None and holder["host"] != me["host"]:
        return (
            f"{folder} is in use by another training run on host {holder['host']} "
            f"(PID {holder['pid']}, see {path}), which cannot be checked from "
            f"{me['host']}: if that run is gone, delete {path} and run again"
        )
    return (
        f"{folder} is in use by another training run (PID {holder['pid']}, see {path}): "
        "wait for it to finish, stop it, or use another --out"
    )


def _alive(pid: int) -> bool:
    """Whether a process with this PID exists (on this machine)."""
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def _alive_windows(pid: int) -> bool:
    """Windows: os.kill(pid, 0) would send Ctrl-C to a console process group, so ask
    for the process's exit code instead (STILL_ACTIVE while it runs). Not tested: the
    test machines run Linux."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: exists, someone else's
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return not ok or code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def published_checkpoint(folder: str | os.PathLike, verify: bool = True) -> str | None:
    """The folder holding the current checkpoint of a run folder, or None if it has none.

    A run folder written by train-gpt has checkpoint.json -> ckpt-NNNNNN-xxxxxx/ (every
    file checked against its manifest's sha256 when verify=True). A folder of the older
    flat layout (train_state.json beside model.safetensors) is returned as it is.
    """
    folder = str(folder)
    pointer = os.path.join(folder, POINTER)
    if os.path.isfile(pointer):
        info = read_json(pointer)
        name = info.get("dir") if isinstance(info, dict) else None
        if not isinstance(name, str) or os.sep in name or name.startswith("."):
            raise CheckpointError(f"{pointer}: no checkpoint folder named in it")
        ckpt = os.path.join(folder, name)
        if verify:
            verify_manifest(ckpt)
        return ckpt
    if os.path.isfile(os.path.join(folder, "train_state.json")):
        return folder
    return None


def current_checkpoint(folder: str | os.PathLike) -> tuple[int, str] | None:
    """(iteration, folder) of the checkpoint a run folder holds now, None if it has none.

    Read from checkpoint.json (or the older flat layout's train_state.json) without
    checking the files: for a message, such as the one after a Ctrl-C."""
    folder = str(folder)
    try:
        if os.path.isfile(os.path.join(folder, POINTER)):
            info = read_json(os.path.join(folder, POINTER))
            return int(info["iter"]), os.path.join(folder, info["dir"])
        if os.path.isfile(os.path.join(folder, "train_state.json")):
            return int(read_json(os.path.join(folder, "train_state.json"))["iter"]), folder
    except (CheckpointError, OSError, KeyError, TypeError, ValueError):
        pass  # unreadable: as good as none
    return None


def resolve_model_folder(folder: str | os.PathLike) -> str:
    """Where a model folder's files really are: its published checkpoint, or itself."""
    folder = str(folder)
    if os.path.isfile(os.path.join(folder, POINTER)):
        return published_checkpoint(folder) or folder
    return folder


def verify_manifest(ckpt: str) -> dict[str, Any]:
    manifest_path = os.path.join(ckpt, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise CheckpointError(f"{ckpt}: the checkpoint folder has no {MANIFEST}")
    manifest = read_json(manifest_path)
    for name, digest in manifest.get("files", {}).items():
        path = os.path.join(ckpt, name)
        if not os.path.isfile(path):
            raise CheckpointError(f"{path} is missing from the checkpoint")
        if sha256_file(path) != digest:
            raise CheckpointError(f"{path} does not match its sha256 in {manifest_path}")
    return manifest


def publish_checkpoint(folder: str, iteration: int, write: Any) -> str:
    """Save one checkpoint of a run atomically; returns its folder.

    write(tmp_folder) writes the files; they are fsync'ed, hashed into manifest.json,
    the folder is renamed into place, and checkpoint.json switched to it (the commit).
    """
    tmp = tempfile.mkdtemp(dir=folder, prefix=".tmp-ckpt-")
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0o700 would hide the files (0o644) from others
        write(tmp)
        files = {}
        for name in sorted(os.listdir(tmp)):
            path = os.path.join(tmp, name)
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            files[name] = sha256_file(path)
        write_json_atomic(os.path.join(tmp, MANIFEST), {"iter": iteration, "files": files})
        _fsync_dir(tmp)
        name = f"ckpt-{iteration:06d}-{os.urandom(3).hex()}"
        os.rename(tmp, os.path.join(folder, name))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(folder)
    write_json_atomic(os.path.join(folder, POINTER), {"dir": name, "iter": iteration})
    _fsync_dir(folder)
    ckpt = os.path.join(folder, name)
    link_top_level(folder, ckpt)
    remove_stale(folder)
    return ckpt


def link_top_level(folder: str, ckpt: str) -> None:
    """out/NAME -> ckpt/NAME for each file of the checkpoint (a symlink, or a copy where
    symlinks are not allowed), each switched by one rename."""
    for name in RUN_FILES:
        target = os.path.join(ckpt, name)
        if not os.path.isfile(target):
            continue
        top = os.path.join(folder, name)
        rel = os.path.join(os.path.basename(ckpt), name)
        if os.path.islink(top) and os.readlink(top) == rel:
            continue
        tmp = os.path.join(folder, f".{name}.{os.urandom(3).hex()}.tmp")
        try:
            os.symlink(rel, tmp)
        except (OSError, NotImplementedError):
            shutil.copyfile(target, tmp)
        os.replace(tmp, top)


def remove_stale(folder: str) -> None:
    """Delete what a killed run leaves: temporary files and folders, and checkpoint
    folders that checkpoint.json no longer names. Call only while holding the lock.

    The top-level links are switched to the current checkpoint first: a kill between the
    commit and step 4 leaves them pointing into the previous folder, deleted here."""
    current = None
    pointer = os.path.join(folder, POINTER)
    if os.path.isfile(pointer):
        try:
            current = read_json(pointer).get("dir")
        except (CheckpointError, AttributeError):
            return  # leave everything for a human to look at
        if not isinstance(current, str) or not os.path.isdir(os.path.join(folder, current)):
            return  # names nothing usable: the same
        link_top_level(folder, os.path.join(folder, current))
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if entry.startswith(".tmp-ckpt-") or (entry.startswith(".") and entry.endswith(".tmp")):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass  # gone meanwhile: another run's .lock.*.tmp, refused the lock
        elif entry.startswith("ckpt-") and entry != current and current is not None:
            shutil.rmtree(path, ignore_errors=True)
