"""tinygrad_edu.nn: layers built on Tensor (see functional.py for the functions)."""

from . import functional

__all__ = ["functional"]
