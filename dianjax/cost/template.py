"""Hardware templates on the differentiable side: a knob schema and a ``jax.numpy`` evaluation.

A template (e.g. :mod:`dianjax.cost.systolic`) pairs with a :class:`sim.Template` of the same name
and contributes, as plain data and pure functions:

- a :class:`KnobSchema`: the architecture fields a hardware space offers choices for (one
  categorical knob each), the per-mapping-slot choice, and the fields the space holds fixed;
- array builders: the layers (``layer_arrays``), one architecture (``architecture_arrays``), every
  knob's choices (``knob_tables``) and the gather of many architectures from choice indices;
- ``evaluate(layers, architecture, mapping_index, energy_table)``: per-layer figures with at least
  ``latency_s``, ``energy_pj`` and ``area_mm2``, equal to ``sim``'s at discrete points, and
  ``network_cost(report)``: its network totals, with every field of
  :class:`~dianjax.cost.objectives.Metrics`;
- ``layer_mappings`` (optional): the sim mapping of every layer of a network on one accelerator,
  for templates whose mapping is not a function of the slot's choice alone (the loop nest: the
  best candidate of the layer for its dataflow);
- ``area_per_layer``: how a network's area follows from ``evaluate``'s ``area_mm2``. ``False``
  (the systolic array): it is the accelerator's, one scalar whatever the layers run on it. ``True``
  (the crossbar template, weight-stationary): it is per layer (the hardware holding that layer) and
  a network's area is the sum over its layers, like its latency and energy; the relaxed estimator
  then takes area's expectation over ops and mapping choices as it does theirs (and EDAP's, with
  the third moments that product needs), and ``best_design`` sums it over the chosen mappings.

The relaxed estimator (:mod:`dianjax.cost.relaxed`), the hardware space and the search use only this
interface, so a new template needs no change to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class KnobSchema:
    """What a hardware space of a template chooses and holds fixed.

    Attributes:
      knobs: architecture fields with a choice per accelerator, in logit order.
      mapping: the name of the per-slot mapping choice (e.g. ``"fold_order"``).
      fixed: architecture fields the space holds fixed.
      defaults: default choices (tuples) of ``knobs`` and ``mapping``; default values of ``fixed``.
      categorical: knobs (and the mapping) whose choices keep their given order; others are sorted.
      allowed: closed sets of values for categorical fields, by field.
    """

    knobs: tuple[str, ...]
    mapping: str
    fixed: tuple[str, ...]
    defaults: Mapping[str, object]
    categorical: tuple[str, ...]
    allowed: Mapping[str, tuple]

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field of a hardware space of this template (``template`` excluded)."""
        return (*self.knobs, self.mapping, *self.fixed)


@dataclasses.dataclass(frozen=True)
class CostTemplate:
    """One accelerator family for the cost model (see the module docstring)."""

    name: str
    schema: KnobSchema
    architecture: type
    make_mapping: Callable           # a mapping choice value -> the sim mapping of a layer
    mapping_index: Callable          # a mapping choice value -> its int code for ``evaluate``
    layer_arrays: Callable           # Sequence[sim.Layer] -> layer arrays (pytree)
    architecture_arrays: Callable    # one architecture -> arrays (pytree of scalars)
    knob_tables: Callable            # HardwareSpace -> per-knob choice tables
    gather: Callable                 # (tables, int[..., len(knobs)], xp) -> architecture arrays
    evaluate: Callable               # (layers, architecture arrays, mapping index, table) -> report
    network_cost: Callable           # report -> {metric: network total} (Metrics fields and more)
    area_per_layer: bool = False     # area_mm2 per layer, summed over a network (module docstring)
    layer_mappings: Callable | None = None   # (network, accelerator, {layer: choice},
    #                                          energy_table) -> {layer: sim mapping}, where a
    #                                          mapping depends on the layer (the loop nest);
    #                                          None: ``make_mapping`` of each layer's choice


def int32_field(owner: str, field: str, values, limit: int) -> np.ndarray:
    """``values`` as int32 after checking ``0 <= values < limit`` (exact Python / int64 integers):
    the array builders of every template keep their small integers in int32."""
    array = np.asarray(values, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() >= limit):
        bad = int(array.max() if array.max() >= limit else array.min())
        raise ValueError(f"{owner}.{field}={bad} is out of range; allowed: 0 <= {field} < {limit} "
                         "(the cost model keeps it in int32)")
    return array.astype(np.int32)
