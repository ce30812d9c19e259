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
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import fsync_dir, is_temp_name, temp_name, write_bytes_atomic, write_text_atomic
from .tensor import Tensor

INSTALL_HINT = "pip install safetensors  (a dependency: reinstalling tinygrad_edu brings it)"


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
    # the whole file, as bytes; written under a temporary name, then renamed (fileio.py)
    write_bytes_atomic(path, st.save(tensors, metadata=metadata))
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


# ---- what a weights file holds, read from its header alone

FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")  # safetensors' names of floating-point types


def read_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) of each tensor of a safetensors file, from its header only
    (the 8-byte length, then JSON): what the file holds, before any array is read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or length > size - 8:
                raise ValueError(f"a header of {length} bytes in a file of {size}")
            header = json.loads(f.read(length))
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype, shape = info["dtype"], tuple(info["shape"])
            if not isinstance(dtype, str) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise ValueError(f"tensor {name!r} has dtype {dtype!r}, shape {shape!r}")
            tensors[name] = (dtype, shape)
        return tensors
    except RecursionError:
        raise CheckpointError(f"{path}: its header's JSON is nested too deep") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors file ({exc})") from exc


def check_gpt_weights(path: str | os.PathLike, config: dict[str, Any], config_path: str) -> None:
    """Refuse, before anything is allocated, a weights file that is not the GPT `config`
    describes: non-float tensors (int8 or complex weights would be cast into garbage), and
    sizes the config gives that the weights do not have (n_embd 4096 beside 32-wide
    weights would allocate a model far larger than the file, then fail to load it)."""
    header = read_header(path)
    for name, (dtype, _) in header.items():
        if name.split(".")[-2:] in (["attn", "bias"], ["attn", "masked_bias"]):
            continue  # GPT-2's causal-mask buffers (not c_attn.bias): not loaded
        if dtype not in FLOAT_DTYPES:
            raise CheckpointError(
                f"{path}: {name} holds {dtype} values, not floating-point weights "
                f"({', '.join(FLOAT_DTYPES)}): refused"
            )

    def named(key: str) -> str | None:  # our files and transformers': transformer.wte...
        return next((n for n in (f"transformer.{key}", key) if n in header), None)

    n_embd = config.get("n_embd")
    wants = {
        "wte.weight": (("vocab_size", config.get("vocab_size")), ("n_embd", n_embd)),
        "wpe.weight": (("block_size", config.get("block_size")), ("n_embd", n_embd)),
    }
    for key, want in wants.items():
        name = named(key)
        if name is None:
            raise CheckpointError(f"{path} has no {key}: not the weights of a GPT")
        if header[name][1] != tuple(v for _, v in want):
            said = ", ".join(f"{k} {v!r}" for k, v in want)
            raise CheckpointError(
                f"{config_path} gives {said}, but {path} holds {name} of shape "
                f"{list(header[name][1])}: the config does not describe these weights"
            )
    n_layer = config.get("n_layer")
    block = re.compile(r"(?:transformer\.)?h\.(\d+)\.")  # h.3.attn... -> block 3
    blocks = {int(m[1]) for m in map(block.match, header) if m}
    # the count first: a hostile n_layer (2**63) must not build range(n_layer)
    if not isinstance(n_layer, int) or len(blocks) != n_layer or blocks != set(range(n_layer)):
        raise CheckpointError(
            f"{config_path} gives n_layer {config.get('n_layer')!r}, but {path} holds "
            f"{len(blocks)} blocks: the config does not describe these weights"
        )


# --- A training run's folder: one checkpoint = one atomic unit -----------------------
#
# A training checkpoint is several files (weights, optimizer state, tokenizer, config,
# the loop's own state). Written one after another into the run folder, a kill between
# two writes leaves a mix: weights of iteration N beside an optimizer of N - 1. So:
#
#   out/.tmp-ckpt-ab12cd/    1. every file of a save is written here, then fsync'ed;
#   out/ckpt-000120-ab12cd/  2. the folder is renamed to its final name (one rename);
#   out/checkpoint.json      3. the pointer {"dir": ..., "iter": ...} is replaced (one
#                               rename): THIS is the moment the new checkpoint exists;
#   out/model.safetensors    4. the top-level names are links (or copies) into the
#   out/config.json ...         current folder, each replaced in one rename;
#                            5. older checkpoint folders of this run are deleted.
#
# A kill at any moment leaves checkpoint.json naming a complete folder: readers
# (resume, `sample`, GPT.from_pretrained) follow the pointer and check every file
# against the sha256 in the folder's manifest.json. One process writes a folder at a
# time: it holds out/.lock, a file with its PID, host and start time (RunLock).
#
# The folder is the user's too: `--out .` may hold their own files, some with names like
# ours (`ckpt-best-keep/`, `.draft.tmp`). So the tool deletes only what it made itself:
# every name it is about to create is first appended to out/.tinygrad_edu-made.jsonl (the
# run's record), and the clean-up (step 5, or after a kill) deletes a name only if it has
# the exact form the tool gives (CHECKPOINT_NAME, TEMP_FOLDER_NAME, fileio.TEMP_NAME)
# AND the record lists it. A pointer or manifest naming anything else is refused before
# anything is touched.

