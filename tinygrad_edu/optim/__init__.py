"""tinygrad_edu.optim: optimizers and learning-rate schedules.

optimizers.py    SGD (with momentum, weight decay), Adam, AdamW
lr_scheduler.py  StepLR, CosineAnnealingLR, LambdaLR, warm-up + cosine
"""

from . import lr_scheduler
from .lr_scheduler import warmup_cosine
from .optimizers import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "warmup_cosine"]
