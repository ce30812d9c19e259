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

import os
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
