from __future__ import annotations


def gradient_descent_step(w: float, b: float, xs: list, ys: list, lr: float) -> tuple:
    """One step downhill on the mean squared error of the line w * x + b: (w_new, b_new)."""
    n = len(xs)
    dw = db = 0.0
    for x, y in zip(xs, ys):
        error = w * x + b - y  # d(error^2)/d(error) = 2 * error
        dw += 2.0 * error * x / n
        db += 2.0 * error / n
    return w - lr * dw, b - lr * db