POINTER = "checkpoint.json"
MANIFEST = "manifest.json"
LOCK = ".lock"
RECORD = ".tinygrad_edu-made.jsonl"
METRICS = "metrics.jsonl"
RUN_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "optimizer.safetensors",
    "train_state.json",
)
CHECKPOINT_NAME = re.compile(r"ckpt-(?P<iter>\d{6,})-[0-9a-f]{6}")
TEMP_FOLDER_NAME = re.compile(r"\.tmp-ckpt-[0-9a-f]{6}")


class CheckpointError(ValueError):
    """A run folder that cannot be used as it is (damaged, locked, inconsistent)."""


def json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, +-inf) -> None, recursively: strict JSON only."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json_atomic(path: str | os.PathLike, obj: Any, tmp: str | None = None) -> None:
    """Replace the file (or link) at `path` by `obj` as strict JSON, in one rename (fileio)."""
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n"
    write_text_atomic(path, text, tmp)


def read_json(path: str | os.PathLike) -> Any:
    """json.load, with errors that name the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise CheckpointError(f"{path}: its JSON is nested too deep") from None


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """One JSON value per line (metrics.jsonl); errors name the file and the line."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except (json.JSONDecodeError, RecursionError) as exc:
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


def load_optimizer_state(path: str | os.PathLike) -> dict[str, Any]:
    """The state dict save_optimizer_state wrote (ready for optimizer.load_state_dict)."""
    arrays = load(path)
    text = load_metadata(path).get("optimizer_state")
    if text is None:
        raise CheckpointError(f"{path}: no optimizer state in the header")
    return _join_state(json.loads(text), arrays)


# ---- the run folder


class RunLock:
    """out/.lock, naming the process that writes the folder: a second writer is refused.

    The lock holds {"pid", "host", "started"}: the process's PID, its machine and when it
    started (see _process_start_time). A PID alone is not enough: once a killed run's PID
    is given to an unrelated process, the lock would look held forever. So a lock of
    this machine is stale, and taken over, if its process is gone or if the process now
    bearing that PID started at another time. A lock of another machine (a folder on a
    shared filesystem) cannot be checked from here: it is refused, and the message says
    to delete it if that run is gone. An empty lock file is stale (a run killed as it
    made it); anything else is not a lock of this tool, and is refused, left as it is.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = os.path.join(folder, LOCK)
        self.held = False

    def acquire(self) -> None:
        me = _this_process()
        for _ in range(5):
            text = _read_lock(self.path)  # judged first: nothing is made beside a foreign one
            if text is None:
                if _create_with(self.path, json.dumps(me) + "\n"):
                    self.held = True
                    return
                continue  # made by another run meanwhile: judge it
            holder = _parse_lock(text)
            if holder is None and text.strip():
                raise CheckpointError(
                    f"{self.path} is not a lock file of this tool: left as it is; if no "
                    "training run uses the folder, delete it (or use another --out)"
                )
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
    folder, name = os.path.split(path)
    # recorded first: a kill before the clean-up leaves a name that is ours to delete
    tmp = os.path.join(folder, recorded_temp_name(folder, name))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
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


def _read_lock(path: str) -> str | None:
    """The lock file's text (None: there is none); a link or folder there is refused."""
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
        raise CheckpointError(f"{path} is not a lock file of this tool (a link or a folder)")
    return _read_text(path)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _parse_lock(text: str) -> dict[str, Any] | None:
    """{"pid", "host", "started"} from a lock file's text; None if damaged or empty."""
    try:
        holder = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(holder, dict) or set(holder) != {"pid", "host", "started"}:
        return None
    if not isinstance(holder["pid"], int) or isinstance(holder["pid"], bool) or holder["pid"] < 1:
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


