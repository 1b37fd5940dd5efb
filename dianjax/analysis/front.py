"""Pareto fronts (non-dominated sets) and the 2-D hypervolume; numpy only, cheap to import.

Row ``a`` dominates row ``b`` if it is at least as good in every objective and strictly better in
one. Equal rows do not dominate each other: every copy of a non-dominated point is on the front.

Hypervolume (Zitzler & Thiele, 1998): the area of the region of the (accuracy, cost) plane that the
front dominates and that is bounded by a reference point ``(accuracy_ref, cost_ref)``:
``{(a, c): accuracy_ref <= a <= a_i and c_i <= c <= cost_ref for some front point i}``. Its unit is
accuracy x cost unit (pJ s for EDP); with ``log_cost`` the cost axis is ``log10(cost)`` and the unit
is accuracy x decades. Points not strictly better than the reference in both objectives add nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Reference(NamedTuple):
    """The reference point of a hypervolume: the worst accuracy and the worst cost that count."""

    accuracy: float
    cost: float


def pareto_front(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Indices of the non-dominated rows of ``values (N, K)``, in increasing order.

    Better is larger where ``maximize[k]``, smaller otherwise.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 2 or values.shape[1] != len(maximize):
        raise ValueError(f"pareto_front: values must be (N, {len(maximize)}), got {values.shape}")
    gains = np.where(np.asarray(maximize, bool), values, -values)
    no_worse = (gains[:, None, :] >= gains[None, :, :]).all(-1)
    better = (gains[:, None, :] > gains[None, :, :]).any(-1)
    dominated = (no_worse & better).any(axis=0)
    return np.flatnonzero(~dominated)


def front_indices(accuracy: Sequence[float], cost: Sequence[float]) -> np.ndarray:
    """Indices of the non-dominated (accuracy max, cost min) points, in increasing order.

    O(M log M) (sorted by cost, then a running best accuracy), so it takes millions of points; equal
    to :func:`pareto_front` with ``maximize=[True, False]`` (tests check it).
    """
    accuracy, cost = _points(accuracy, cost)
    if not accuracy.size:
        return np.zeros(0, np.int64)
    order = np.lexsort((-accuracy, cost))           # cost ascending, accuracy descending
    acc, cst = accuracy[order], cost[order]
    starts = np.r_[True, cst[1:] != cst[:-1]]        # first (most accurate) point of each cost
    group = np.cumsum(starts) - 1
    best_of_group = acc[starts]
    best_before = np.r_[-np.inf, np.maximum.accumulate(best_of_group)[:-1]]
    keep = (acc == best_of_group[group]) & (best_of_group[group] > best_before[group])
    return np.sort(order[keep])


def _points(accuracy, cost) -> tuple[np.ndarray, np.ndarray]:
    accuracy = np.asarray(accuracy, np.float64).reshape(-1)
    cost = np.asarray(cost, np.float64).reshape(-1)
    if accuracy.shape != cost.shape:
        raise ValueError(f"accuracy and cost must have the same length, got {accuracy.size} and "
                         f"{cost.size}")
    if not (np.isfinite(accuracy).all() and np.isfinite(cost).all()):
        raise ValueError("accuracy and cost must be finite numbers")
    return accuracy, cost


def hypervolume_2d(accuracy: Sequence[float], cost: Sequence[float], reference: Reference,
                   log_cost: bool = False) -> float:
    """Area dominated by the (accuracy max, cost min) points and bounded by ``reference``.

    Args:
      accuracy, cost: one value per point.
      reference: the reference point; only points with accuracy > ``reference.accuracy`` and cost
        < ``reference.cost`` contribute.
      log_cost: measure the cost axis in decades (``log10``); costs and reference must be > 0.

    Returns:
      The area, in accuracy x cost (or accuracy x decades with ``log_cost``).
    """
    accuracy, cost = _points(accuracy, cost)
    ref_accuracy, ref_cost = float(reference.accuracy), float(reference.cost)
    if log_cost:
        if (cost <= 0).any() or ref_cost <= 0:
            raise ValueError(f"log_cost needs costs > 0 and reference.cost > 0, got min cost "
                             f"{cost.min() if cost.size else None} and reference.cost {ref_cost}")
        cost, ref_cost = np.log10(cost), math.log10(ref_cost)
    keep = (accuracy > ref_accuracy) & (cost < ref_cost)
    accuracy, cost = accuracy[keep], cost[keep]
    if not accuracy.size:
        return 0.0
    front = front_indices(accuracy, cost)
    order = front[np.lexsort((accuracy[front], cost[front]))]  # cost ascending: accuracy ascending
    steps = np.diff(np.concatenate([[ref_accuracy], accuracy[order]]))
    return float(np.sum(steps * (ref_cost - cost[order])))
