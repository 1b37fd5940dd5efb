"""Hardware objectives by name, normalized by a reference so that lambda means the same everywhere.

Metrics (fields of :class:`Metrics`, and keys of :func:`dianjax.cost.systolic.network_cost`):
``latency_s`` (s), ``energy_pj`` (pJ), ``area_mm2`` (mm^2), ``edp_pj_s`` (energy x delay, pJ s)
and ``edap_pj_s_mm2`` (energy x delay x area, pJ s mm^2): every metric carries its unit. An objective is one metric by name (``"latency"``,
``"energy"``, ``"edp"``, ``"edap"``, ``"area"``) or a weighted sum ``{name: weight}``.

Normalization: every metric is divided by the same metric of a *reference* (by default
:func:`dianjax.cost.relaxed.reference_metrics`: the expected cost of the supernet with uniform op
probabilities on the hardware space with uniform logits), and weights are divided by their sum:

    objective = sum_m w_m * metric_m / reference_m / sum_m w_m

so the objective is 1 at the reference for every choice of metric, network and hardware space,
and a trade-off ``task_loss + lambda * objective`` keeps its meaning across them. The objective is
linear in the metrics, so the objective of expected metrics is the expected objective.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import NamedTuple

import jax

OBJECTIVE_METRICS = {"latency": "latency_s", "energy": "energy_pj", "edp": "edp_pj_s",
                     "edap": "edap_pj_s_mm2", "area": "area_mm2"}
"""Objective name -> the metric field it reads: the one list of objective names."""
OBJECTIVES = tuple(OBJECTIVE_METRICS)


class Metrics(NamedTuple):
    """Latency (s), energy (pJ), area (mm^2), EDP (pJ s) and EDAP (pJ s mm^2) of a design."""

    latency_s: jax.Array
    energy_pj: jax.Array
    area_mm2: jax.Array
    edp_pj_s: jax.Array
    edap_pj_s_mm2: jax.Array


def objective_weights(name_or_weights: str | Mapping[str, float]) -> dict[str, float]:
    """``{metric field: normalized weight}`` of an objective name or a ``{name: weight}`` dict.

    Raises ValueError for an unknown name, a negative or non-numeric weight, or all-zero weights.
    """
    allowed = list(OBJECTIVE_METRICS)
    if isinstance(name_or_weights, str):
        if name_or_weights not in OBJECTIVE_METRICS:
            raise ValueError(f"objective must be one of {allowed} or a dict of weights, "
                             f"got {name_or_weights!r}")
        return {OBJECTIVE_METRICS[name_or_weights]: 1.0}
    if not isinstance(name_or_weights, Mapping):
        raise ValueError(f"objective must be one of {allowed} or a dict {{name: weight}}, "
                         f"got {type(name_or_weights).__name__}")
    unknown = sorted(set(name_or_weights) - set(OBJECTIVE_METRICS))
    if unknown:
        raise ValueError(f"objective weights name unknown metric(s) {unknown}; allowed: {allowed}")
    for name, weight in name_or_weights.items():
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not weight >= 0:
            raise ValueError(f"objective weight {name!r} must be a number >= 0, got {weight!r}")
    total = float(sum(name_or_weights.values()))
    if not total > 0:
        raise ValueError(f"objective weights must have a positive sum, got {dict(name_or_weights)}")
    return {OBJECTIVE_METRICS[name]: float(weight) / total
            for name, weight in name_or_weights.items() if weight > 0}


def _field(metrics, field: str):
    if isinstance(metrics, Mapping):
        if field not in metrics:
            raise ValueError(f"metrics must have the key {field!r}, got keys {sorted(metrics)}")
        return metrics[field]
    if not hasattr(metrics, field):
        raise ValueError(f"metrics must have the field {field!r}, got {type(metrics).__name__}")
    return getattr(metrics, field)


def objective(name_or_weights: str | Mapping[str, float], metrics, reference) -> jax.Array:
    """The normalized objective (module docstring) of ``metrics`` relative to ``reference``.

    Args:
      name_or_weights: a metric name or ``{name: weight}`` (names: latency, energy, edp, edap, area).
      metrics: a :class:`Metrics`, :class:`dianjax.cost.relaxed.RelaxedCost` or a dict with the
        metric fields (e.g. :func:`dianjax.cost.systolic.network_cost`).
      reference: the same for the reference design (e.g. ``reference_metrics(table, space)``).

    Returns:
      a scalar, 1 at ``metrics == reference``.
    """
    weights = objective_weights(name_or_weights)
    return sum(weight * _field(metrics, field) / _field(reference, field)
               for field, weight in weights.items())