# ---- the run's record: the names the tool made in the folder


def record_names(folder: str, names: list[str]) -> None:
    """Append `names` to the folder's record, before they exist: a kill at any moment
    leaves only recorded names behind, which the next clean-up may delete."""
    line = json.dumps({"made": names}) + "\n"
    _check_record(folder)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(os.path.join(folder, RECORD), flags, 0o644)
    except OSError as exc:  # a link planted there is not followed (ELOOP)
        raise CheckpointError(f"cannot write {os.path.join(folder, RECORD)}: {exc}") from exc
    try:
        os.write(fd, line.encode("utf-8"))  # one write with O_APPEND: lines never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_record(folder: str) -> None:
    """Refuse a file at the record's name that the tool did not write (never append to it)."""
    path = os.path.join(folder, RECORD)
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isfile(path):
        raise CheckpointError(f"{path} is not a record of this tool (a link or a folder)")
    with open(path, "rb") as f:
        start = f.read(len(b'{"made": ['))
    if start and start != b'{"made": [':
        raise CheckpointError(f"{path} is not a record of this tool: left as it is")


def recorded_names(folder: str) -> set[str]:
    """Every name the record says the tool made in `folder` (none if it has no record).
    A line cut short by a kill is skipped: its names were not made yet."""
    path = os.path.join(folder, RECORD)
    if os.path.islink(path) or not os.path.isfile(path):
        return set()
    names: set[str] = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                made = json.loads(line).get("made")
            except (ValueError, AttributeError, RecursionError):
                continue
            if isinstance(made, list):
                names.update(n for n in made if isinstance(n, str))
    return names


def _fresh(folder: str, make) -> str:
    """A name from make() that nothing in `folder` has: recorded, it will be the tool's."""
    name = make()
    while os.path.lexists(os.path.join(folder, name)):
        name = make()
    return name


def recorded_temp_name(folder: str, target: str) -> str:
    """A temporary name for writing folder/target, recorded before the file exists: a
    signal between its creation and its rename (write_text_atomic removes it otherwise)
    leaves a name the next clean-up of the folder may delete."""
    tmp = _fresh(folder, lambda: temp_name(target))
    record_names(folder, [tmp])
    return tmp


def _ours_to_delete(name: str, current: str | None) -> bool:
    """Whether `name` has the exact form of a name the tool makes and may delete later:
    a temporary file or folder, or a checkpoint folder other than the current one."""
    if is_temp_name(name) or TEMP_FOLDER_NAME.fullmatch(name):
        return True
    return current is not None and name != current and CHECKPOINT_NAME.fullmatch(name) is not None


def _remove_ours(path: str) -> None:
    """Delete a file of ours, or a folder of ours with the files the tool writes in it. A
    folder that holds anything else (someone put it there) is left, with that."""
    try:
        if not os.path.isdir(path) or os.path.islink(path):
            os.remove(path)  # a file, or a link itself (never what it points at)
            return
        for name in os.listdir(path):
            inner = os.path.join(path, name)
            ours = name in RUN_FILES or name == MANIFEST or is_temp_name(name)
            if ours and (os.path.islink(inner) or not os.path.isdir(inner)):
                os.remove(inner)
        os.rmdir(path)
    except FileNotFoundError:
        pass  # gone meanwhile: another run's lock temporary, refused the lock
    except OSError:
        pass  # not empty: it holds files that are not ours


# ---- reading the run folder: every name checked before it is used


def checkpoint_name(folder: str | os.PathLike) -> str | None:
    """The checkpoint folder named by folder/checkpoint.json (None: there is none).

    A pointer that is a link, not JSON, or names anything but a folder of the exact form
    ckpt-NNNNNN-xxxxxx (NNNNNN = its iteration) is refused with CheckpointError: `""`,
    `"../x"` or `"ckpt-000020-xxxxxx/"` in a damaged file must never be followed, nor
    taken as "no checkpoint" by a clean-up.
    """
    pointer = os.path.join(str(folder), POINTER)
    if not os.path.lexists(pointer):
        return None
    if os.path.islink(pointer) or not os.path.isfile(pointer):
        raise CheckpointError(f"{pointer} is not a file of this tool (a link or a folder)")
    info = read_json(pointer)
    name = info.get("dir") if isinstance(info, dict) else None
    it = info.get("iter") if isinstance(info, dict) else None
    match = CHECKPOINT_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None or not isinstance(it, int) or int(match["iter"]) != it:
        raise CheckpointError(
            f"{pointer} names {name!r} at iteration {it!r}, not a checkpoint folder of this "
            "tool (ckpt-NNNNNN-xxxxxx): the file is damaged; nothing was changed"
        )
    return name


