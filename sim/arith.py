"""The few operations the closed forms use, on Python scalars or numpy arrays alike.

Each one takes Python numbers (the fast scalar path ``simulate_layer`` runs on) or equally-shaped
numpy arrays (a whole design sweep at once), and maps one to one onto ``jax.numpy``:
``ceil_div`` -> ``-(-a // b)``, ``select`` -> ``jnp.where``, ``maximum`` -> ``jnp.maximum``,
``ceil`` -> ``jnp.ceil``.
"""

from __future__ import annotations

import math

import numpy as np


def ceil_div(a, b):
    """ceil(a / b) for positive integers (or integer arrays), in integer arithmetic."""
    return -(-a // b)


def select(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false``."""
    if isinstance(condition, bool):
        return if_true if condition else if_false
    return np.where(condition, if_true, if_false)


def maximum(a, b):
    """Elementwise maximum."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b)
    return np.maximum(a, b)


def ceil(x):
    """Smallest integer >= x, as an integer (an int64 array for arrays)."""
    if isinstance(x, float):
        return math.ceil(x)
    return np.ceil(x).astype(np.int64)
