"""The exactly best accelerator and mapping of one network, by enumerating the hardware space.

After a search picks a network, its accelerator need not be the argmax of the hardware logits: the
logits were trained against a mixture of networks, and on a space small enough to enumerate (the
quickstart's 12,288 accelerators) every accelerator can be priced for the picked network in
milliseconds from the cost model's enumeration (:attr:`RelaxedCostModel.enumeration`).

The mapping rule is the benchmark's (:mod:`dianjax.bench.prices`): every conv runs in its own
mapping slot, whose fold order is one of three per-conv assignments: least latency, least energy,
or least latency x energy of that conv (:func:`best_fold_orders`, ties to the first mapping
choice); where the template's area is per layer (``CostTemplate.area_per_layer``: the crossbar
template, whose mapping choice is the crossbar size), two more: least area and least
latency x energy x area. For each accelerator and each assignment the network's metrics are summed
(area too where it is per layer);
the design returned minimizes the normalized objective over the (accelerator, assignment) pairs
within every limit, or, when none is, the objective plus the limits' penalty
(:func:`constraint_penalty`, the search loss's hardware term). For a latency
(energy) objective that is the least latency (energy) over every fold-order assignment; for EDP it
is the benchmark's price of the pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from dianjax.cost.hardware_space import HardwareDesign
from dianjax.cost.objectives import Metrics, objective_weights
from dianjax.cost.objectives import objective as normalized_objective
from dianjax.cost.relaxed import RelaxedCostModel
from sim import checks


def best_fold_orders(latency, energy, axis: int = 0, area=None) -> tuple:
    """Per conv, the fold order (index along ``axis``) of least latency, of least energy and of
    least latency x energy, in that order (ties to the first); with a per-conv ``area`` (shaped
    like ``latency``), then also of least area and of least latency x energy x area."""
    scores = (latency, energy, latency * energy)
    if area is not None:
        scores += (area, latency * energy * area)
    return tuple(jnp.argmin(score, axis=axis) for score in scores)


def constraint_penalty(metrics, limits: Mapping[str, float], weight: float):
    """``weight`` x the sum of squared relative violations ``relu(metric / limit - 1)^2`` of
    ``limits`` ({Metrics field: limit}; a limit of 0 is none)."""
    total = 0.0
    for field, limit in limits.items():
        if limit > 0:
            total = total + jnp.square(jnp.maximum(getattr(metrics, field) / limit - 1.0, 0.0))
    return weight * total


def check_limits(owner: str, limits: Mapping[str, float]) -> None:
    """ValueError naming ``owner[field]`` unless every key is a Metrics field and every limit a
    number >= 0."""
    checks.known_keys(owner, dict(limits), Metrics._fields)
    for field, limit in limits.items():
        checks.number_in(owner, field, limit, 0)


class BestDesign(NamedTuple):
    """The best design of a network (module docstring) and what it was chosen among."""

    design: HardwareDesign
    metrics: Metrics            # the design's figures (cost model, float32 enumeration)
    score: float                # normalized objective (+ the limits' penalty when infeasible)
    feasible: bool              # within every set limit
    num_accelerators: int       # accelerators compared
    num_feasible: int           # of them, those with a mapping within every limit


def best_design(model: RelaxedCostModel, op_indices, objective, reference, *,
                limits: Mapping[str, float] | None = None, penalty: float = 10.0) -> BestDesign:
    """The accelerator and fold orders of ``model.space`` that minimize the hardware term of the
    search loss for the network ``op_indices`` of ``model.table`` (module docstring).

    Args:
      model: a prepared cost model (:func:`dianjax.cost.prepare`); its enumeration is computed on
        first use (a second or two for the quickstart).
      op_indices: the op column of every searchable layer.
      objective: a name or weights dict (:mod:`dianjax.cost.objectives`).
      reference: the objective's normalizer (:func:`dianjax.cost.reference_metrics`).
      limits: {Metrics field: limit} (0 = none), e.g. ``{"area_mm2": 2.0}``.
      penalty: the weight of the squared relative violations.
    """
    return best_designs(model, [op_indices], objective, reference, limits=limits,
                        penalty=penalty)[0]


NETWORK_CHUNK = 32  # networks priced together by best_designs (memory per figure: fold-order
                   # assignments x accelerators x chunk float64)


def best_designs(model: RelaxedCostModel, networks, objective, reference, *,
                 limits: Mapping[str, float] | None = None, penalty: float = 10.0
                 ) -> list[BestDesign]:
    """:func:`best_design` of every network of ``networks`` (one row of op columns each), priced
    together: each conv's best fold orders are found once for all networks, and a network's
    figures are its convs' sums (a product with its conv weights), so pricing every network of the
    quickstart on all its accelerators takes about a second."""
    table, space = model.table, model.space
    networks = [tuple(int(k) for k in ops) for ops in networks]
    for ops in networks:
        table.network(ops)                # ValueError naming a missing or unavailable op
    objective_weights(objective)
    limits = dict(limits or {})
    check_limits("best_design limits", limits)
    eye = np.eye(len(table.op_names), dtype=np.float32)
    weights = np.stack([np.asarray(model.conv_weights(jnp.asarray(eye[list(ops)])))
                        for ops in networks]).astype(np.float64)          # [N, C]
    latency, energy, area = model.enumeration          # [A, U, C], [A, U, C], [A] or [A, U, C]
    area_per_layer = space.template.area_per_layer
    orders = np.stack([np.asarray(o) for o in best_fold_orders(
        latency, energy, axis=1, area=area if area_per_layer else None)])    # [n, A, C]

    def take(values):                     # [A, U, C] at each assignment's orders -> [n, A, C]
        return np.take_along_axis(values[None], orders[:, :, None], axis=2)[:, :, 0].astype(
            np.float64)

    per_conv = (take(latency), take(energy), take(area) if area_per_layer else None)
    slot_of_conv = model.slot_matrix.argmax(axis=1)
    mapping_choices = space.mapping_choices
    radices = [len(getattr(space, knob)) for knob in space.knobs]
    out = []
    for first in range(0, len(networks), NETWORK_CHUNK):
        chunk = weights[first:first + NETWORK_CHUNK]
        total_latency, total_energy = (values @ chunk.T for values in per_conv[:2])  # [n, A, N]
        chunk_area = (per_conv[2] @ chunk.T if area_per_layer
                      else np.asarray(area, np.float64)[None, :, None])
        edp = total_latency * total_energy
        metrics = Metrics(latency_s=total_latency, energy_pj=total_energy,
                          area_mm2=np.broadcast_to(chunk_area, edp.shape), edp_pj_s=edp,
                          edap_pj_s_mm2=edp * chunk_area)
        score = np.broadcast_to(np.asarray(
            normalized_objective(objective, metrics, reference)
            + constraint_penalty(metrics, limits, penalty)), edp.shape)
        feasible = np.broadcast_to(
            np.asarray(constraint_penalty(metrics, limits, 1.0)) == 0, edp.shape)
        for column, conv_weights in enumerate(chunk):
            net_score, net_feasible = score[..., column], feasible[..., column]
            if net_feasible.any():        # limits are hard here: the best within them
                net_score = np.where(net_feasible, net_score, np.inf)
            assignment, accelerator = np.unravel_index(np.argmin(net_score), net_score.shape)
            fold_orders = dict.fromkeys(table.mapping_slots, mapping_choices[0])
            for conv in np.flatnonzero(conv_weights > 0):
                fold_orders[table.mapping_slots[slot_of_conv[conv]]] = mapping_choices[
                    int(orders[assignment, accelerator, conv])]
            knob_indices = dict(zip(space.knobs, np.unravel_index(accelerator, radices)))
            chosen = Metrics(*(float(np.broadcast_to(v, edp.shape)[assignment, accelerator,
                                                                   column]) for v in metrics))
            out.append(BestDesign(
                design=HardwareDesign(space.accelerator(knob_indices), fold_orders),
                metrics=chosen, score=float(net_score[assignment, accelerator]),
                feasible=bool(net_feasible[assignment, accelerator]),
                num_accelerators=int(edp.shape[1]),
                num_feasible=int(np.any(net_feasible, axis=0).sum())))
    return out