def published_checkpoint(folder: str | os.PathLike, verify: bool = True) -> str | None:
    """The folder holding the current checkpoint of a run folder, or None if it has none.

    A run folder written by train-gpt has checkpoint.json -> ckpt-NNNNNN-xxxxxx/ (every
    file checked against its manifest's sha256 when verify=True).
    """
    name = checkpoint_name(folder)
    if name is None:
        return None
    ckpt = os.path.join(str(folder), name)
    if os.path.islink(ckpt) or not os.path.isdir(ckpt):
        raise CheckpointError(f"{os.path.join(str(folder), POINTER)} names {name}, not there")
    if verify:
        verify_manifest(ckpt)
    else:
        read_manifest(ckpt)  # its names checked, at least (cheap: no file is hashed)
    return ckpt


def current_checkpoint(folder: str | os.PathLike) -> tuple[int, str] | None:
    """(iteration, folder) of the checkpoint a run folder holds now, None if it has none.

    Read from checkpoint.json without checking the files: for a message, such as the
    one after a Ctrl-C."""
    try:
        name = checkpoint_name(folder)
    except (CheckpointError, OSError):
        return None  # unreadable: as good as none
    if name is None:
        return None
    return int(CHECKPOINT_NAME.fullmatch(name)["iter"]), os.path.join(str(folder), name)


def resolve_model_folder(folder: str | os.PathLike) -> str:
    """Where a model folder's files really are: its published checkpoint, or itself."""
    return published_checkpoint(folder) or str(folder)


def read_manifest(ckpt: str) -> dict[str, Any]:
    """A checkpoint folder's manifest.json: {"iter", "files": name -> sha256}. One naming anything
    but the files a checkpoint holds (RUN_FILES, no folder in the name: `../../etc/passwd`
    is never opened) is refused."""
    manifest_path = os.path.join(ckpt, MANIFEST)
    if not os.path.isfile(manifest_path) or os.path.islink(manifest_path):
        raise CheckpointError(f"{ckpt}: the checkpoint folder has no {MANIFEST}")
    manifest = read_json(manifest_path)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise CheckpointError(f"{manifest_path}: no list of files in it")
    for name, digest in files.items():
        if name not in RUN_FILES or not isinstance(digest, str):
            raise CheckpointError(
                f"{manifest_path} names {name!r}, not a file of a checkpoint "
                f"({', '.join(RUN_FILES)}): refused"
            )
    return manifest


def verify_manifest(ckpt: str) -> dict[str, Any]:
    """Check every file of a checkpoint folder against its manifest's sha256."""
    manifest_path = os.path.join(ckpt, MANIFEST)
    manifest = read_manifest(ckpt)
    for name, digest in manifest["files"].items():
        path = os.path.join(ckpt, name)
        if os.path.islink(path) or not os.path.isfile(path):
            raise CheckpointError(f"{path} is missing from the checkpoint")
        if sha256_file(path) != digest:
            raise CheckpointError(f"{path} does not match its sha256 in {manifest_path}")
    return manifest


# ---- what a folder holds: the writers refuse another kind of run's files


def folder_holds(folder: str | os.PathLike) -> str | None:
    """What a folder holds, in words, judged by the names the tools write (None: none of
    them). "a train-gpt run", "a train-mnist model", "a GPT model", "an older train-gpt
    run", or "files not made by this tool" - each with the names found."""
    folder = str(folder)
    names = [n for n in (POINTER, *RUN_FILES, METRICS) if os.path.lexists(os.path.join(folder, n))]
    if not names:
        return None
    found = f"({', '.join(names)})"
    if POINTER in names:
        return f"a train-gpt run {found}"
    config = os.path.join(folder, "config.json")
    try:
        info = read_json(config) if os.path.isfile(config) else {}  # (reading: harmless)
    except (CheckpointError, OSError):
        info = {}
    info = info if isinstance(info, dict) else {}
    if "sizes" in info and "activation" in info:
        return f"a train-mnist model {found}"
    if "train_state.json" in names:
        return f"an older train-gpt run (before {POINTER}) {found}"
    if info.get("model_type") in ("tinygrad_edu_gpt", "gpt2") or "n_positions" in info:
        return f"a GPT model {found}"
    return f"files not made by this tool {found}"


