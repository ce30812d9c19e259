"""Models built from tinygrad_edu.nn: the GPT (gpt.py) and its checkpoint loaders (hf.py)."""

from .gpt import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig"]
