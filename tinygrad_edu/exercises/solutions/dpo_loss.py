from __future__ import annotations

import numpy as np


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float) -> float:
    """The mean DPO loss of a batch of preference pairs."""
    chosen = np.asarray(policy_chosen) - np.asarray(ref_chosen)
    rejected = np.asarray(policy_rejected) - np.asarray(ref_rejected)
    margin = beta * (chosen - rejected)
    return float(np.mean(np.logaddexp(0.0, -margin)))  # -log sigmoid(z) = log(1 + e^-z)