def check_run_folder(folder: str, verify: bool = True) -> str | None:
    """Refuse, before anything is touched, a folder train-gpt must not write into; returns
    its published checkpoint (verified), None if it has none.

    train-gpt replaces the top-level names checkpoint.json, RUN_FILES and metrics.jsonl:
    they must be absent, or be a train-gpt run's whose top-level files are its own (a
    link ckpt-NNNNNN-xxxxxx/NAME, or a copy of the file of one of its checkpoints)."""
    _check_record(folder)
    holds = folder_holds(folder)
    if holds is not None and not holds.startswith("a train-gpt run"):
        raise CheckpointError(
            f"{folder} holds {holds}, not a train-gpt run: nothing was changed; use another --out"
        )
    ckpt = published_checkpoint(folder, verify)
    if ckpt is None:
        return None
    for name in RUN_FILES:
        top = os.path.join(folder, name)
        if not os.path.lexists(top):
            continue
        if os.path.islink(top):
            target = os.readlink(top)
            head, tail = os.path.split(target)
            if tail == name and CHECKPOINT_NAME.fullmatch(head):
                continue
        elif os.path.isfile(top):  # where links are not allowed: a copy of the current
            # checkpoint's file, or of an earlier one of the run's (a kill came mid-way)
            names = {n for n in recorded_names(folder) if CHECKPOINT_NAME.fullmatch(n)}
            copies = [os.path.join(folder, n, name) for n in {os.path.basename(ckpt), *names}]
            digest = sha256_file(top)
            if any(os.path.isfile(c) and sha256_file(c) == digest for c in copies):
                continue
        raise CheckpointError(
            f"{top} is not the run's own (a link into a checkpoint folder, or a copy of a "
            "checkpoint's file): nothing was changed; use another --out"
        )
    return ckpt


def save_model_folder(
    folder: str | os.PathLike,
    config: dict[str, Any],
    state_dict: Any,
    kind: str,
    metadata: dict[str, str] | None = None,
) -> None:
    """folder/model.safetensors + folder/config.json, each replaced in one rename (a link
    there is replaced, never written through). kind: what the folder holds, in
    folder_holds's words ("a GPT model", "a train-mnist model"); a folder holding anything
    else under those two names (a train-gpt run, the other kind of model) is refused
    before anything is written."""
    folder = str(folder)
    holds = folder_holds(folder)
    ours = holds is None or holds.startswith(kind)
    if not ours and holds.startswith("files not made by this tool"):
        ours = not any(
            os.path.lexists(os.path.join(folder, n)) for n in ("config.json", "model.safetensors")
        )
    if not ours:
        raise CheckpointError(
            f"{folder} holds {holds}: saving {kind} there would replace its files; "
            "nothing was changed; save into another folder"
        )
    os.makedirs(folder, exist_ok=True)
    save(state_dict, os.path.join(folder, "model.safetensors"), metadata=metadata)
    write_json_atomic(os.path.join(folder, "config.json"), config)


# ---- writing the run folder


def publish_checkpoint(folder: str, iteration: int, write: Any) -> str:
    """Save one checkpoint of a run atomically; returns its folder.

    write(tmp_folder) writes the files; they are fsync'ed, hashed into manifest.json,
    the folder is renamed into place, and checkpoint.json switched to it (the commit).
    Every name made on the way is recorded first (record_names).
    """
    # names nothing in the folder has: never a rename over a folder already there
    tmp = _fresh(folder, lambda: f".tmp-ckpt-{os.urandom(3).hex()}")
    name = _fresh(folder, lambda: f"ckpt-{iteration:06d}-{os.urandom(3).hex()}")
    pointer_tmp = _fresh(folder, lambda: temp_name(POINTER))
    link_tmps = {n: _fresh(folder, lambda n=n: temp_name(n)) for n in RUN_FILES}
    record_names(folder, [tmp, name, pointer_tmp, *link_tmps.values()])
    tmp = os.path.join(folder, tmp)
    os.mkdir(tmp)
    try:
        os.chmod(tmp, 0o755)  # readable by others, as the files (0o644) are
        write(tmp)
        files = {}
        for entry in sorted(os.listdir(tmp)):
            path = os.path.join(tmp, entry)
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            files[entry] = sha256_file(path)
        write_json_atomic(os.path.join(tmp, MANIFEST), {"iter": iteration, "files": files})
        fsync_dir(tmp)
        os.rename(tmp, os.path.join(folder, name))
    except BaseException:
        _remove_ours(tmp)
        raise
    fsync_dir(folder)
    write_json_atomic(os.path.join(folder, POINTER), {"dir": name, "iter": iteration}, pointer_tmp)
    fsync_dir(folder)
    ckpt = os.path.join(folder, name)
    link_top_level(folder, ckpt, link_tmps)
    remove_stale(folder)
    return ckpt


