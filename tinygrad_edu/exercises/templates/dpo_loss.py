"""Exercise `dpo_loss` -- lesson 9, tutorials/09_rlhf.py

Idea: direct preference optimisation trains the policy straight on preference pairs
(a chosen and a rejected completion of one prompt), with no reward model: it makes
the chosen completion more likely and the rejected one less likely, each measured
against the frozen reference model, so the policy cannot drift far.

Math: margin = beta * [(pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)]
      loss = mean over the batch of -log sigmoid(margin)
      -log sigmoid(z) = log(1 + e^-z)

Shapes: the four arguments are (B,) arrays of sequence log-probabilities (log pi(y) of
each completion under the policy and under the reference); beta a float. Returns a float.

Hint: with a margin of -2000, e^2000 overflows; np.logaddexp(0, -z) is log(1 + e^-z)
computed safely.

Answer: `dpo_loss` and `log_sigmoid` in tinygrad_edu/rlhf.py (read them after trying).
Check: tinygrad-edu exercises check . dpo_loss   (from this folder)
"""

from __future__ import annotations

import numpy as np


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float) -> float:
    """The mean DPO loss of a batch of preference pairs."""
    raise NotImplementedError
