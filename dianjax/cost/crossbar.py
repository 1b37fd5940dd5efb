"""The memristive-crossbar cost model in ``jax.numpy``: sim's closed forms, batched over layers.

A transcription of :mod:`sim.crossbar` (the crossbar template, NAX's in-memory-computing
accelerator) into pure, jit/vmap-friendly functions of plain arrays:

    CrossbarLayerArrays (per-group weight matrix and input vectors, one entry per layer)
      + CrossbarArrays (one accelerator: cell, DAC and ADC bits, ADC sharing, tiles, clock)
      + crossbar size (one per layer: NAX's per-layer knob, :class:`sim.CrossbarMapping`)
                                                        -> CrossbarCostReport (per-layer arrays)

The stages, each the closed form of its sim module:

1. the architecture (:mod:`sim.crossbar.architecture`): weight slices, input cycles, ADCs per
   crossbar and the ADC resolution on each layer's crossbar size;
2. the mapping and counts (:mod:`sim.crossbar.counts`, ``matrix_counts`` and ``pipeline_cycles``
   transcribed): tiles of the weight matrix, crossbars, every action count, cycles; returned as a
   :class:`sim.crossbar.CrossbarCounts` of arrays;
3. energy and area (:mod:`sim.crossbar.energy`): sim's own ``layer_energy`` and
   ``CrossbarEnergyTable.tile_area_mm2`` run on those arrays (not copies of them).

Units: cycles of the ADC clock, counts of actions and words, pJ, seconds, mm^2.

ADC resolution. ``adc_bits`` is an int code: ``1..32`` bits, or :data:`LOSSLESS_CODE` (0) for
``"lossless"``, which each layer resolves on its own crossbar size to sim's
:func:`sim.crossbar.lossless_adc_bits` (tabulated from it over every crossbar size, DAC and cell
resolution). The energy table's ADC and DAC resolution scales are likewise looked up from sim's
values at every allowed resolution: a float power with a traced exponent need not be exact, a lookup
is.

Area. The network runs weight-stationary (:mod:`sim.crossbar.report`): every layer keeps its own
tiles, so ``area_mm2`` is per layer and a network's area is the sum over its layers
(:func:`network_cost`), not one accelerator's as for the systolic array. The template says so
(``CostTemplate.area_per_layer``), and the relaxed estimator and ``best_design`` then sum area over
layers and mapping slots as they do latency and energy.

Numerics. Small integers (tile counts, crossbars, sizes, bits) are int32 (:func:`layer_arrays` and
:func:`architecture_arrays` reject values that would overflow); counts that can exceed 2^31 (cell
reads, conversions, cycles) are computed in the default float dtype.

- 64-bit mode (``with jax.enable_x64(True):``): every count and cycle count is an exact integer
  below 2^53 and equals ``sim.simulate_layer``'s; the other figures run sim's float64 operations
  in sim's order, within 1e-15 relative of sim's (tested; XLA may fuse a product and a sum into one
  FMA; 4e-16 the largest seen over 1500 random (layer, accelerator, size)).
- 32-bit mode (the default): each figure is a product or sum of a few float32 roundings of exact
  values, exact for integers below 2^24: within 1e-6 relative (tested; 2.6e-7 the largest seen).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from dianjax.cost.template import CostTemplate, KnobSchema, int32_field
from sim.arith import ceil_div
from sim.crossbar import (
    CROSSBAR_SIZES,
    LOSSLESS,
    CrossbarAccelerator,
    CrossbarCounts,
    CrossbarEnergyTable,
    CrossbarMapping,
    lossless_adc_bits,
)
from sim.crossbar.architecture import ADC_BITS_RANGE, BIT_RANGES
from sim.crossbar.energy import layer_energy, psum_bits
from sim.workload import Layer, Network

LOSSLESS_CODE = 0
"""The ``adc_bits`` code of ``"lossless"`` (real resolutions are 1 to 32 bits)."""

_DEFAULT_TABLE = CrossbarEnergyTable()
_MAX_ADC_BITS = ADC_BITS_RANGE[1]   # the tables below cover every allowed resolution
_MAX_DAC_CELL_BITS = max(BIT_RANGES["dac_bits"][1], BIT_RANGES["cell_bits"][1])
_MAX_LAYER_SIZE = 2 ** 30           # groups, vectors, window, filters stay below this
_MAX_WEIGHTS = 2 ** 31              # groups * window * filters (bounds crossbars, int32)
_INT_FIELDS = ("crossbar_size", "cell_bits", "weight_bits", "input_bits", "dac_bits", "adc_bits",
               "columns_per_adc", "crossbars_per_tile", "crossbar_read_cycles")

# sim's lossless resolution of every (crossbar size, dac bits, cell bits), by size index.
_LOSSLESS_BITS = np.array([[[lossless_adc_bits(size, dac, cell)
                             for cell in range(_MAX_DAC_CELL_BITS + 1)]
                            for dac in range(_MAX_DAC_CELL_BITS + 1)]
                           for size in CROSSBAR_SIZES], np.int32)


class CrossbarLayerArrays(NamedTuple):
    """Layers as the per-group weight matrices they become (int32 arrays, one entry per layer).

    ``vectors = N * P * Q`` input vectors, ``window = (C / groups) * R * S`` rows and
    ``filters = M / groups`` filters per group; ``window_bits = ceil(log2 window)``, the window's
    share of a partial sum's width (:func:`sim.crossbar.energy.psum_bits`).
    """

    groups: np.ndarray
    vectors: np.ndarray
    window: np.ndarray
    filters: np.ndarray
    window_bits: np.ndarray


class CrossbarArrays(NamedTuple):
    """One crossbar accelerator as arrays (scalars; stack them for a leading batch axis).

    The fields of :class:`sim.CrossbarAccelerator`; ``adc_bits`` is a code (:data:`LOSSLESS_CODE`
    for ``"lossless"``); ``crossbar_size`` is the size of layers given none of their own.
    """

    crossbar_size: np.ndarray
    cell_bits: np.ndarray
    weight_bits: np.ndarray
    input_bits: np.ndarray
    dac_bits: np.ndarray
    adc_bits: np.ndarray
    columns_per_adc: np.ndarray
    crossbars_per_tile: np.ndarray
    tile_buffer_kb: np.ndarray
    clock_mhz: np.ndarray
    crossbar_read_cycles: np.ndarray


class CrossbarCostReport(NamedTuple):
    """The numeric fields of :class:`sim.CrossbarLayerReport` as arrays, one entry per layer.

    Sizes, bits and tile counts are ints; the action counts, cycles and MACs are in the default
    float dtype (exact integers under 64-bit mode); the energy by component in pJ, ``latency_s``
    and ``area_mm2`` (the layer's tiles) per layer.
    """

    crossbar_size: jax.Array
    adc_bits: jax.Array
    psum_bits: jax.Array
    weight_slices: jax.Array
    input_cycles: jax.Array
    row_tiles: jax.Array
    column_tiles: jax.Array
    filters_per_crossbar: jax.Array
    crossbars: jax.Array
    tiles: jax.Array
    used_cells: jax.Array
    row_utilization: jax.Array
    column_utilization: jax.Array
    cell_utilization: jax.Array
    macs: jax.Array
    input_vectors: jax.Array
    mvm_operations: jax.Array
    dac_conversions: jax.Array
    adc_conversions: jax.Array
    cell_reads: jax.Array
    shift_add_operations: jax.Array
    psum_additions: jax.Array
    input_buffer_reads: jax.Array
    output_buffer_writes: jax.Array
    psum_buffer_reads: jax.Array
    psum_buffer_writes: jax.Array
    total_cycles: jax.Array
    crossbar_pj: jax.Array
    dac_pj: jax.Array
    adc_pj: jax.Array
    sample_hold_pj: jax.Array
    shift_add_pj: jax.Array
    buffer_pj: jax.Array
    energy_pj: jax.Array
    latency_s: jax.Array
    area_mm2: jax.Array


# -- building the arrays (numpy, exact Python integers checked against int32) ---------------------

def layer_arrays(layers: Sequence[Layer] | Network) -> CrossbarLayerArrays:
    """The per-group weight matrices of ``layers`` (a sequence of :class:`sim.Layer` or a
    Network)."""
    layers = tuple(layers)
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            message = f"layers[{index}] must be a sim.Layer"
            raise ValueError(f"{message}, got {type(layer).__name__}")  # noqa: TRY004
    if not layers:
        raise ValueError("layers must hold at least one sim.Layer, got none")
    owner = "CrossbarLayerArrays"
    window = [(layer.C // layer.groups) * layer.R * layer.S for layer in layers]
    fields = {"groups": [layer.groups for layer in layers],
              "vectors": [layer.N * layer.P * layer.Q for layer in layers],
              "window": window, "filters": [layer.M // layer.groups for layer in layers]}
    arrays = {name: int32_field(owner, name, values, _MAX_LAYER_SIZE) for name, values in fields.items()}
    int32_field(owner, "weights", [g * w * f for g, w, f in zip(fields["groups"], window,
                                                           fields["filters"])], _MAX_WEIGHTS)
    # sim's partial-sum width less its input and weight bits: ceil(log2 window)
    arrays["window_bits"] = np.asarray([psum_bits(0, 0, w) for w in window], np.int32)
    return CrossbarLayerArrays(**arrays)


def adc_bits_code(adc_bits: int | str) -> int:
    """The ``adc_bits`` code of an architecture's ``adc_bits``: itself, or :data:`LOSSLESS_CODE`."""
    return LOSSLESS_CODE if adc_bits == LOSSLESS else int(adc_bits)


def architecture_arrays(accelerator: CrossbarAccelerator) -> CrossbarArrays:
    """One :class:`sim.CrossbarAccelerator` as a pytree of numpy scalars."""
    if not isinstance(accelerator, CrossbarAccelerator):
        raise ValueError(f"accelerator must be a sim.CrossbarAccelerator, "  # noqa: TRY004
                         f"got {type(accelerator).__name__}")
    owner = "CrossbarArrays"
    values = {field: getattr(accelerator, field) for field in _INT_FIELDS}
    values["adc_bits"] = adc_bits_code(accelerator.adc_bits)
    return CrossbarArrays(
        **{field: int32_field(owner, field, value, 2 ** 31) for field, value in values.items()},
        tile_buffer_kb=np.asarray(accelerator.tile_buffer_kb, np.float64),
        clock_mhz=np.asarray(accelerator.clock_mhz, np.float64))


def stack_architectures(accelerators: Sequence[CrossbarAccelerator]) -> CrossbarArrays:
    """Many accelerators as one CrossbarArrays with a leading axis (for ``jax.vmap``)."""
    arrays = [architecture_arrays(acc) for acc in accelerators]
    if not arrays:
        raise ValueError("accelerators must hold at least one sim.CrossbarAccelerator, got none")
    return CrossbarArrays(*(np.stack(column) for column in zip(*arrays)))


def crossbar_size_code(crossbar_size: int) -> int:
    """The per-layer crossbar size as :func:`evaluate` takes it: the size itself, validated as
    :class:`sim.CrossbarMapping` does."""
    size = CrossbarMapping(crossbar_size=crossbar_size).crossbar_size
    if size is None:
        raise ValueError("crossbar_size must be one of the crossbar sizes "
                         f"{list(CROSSBAR_SIZES)}, got None")
    return size


def layer_crossbar_sizes(network: Network, mappings: MappingType[str, CrossbarMapping],
                         accelerator: CrossbarAccelerator) -> np.ndarray:
    """int32[len(network)]: the crossbar size of every layer under its :class:`sim.CrossbarMapping`
    (``crossbar_size=None``: ``accelerator``'s)."""
    missing = [layer.name for layer in network if layer.name not in mappings]
    if missing:
        raise ValueError(f"mappings has no sim.CrossbarMapping for layer(s) {missing}; allowed: "
                         f"one per layer of {network.name!r}")
    return np.array([mappings[layer.name].size(accelerator) for layer in network], np.int32)


# -- the closed forms ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _TabulatedScales(CrossbarEnergyTable):
    """sim's table whose ADC and DAC resolution scales are looked up, at (traced) integer bits,
    from sim's own values at every allowed resolution; every other method is sim's."""

    def adc_scale(self, bits):
        scales = [CrossbarEnergyTable.adc_scale(self, b) for b in range(_MAX_ADC_BITS + 1)]
        return jnp.asarray(scales, jnp.result_type(float))[bits]

    def dac_scale(self, bits):
        scales = [CrossbarEnergyTable.dac_scale(self, b) for b in range(_MAX_DAC_CELL_BITS + 1)]
        return jnp.asarray(scales, jnp.result_type(float))[bits]


def _check_arrays(layers: CrossbarLayerArrays, accelerator: CrossbarArrays, crossbar_size) -> None:
    if not isinstance(layers, CrossbarLayerArrays):
        raise ValueError(f"layers must be a CrossbarLayerArrays "  # noqa: TRY004
                         f"(crossbar.layer_arrays), got {type(layers).__name__}")
    if not isinstance(accelerator, CrossbarArrays):
        raise ValueError(f"accelerator must be a CrossbarArrays "  # noqa: TRY004
                         f"(crossbar.architecture_arrays), got {type(accelerator).__name__}")
    chex.assert_equal_shape(list(layers))
    chex.assert_type(list(layers), int)
    # One accelerator per call: a stacked batch must go through jax.vmap, not broadcasting.
    chex.assert_rank(list(accelerator), 0)
    chex.assert_type([getattr(accelerator, field) for field in _INT_FIELDS], int)
    if crossbar_size is not None:
        chex.assert_type(crossbar_size, int)
        if np.ndim(crossbar_size):
            chex.assert_equal_shape([crossbar_size, layers.groups])
        if not isinstance(crossbar_size, jax.core.Tracer):   # concrete: check it here, once
            unknown = sorted(set(np.ravel(crossbar_size).tolist()) - set(CROSSBAR_SIZES))
            if unknown:
                raise ValueError(f"crossbar_size must hold values of {list(CROSSBAR_SIZES)}, "
                                 f"got {unknown}")


def evaluate(layers: CrossbarLayerArrays, accelerator: CrossbarArrays, crossbar_size=None,
             energy_table: CrossbarEnergyTable | None = None) -> CrossbarCostReport:
    """Crossbars, action counts, cycles, energy by component, latency and area of layers on one
    crossbar accelerator.

    The closed forms of ``sim.simulate_layer`` for :class:`sim.CrossbarAccelerator` (module
    docstring) on arrays: jit it with ``energy_table`` static, ``jax.vmap`` it over a stacked
    :class:`CrossbarArrays` (leading axis) or over the layers.

    Args:
      layers: :func:`layer_arrays` of the layers (int arrays, any common shape).
      accelerator: one accelerator (:func:`architecture_arrays`, scalars).
      crossbar_size: int crossbar size per layer (shape of ``layers``) or one for all, each one of
        :data:`sim.crossbar.CROSSBAR_SIZES`; ``None`` is the accelerator's (``CrossbarMapping()``).
      energy_table: per-action energies and areas; ``None`` is sim's default (ISAAC's) table.

    Returns:
      a :class:`CrossbarCostReport` of arrays shaped like ``layers``.
    """
    table = _DEFAULT_TABLE if energy_table is None else energy_table
    if not isinstance(table, CrossbarEnergyTable):
        raise ValueError(f"energy_table must be a sim.CrossbarEnergyTable or None, "  # noqa: TRY004
                         f"got {type(table).__name__}")
    _check_arrays(layers, accelerator, crossbar_size)
    dtype = jnp.result_type(float)
    itype = jnp.result_type(int)
    ints = CrossbarLayerArrays(*(jnp.asarray(field, itype) for field in layers))
    acc = accelerator._replace(**{field: jnp.asarray(getattr(accelerator, field), itype)
                                  for field in _INT_FIELDS})
    shape = ints.groups.shape
    size = acc.crossbar_size if crossbar_size is None else jnp.asarray(crossbar_size, itype)
    X = jnp.broadcast_to(size, shape)

    def f(x):
        return jnp.asarray(x).astype(dtype)

    # 1. architecture (sim.crossbar.architecture): slices, input cycles, ADCs and their resolution.
    slices = ceil_div(acc.weight_bits, acc.cell_bits)
    input_cycles = ceil_div(acc.input_bits, acc.dac_bits)
    adcs = X // jnp.minimum(acc.columns_per_adc, X)
    size_index = jnp.searchsorted(jnp.asarray(CROSSBAR_SIZES, itype), X)
    lossless = jnp.asarray(_LOSSLESS_BITS)[size_index, acc.dac_bits, acc.cell_bits]
    adc_bits = jnp.where(acc.adc_bits == LOSSLESS_CODE, lossless, acc.adc_bits).astype(itype)

    # 2. mapping and counts (sim.crossbar.counts.matrix_counts, pipeline_cycles).
    groups, vectors, window, filters = ints.groups, ints.vectors, ints.window, ints.filters
    row_tiles = ceil_div(window, X)
    filters_per_crossbar = X // slices
    column_tiles = ceil_div(filters, filters_per_crossbar)
    crossbars = groups * row_tiles * column_tiles
    used_cells = f(groups) * f(window) * f(filters) * f(slices)
    steps = f(vectors) * f(input_cycles)
    mvm = f(crossbars) * steps
    psum = f(vectors) * f(groups) * f(filters) * f(row_tiles - 1)
    read = acc.crossbar_read_cycles
    sweep = X // adcs
    longer = jnp.maximum(read, sweep)
    counts = CrossbarCounts(
        crossbar_size=X, row_tiles=row_tiles, column_tiles=column_tiles,
        filters_per_crossbar=filters_per_crossbar, crossbars=crossbars,
        tiles=ceil_div(crossbars, acc.crossbars_per_tile), used_cells=used_cells,
        row_utilization=f(window) / f(row_tiles * X),
        column_utilization=f(filters) * f(slices) / (f(column_tiles) * f(X)),
        cell_utilization=used_cells / (f(crossbars) * f(X) * f(X)),
        input_vectors=f(vectors), mvm_operations=mvm, dac_conversions=mvm * f(X),
        adc_conversions=mvm * f(X),
        cell_reads=f(groups) * f(column_tiles) * f(window) * f(X) * steps,
        shift_add_operations=f(groups) * f(row_tiles) * f(filters) * f(slices) * steps,
        psum_additions=psum, input_buffer_reads=f(vectors) * f(groups) * f(window),
        output_buffer_writes=f(vectors) * f(groups) * f(filters), psum_buffer_reads=psum,
        psum_buffer_writes=psum, total_cycles=steps * f(longer) + f(read + sweep - longer))

    # 3. energy and area: sim.crossbar.energy's own formulas, on arrays.
    lookup = _TabulatedScales(**table.to_dict())
    partial_sum_bits = acc.input_bits + acc.weight_bits + ints.window_bits
    energy = layer_energy(counts, acc.dac_bits, adc_bits, acc.input_bits, partial_sum_bits, lookup)
    tile_area = lookup.tile_area_mm2(X, adcs, acc.dac_bits, adc_bits, acc.crossbars_per_tile,
                                     jnp.asarray(acc.tile_buffer_kb, dtype))
    fields = counts._asdict()
    del fields["crossbar_size"]
    return CrossbarCostReport(
        crossbar_size=X, adc_bits=adc_bits, psum_bits=jnp.broadcast_to(partial_sum_bits, shape),
        weight_slices=jnp.broadcast_to(slices, shape),
        input_cycles=jnp.broadcast_to(input_cycles, shape), **fields,
        macs=f(vectors) * f(groups) * f(filters) * f(window), **energy._asdict(),
        energy_pj=energy.total_pj,
        latency_s=counts.total_cycles / (jnp.asarray(acc.clock_mhz, dtype) * 1e6),
        area_mm2=f(counts.tiles) * tile_area)


_SUMMED = ("crossbars", "tiles", "used_cells", "macs", "mvm_operations", "dac_conversions",
           "adc_conversions", "cell_reads", "shift_add_operations", "psum_additions",
           "input_buffer_reads", "output_buffer_writes", "psum_buffer_reads",
           "psum_buffer_writes", "total_cycles", "crossbar_pj", "dac_pj", "adc_pj",
           "sample_hold_pj", "shift_add_pj", "buffer_pj", "energy_pj", "latency_s", "area_mm2")


def network_cost(report: CrossbarCostReport) -> dict[str, jax.Array]:
    """Network totals of a :class:`CrossbarCostReport` (sums over its last, layer axis), as
    :class:`sim.CrossbarNetworkReport` totals them: layers one after another, every layer's tiles
    resident (weight-stationary), so latency, energy *and area* are sums over layers.

    Returns:
      ``latency_s``, ``energy_pj``, ``area_mm2``, ``edp_pj_s``, ``edap_pj_s_mm2`` (NAX's
      objective), the crossbars, tiles, action counts, cycles and MACs, and the energy by
      component (``*_pj``).
    """
    totals = {field: jnp.sum(getattr(report, field), axis=-1) for field in _SUMMED}
    totals["edp_pj_s"] = totals["energy_pj"] * totals["latency_s"]
    totals["edap_pj_s_mm2"] = totals["edp_pj_s"] * totals["area_mm2"]
    return totals


# -- the template: knob schema and per-knob choice tables ------------------------------------------

KNOBS = ("adc_bits", "cell_bits", "dac_bits", "columns_per_adc")
_ISAAC = CrossbarAccelerator()
SCHEMA = KnobSchema(
    knobs=KNOBS, mapping="crossbar_size",
    fixed=("weight_bits", "input_bits", "crossbars_per_tile", "tile_buffer_kb", "clock_mhz",
           "crossbar_read_cycles"),
    defaults={"adc_bits": (4, 6, 8, LOSSLESS), "cell_bits": (1, 2, 4), "dac_bits": (1, 2),
              "columns_per_adc": (8, 32, 128), "crossbar_size": (16, 32, 64, 128),
              "weight_bits": 8, "input_bits": 8,
              **{field: getattr(_ISAAC, field) for field in ("crossbars_per_tile", "tile_buffer_kb",
                                                             "clock_mhz", "crossbar_read_cycles")}},
    categorical=("adc_bits",), allowed={"crossbar_size": CROSSBAR_SIZES})
"""The crossbar hardware space (NAX-like): ADC resolution (bits or ``"lossless"``; categorical,
so the choices keep their given order), cell and DAC bits and ADC sharing per accelerator; one
crossbar size per mapping slot (NAX's per-layer crossbar size, 16 to 128); 8-bit weights and
inputs; tiles, buffers, clock and read time ISAAC's. The defaults span 72 accelerators."""


def knob_tables(space) -> CrossbarArrays:
    """The choices of every knob of ``space`` as cost-model values (``adc_bits`` as codes): each
    knob's field holds its choices in order, every other field the base accelerator's value."""
    base = space.base_accelerator()
    for knob, choices in space.choices():   # ValueError for a value the cost model cannot hold
        for value in choices:
            architecture_arrays(dataclasses.replace(base, **{knob: value}))
    encode = {"adc_bits": adc_bits_code}
    tables = {knob: np.asarray([encode.get(knob, int)(value) for value in choices], np.int32)
              for knob, choices in space.choices()}
    return architecture_arrays(base)._replace(**tables)


def gather_architectures(tables: CrossbarArrays, indices, xp=jnp) -> CrossbarArrays:
    """CrossbarArrays of the accelerators with choice ``indices[..., i]`` of knob ``KNOBS[i]``."""
    shape = indices.shape[:-1]
    return CrossbarArrays(**{
        field: (xp.take(xp.asarray(value), indices[..., KNOBS.index(field)], axis=0)
                if field in KNOBS else xp.full(shape, value))
        for field, value in tables._asdict().items()})


TEMPLATE = CostTemplate(
    name="crossbar", schema=SCHEMA, architecture=CrossbarAccelerator,
    make_mapping=lambda crossbar_size: CrossbarMapping(crossbar_size=crossbar_size),
    mapping_index=crossbar_size_code, layer_arrays=layer_arrays,
    architecture_arrays=architecture_arrays, knob_tables=knob_tables, gather=gather_architectures,
    evaluate=evaluate, network_cost=network_cost, area_per_layer=True)