def link_top_level(folder: str, ckpt: str, tmps: dict[str, str] | None = None) -> None:
    """out/NAME -> ckpt/NAME for each file of the checkpoint (a symlink, or a copy where
    symlinks are not allowed), each switched by one rename: a link or file at out/NAME is
    replaced, never written through. tmps: the temporary names, recorded already."""
    if tmps is None:
        tmps = {n: _fresh(folder, lambda n=n: temp_name(n)) for n in RUN_FILES}
        record_names(folder, list(tmps.values()))
    for name in RUN_FILES:
        target = os.path.join(ckpt, name)
        if not os.path.isfile(target):
            continue
        top = os.path.join(folder, name)
        rel = os.path.join(os.path.basename(ckpt), name)
        if os.path.islink(top) and os.readlink(top) == rel:
            continue
        if os.path.isdir(top) and not os.path.islink(top):
            raise CheckpointError(f"{top} is a folder: not replaced by the checkpoint's file")
        tmp = os.path.join(folder, tmps[name])
        try:
            os.symlink(rel, tmp)
        except (OSError, NotImplementedError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as dst, open(target, "rb") as src:
                shutil.copyfileobj(src, dst)
        os.replace(tmp, top)


def remove_stale(folder: str) -> None:
    """Delete what this tool made in `folder` and no longer needs: temporary files and
    folders a killed run left, and checkpoint folders checkpoint.json no longer names.
    Only names of the exact forms the tool makes AND listed in the run's record; a
    damaged checkpoint.json is refused (CheckpointError) before anything is touched.
    Call only while holding the lock.

    The top-level links are switched to the current checkpoint first: a kill between the
    commit and step 4 leaves them pointing into the previous folder, deleted here."""
    current = checkpoint_name(folder)
    if current is not None:
        ckpt = os.path.join(folder, current)
        if os.path.islink(ckpt) or not os.path.isdir(ckpt):
            return  # names nothing there: leave everything for a human to look at
        link_top_level(folder, ckpt)
    made = recorded_names(folder)
    for name in sorted(made):
        path = os.path.join(folder, name)
        if _ours_to_delete(name, current) and os.path.lexists(path):
            _remove_ours(path)
    record = os.path.join(folder, RECORD)
    if os.path.isfile(record) and os.path.getsize(record) > 1 << 16:  # keep it short
        kept = sorted(n for n in made if os.path.lexists(os.path.join(folder, n)))
        write_text_atomic(
            record, json.dumps({"made": kept}) + "\n", recorded_temp_name(folder, RECORD)
        )


def remove_run(folder: str) -> None:
    """Delete a train-gpt run folder's files: only those the tool made (its record, the
    top-level names while they are its own, its pointer, metrics and lock); the folder
    itself if then empty. Anything else is left where it is."""
    check_run_folder(folder, verify=False)  # refuses a folder that is not a run's
    if folder_holds(folder) is None and not os.path.lexists(os.path.join(folder, RECORD)):
        return  # nothing of a run's here
    with RunLock(folder):
        made = recorded_names(folder)
        current = checkpoint_name(folder)
        for name in sorted(made):
            if CHECKPOINT_NAME.fullmatch(name) or _ours_to_delete(name, current):
                if os.path.lexists(os.path.join(folder, name)):
                    _remove_ours(os.path.join(folder, name))
        for name in (*RUN_FILES, POINTER, METRICS):
            path = os.path.join(folder, name)
            if os.path.islink(path) or (os.path.isfile(path) and current is not None):
                os.remove(path)
        _remove_ours(os.path.join(folder, RECORD))
    try:
        os.rmdir(folder)
    except OSError:
        pass  # holds other files: left
