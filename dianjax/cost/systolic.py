"""The exact accelerator cost model in ``jax.numpy``: sim's closed forms, batched over layers.

A transcription of :mod:`sim.systolic.lowering`, :mod:`sim.systolic.schedule`,
:mod:`sim.systolic.memory` and :mod:`sim.systolic.energy` (the simulator's fast path) into pure,
jit/vmap-friendly functions of plain arrays:

    LayerArrays (per-group GEMM sizes, one entry per layer)
      + AcceleratorArrays (one accelerator: array shape, dataflow, SRAM buffers, DRAM bandwidth)
      + fold order (one per layer)                       -> CostReport (per-layer arrays)

The convention is SCALE-Sim's (see :mod:`sim.systolic.lowering`): a conv group is an
``S_r x S_c x T`` GEMM cut into ``ceil(S_r / rows) * ceil(S_c / cols)`` folds; DRAM traffic and
stalls follow the double-buffered slice model of :mod:`sim.systolic.memory` (its per-fold-class
closed form), energy and area the :class:`sim.EnergyTable`. The dataflow is an index into
:data:`sim.DATAFLOWS` and the fold order an index into :data:`sim.FOLD_ORDERS`, so that one
compiled function serves every accelerator of a design space.

Units: cycles, words (SRAM and DRAM accesses), pJ, seconds, mm^2, KiB (SRAM sizes), words per cycle
(``dram_bandwidth_words_per_cycle``).

Numerics. Small integers (GEMM sizes, folds per dimension, cycles per fold, buffer words) are int32
(:func:`layer_arrays` and :func:`accelerator_arrays` reject values that would overflow); products
that can exceed 2^31 (counts, MACs, cycles) are computed in the default float dtype.

- 64-bit mode (``with jax.enable_x64(True):``): every count is an exact integer below 2^53 and the
  stall formula runs sim's float64 operations in sim's order, so cycles (stalls included), MACs and
  accesses equal ``sim.simulate_layer``'s exactly; energies, latency, utilization and area equal
  them to the last bit (XLA multiplies by the reciprocal of a scalar divisor, which may move it).
- 32-bit mode (the default): counts, MACs, energies and area carry a relative error below 1e-6 (a
  few float32 roundings; at most 2e-7 measured over 3000 random pairs). The stall cycles are a sum
  of ceils of float32 quotients (the first load, the last drain and one per fold), each of which may
  be one cycle off sim's, so total cycles, latency and utilization may be off by up to
  ``groups * (folds + 2) / total_cycles`` (and in practice far less): use 64-bit mode where these
  must be exact.
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
from sim.energy import EnergyTable
from sim.systolic.architecture import DATAFLOWS, Accelerator
from sim.systolic.energy import area_mm2, layer_energy, ofmap_sram_reads
from sim.systolic.mapping import FOLD_ORDERS, Mapping
from sim.systolic.memory import OPERAND_INDEX
from sim.workload import Layer, Network

_DEFAULT_TABLE = EnergyTable()
_MAX_LAYER_WORDS = 2 ** 30     # GEMM sizes and footprints stay below this (int32 with headroom)
_MAX_ARRAY_SIDE = 2 ** 16      # rows and cols (so that cycles per fold fit in int32)

# Which fold loop indexes each operand (ifmap, filter, ofmap), per dataflow in DATAFLOWS order
# (sim.systolic.memory.OPERAND_INDEX): 0 = row fold, 1 = column fold, 2 = both.
_ROW, _COL, _BOTH = 0, 1, 2
_INDEX_CODES = {"row": _ROW, "col": _COL, "both": _BOTH}
_OPERAND_INDEX_TABLE = np.array([[_INDEX_CODES[i] for i in OPERAND_INDEX[d]] for d in DATAFLOWS],
                                np.int32)
_WS, _OS, _IS = (DATAFLOWS.index(d) for d in ("ws", "os", "is"))
_ROW_OUTER = FOLD_ORDERS.index("row_outer")


class LayerArrays(NamedTuple):
    """Layers as the per-group GEMM they become (int32 arrays, one entry per layer).

    ``pixels = N * P * Q``, ``window = (C / groups) * R * S``, ``filters = M / groups``; the three
    footprints are the unique words of one group in DRAM (:class:`sim.GemmShape`).
    """

    groups: np.ndarray
    pixels: np.ndarray
    window: np.ndarray
    filters: np.ndarray
    ifmap_words: np.ndarray
    filter_words: np.ndarray
    ofmap_words: np.ndarray


class AcceleratorArrays(NamedTuple):
    """One accelerator as arrays (scalars; stack them for a leading batch axis).

    ``dataflow`` indexes :data:`sim.DATAFLOWS`; ``*_buffer_words`` is one double-buffer half of an
    operand's SRAM in words (:func:`sim.systolic.memory.buffer_words`);
    ``dram_bandwidth_words_per_cycle`` in words per cycle (``inf``: no stalls, and an infinite
    interface area).
    """

    rows: np.ndarray
    cols: np.ndarray
    dataflow: np.ndarray
    ifmap_buffer_words: np.ndarray
    filter_buffer_words: np.ndarray
    ofmap_buffer_words: np.ndarray
    ifmap_sram_kb: np.ndarray
    filter_sram_kb: np.ndarray
    ofmap_sram_kb: np.ndarray
    dram_bandwidth_words_per_cycle: np.ndarray
    word_bits: np.ndarray
    clock_mhz: np.ndarray


class CostReport(NamedTuple):
    """The fields of :class:`sim.LayerReport` as arrays (one entry per layer), plus the area.

    Counts are in the default float dtype (exact integers under 64-bit mode); ``area_mm2`` is the
    accelerator's, one scalar per accelerator (infinite for an unbounded DRAM interface, see
    :mod:`sim.energy`).
    """

    compute_cycles: jax.Array
    stall_cycles: jax.Array
    total_cycles: jax.Array
    macs: jax.Array
    folds: jax.Array
    utilization: jax.Array
    ifmap_sram_reads: jax.Array
    filter_sram_reads: jax.Array
    ofmap_sram_writes: jax.Array
    ofmap_sram_reads: jax.Array
    ifmap_dram_reads: jax.Array
    filter_dram_reads: jax.Array
    ofmap_dram_reads: jax.Array
    ofmap_dram_writes: jax.Array
    mac_pj: jax.Array
    register_pj: jax.Array
    ifmap_sram_pj: jax.Array
    filter_sram_pj: jax.Array
    ofmap_sram_pj: jax.Array
    dram_pj: jax.Array
    dram_interface_pj: jax.Array
    leakage_pj: jax.Array
    energy_pj: jax.Array
    latency_s: jax.Array
    area_mm2: jax.Array


# -- building the arrays (numpy, exact Python integers checked against int32) ---------------------

def layer_arrays(layers: Sequence[Layer] | Network) -> LayerArrays:
    """The per-group GEMM sizes of ``layers`` (a sequence of :class:`sim.Layer` or a Network)."""
    layers = tuple(layers)
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise ValueError(f"layers[{index}] must be a sim.Layer, got {type(layer).__name__}")
    if not layers:
        raise ValueError("layers must hold at least one sim.Layer, got none")
    fields = {
        "groups": [layer.groups for layer in layers],
        "pixels": [layer.N * layer.P * layer.Q for layer in layers],
        "window": [(layer.C // layer.groups) * layer.R * layer.S for layer in layers],
        "filters": [layer.M // layer.groups for layer in layers],
        "ifmap_words": [layer.ifmap_words // layer.groups for layer in layers],
        "filter_words": [layer.filter_words // layer.groups for layer in layers],
        "ofmap_words": [layer.ofmap_words // layer.groups for layer in layers],
    }
    return LayerArrays(**{name: int32_field("LayerArrays", name, values, _MAX_LAYER_WORDS)
                          for name, values in fields.items()})


def buffer_words(sram_kb, word_bits, field: str = "buffer_words") -> np.ndarray:
    """int32 words of one double-buffer half of an SRAM of ``sram_kb`` KiB (as sim computes it)."""
    words = np.floor(np.asarray(sram_kb, np.float64) * 1024 * 8).astype(np.int64)
    return int32_field("AcceleratorArrays", field, words // np.asarray(word_bits, np.int64) // 2, 2 ** 31)


def _accelerator_fields(rows, cols, dataflow_index, ifmap_sram_kb, filter_sram_kb, ofmap_sram_kb,
                        dram_bandwidth_words_per_cycle, word_bits, clock_mhz) -> AcceleratorArrays:
    """AcceleratorArrays from equally-shaped numpy values (buffer words as sim computes them)."""
    owner = "AcceleratorArrays"
    buffers = {f"{operand}_buffer_words": buffer_words(kb, word_bits, f"{operand}_buffer_words")
               for operand, kb in (("ifmap", ifmap_sram_kb), ("filter", filter_sram_kb),
                                   ("ofmap", ofmap_sram_kb))}
    return AcceleratorArrays(
        rows=int32_field(owner, "rows", rows, _MAX_ARRAY_SIDE + 1),
        cols=int32_field(owner, "cols", cols, _MAX_ARRAY_SIDE + 1),
        dataflow=int32_field(owner, "dataflow", dataflow_index, len(DATAFLOWS)),
        **buffers,
        ifmap_sram_kb=np.asarray(ifmap_sram_kb, np.float64),
        filter_sram_kb=np.asarray(filter_sram_kb, np.float64),
        ofmap_sram_kb=np.asarray(ofmap_sram_kb, np.float64),
        dram_bandwidth_words_per_cycle=np.asarray(dram_bandwidth_words_per_cycle, np.float64),
        word_bits=int32_field(owner, "word_bits", word_bits, 2 ** 16),
        clock_mhz=np.asarray(clock_mhz, np.float64))


def accelerator_arrays(accelerator: Accelerator) -> AcceleratorArrays:
    """One :class:`sim.Accelerator` as a pytree of numpy scalars."""
    if not isinstance(accelerator, Accelerator):
        raise ValueError(f"accelerator must be a sim.Accelerator, got {type(accelerator).__name__}")
    a = accelerator
    return _accelerator_fields(a.rows, a.cols, DATAFLOWS.index(a.dataflow), a.ifmap_sram_kb,
                               a.filter_sram_kb, a.ofmap_sram_kb, a.dram_bandwidth_words_per_cycle,
                               a.word_bits, a.clock_mhz)


def stack_accelerators(accelerators: Sequence[Accelerator]) -> AcceleratorArrays:
    """Many accelerators as one AcceleratorArrays with a leading axis (for ``jax.vmap``)."""
    arrays = [accelerator_arrays(acc) for acc in accelerators]
    if not arrays:
        raise ValueError("accelerators must hold at least one sim.Accelerator, got none")
    return AcceleratorArrays(*(np.stack(column) for column in zip(*arrays)))


def fold_order_indices(network: Network, mappings: MappingType[str, object]) -> np.ndarray:
    """int32[len(network)]: the :data:`sim.FOLD_ORDERS` index of every layer's ``sim.Mapping``."""
    missing = [layer.name for layer in network if layer.name not in mappings]
    if missing:
        raise ValueError(f"mappings has no sim.Mapping for layer(s) {missing}; allowed: one per "
                         f"layer of {network.name!r}")
    return np.array([FOLD_ORDERS.index(mappings[layer.name].fold_order) for layer in network],
                    np.int32)


# -- the closed forms ------------------------------------------------------------------------------

def _check_arrays(layers: LayerArrays, accelerator: AcceleratorArrays, fold_order) -> None:
    if not isinstance(layers, LayerArrays):
        raise ValueError(f"layers must be a LayerArrays (cost.layer_arrays), "
                         f"got {type(layers).__name__}")
    if not isinstance(accelerator, AcceleratorArrays):
        raise ValueError(f"accelerator must be an AcceleratorArrays (cost.accelerator_arrays), "
                         f"got {type(accelerator).__name__}")
    chex.assert_equal_shape(list(layers))
    chex.assert_type(list(layers), int)
    # One accelerator per call: a stacked batch must go through jax.vmap, not broadcasting.
    chex.assert_rank(list(accelerator), 0)
    chex.assert_type([accelerator.rows, accelerator.cols, accelerator.dataflow], int)
    if fold_order is not None:
        chex.assert_type(fold_order, int)
        if np.ndim(fold_order):
            chex.assert_equal_shape([fold_order, layers.groups])


def evaluate(layers: LayerArrays, accelerator: AcceleratorArrays, fold_order=None,
             energy_table: EnergyTable | None = None) -> CostReport:
    """Cycles, SRAM/DRAM accesses, energy by component, latency and area of layers on one accelerator.

    The closed forms of ``sim.simulate_layer`` (module docstring) on arrays: jit it with
    ``energy_table`` static, ``jax.vmap`` it over a stacked :class:`AcceleratorArrays` (leading axis)
    or over the layers.

    Args:
      layers: :func:`layer_arrays` of the layers (int arrays, any common shape).
      accelerator: one accelerator (:func:`accelerator_arrays`, scalars).
      fold_order: int index into :data:`sim.FOLD_ORDERS` per layer (shape of ``layers``) or one for
        all; ``None`` is ``col_outer`` (SCALE-Sim's order, ``sim.Mapping()``).
      energy_table: per-action energies and areas; ``None`` is sim's default 45 nm table.

    Returns:
      a :class:`CostReport` of arrays shaped like ``layers`` (``area_mm2`` a scalar).
    """
    table = _DEFAULT_TABLE if energy_table is None else energy_table
    if not isinstance(table, EnergyTable):
        raise ValueError(f"energy_table must be a sim.EnergyTable or None, got {type(table).__name__}")
    _check_arrays(layers, accelerator, fold_order)
    dtype = jnp.result_type(float)
    itype = jnp.result_type(int)
    ints = LayerArrays(*(jnp.asarray(field, itype) for field in layers))
    acc = accelerator
    rows, cols, dataflow = (jnp.asarray(x, itype) for x in (acc.rows, acc.cols, acc.dataflow))
    order = jnp.zeros((), itype) if fold_order is None else jnp.asarray(fold_order, itype)

    def f(x):
        return jnp.asarray(x).astype(dtype)

    # 1. workload -> GEMM (sim.systolic.lowering): S_r, S_c, T per dataflow.
    is_os, is_ws, is_is = dataflow == _OS, dataflow == _WS, dataflow == _IS
    Sr = jnp.where(is_os, ints.pixels, ints.window)
    Sc = jnp.where(is_is, ints.pixels, ints.filters)
    T = jnp.where(is_os, ints.window, jnp.where(is_ws, ints.pixels, ints.filters))

    # 2. fold schedule (sim.systolic.schedule).
    row_folds = ceil_div(Sr, rows)
    col_folds = ceil_div(Sc, cols)
    folds = f(row_folds) * f(col_folds)
    per_fold = jnp.where(is_os, T + rows + cols - 2, 2 * rows + cols + T - 2)
    groups = f(ints.groups)
    Srf, Scf, Tf = f(Sr), f(Sc), f(T)
    by_col = f(col_folds) * Tf * Srf          # col_folds * T * S_r
    by_row = f(row_folds) * Tf * Scf          # row_folds * T * S_c
    tile = Srf * Scf                          # S_r * S_c
    ifmap_sram = jnp.where(is_is, tile, by_col)
    filter_sram = jnp.where(is_os, by_row, jnp.where(is_ws, tile, by_col))
    ofmap_sram = jnp.where(is_os, tile + folds * f(rows + cols), by_row)

    # 3. DRAM traffic (sim.systolic.memory): each operand's role (indexed by the outer loop, the
    # inner loop or both), whether it is held in one SRAM half, and its passes.
    index_table = jnp.asarray(_OPERAND_INDEX_TABLE)
    buffers = (acc.ifmap_buffer_words, acc.filter_buffer_words, acc.ofmap_buffer_words)
    footprints = (ints.ifmap_words, ints.filter_words, ints.ofmap_words)
    row_outer = order == _ROW_OUTER
    outer_folds = jnp.where(row_outer, row_folds, col_folds)
    inner_folds = jnp.where(row_outer, col_folds, row_folds)
    roles, passes = [], []
    for operand, (footprint, buffer) in enumerate(zip(footprints, buffers)):
        code = index_table[dataflow, operand]
        both = code == _BOTH
        outer = ~both & ((code == _ROW) == row_outer)
        buffer = jnp.asarray(buffer, itype)
        held = both | jnp.where(outer, ceil_div(footprint, outer_folds) <= buffer,
                                footprint <= buffer)
        units = f(footprint) * jnp.where(both, 1.0, f(jnp.where(outer, inner_folds, outer_folds)))
        roles.append((both, outer, held, units))
        passes.append(f(jnp.where(held, 1, jnp.where(outer, inner_folds, outer_folds))))
    ifmap_fp, filter_fp, ofmap_fp = (f(x) for x in footprints)
    ifmap_dram = groups * (passes[0] * ifmap_fp)
    filter_dram = groups * (passes[1] * filter_fp)
    ofmap_dram_reads = groups * ((passes[2] - 1) * ofmap_fp)
    ofmap_dram_writes = groups * (passes[2] * ofmap_fp)
    stalls = groups * _stall_per_group(roles, outer_folds, inner_folds, folds, f(per_fold),
                                       jnp.asarray(acc.dram_bandwidth_words_per_cycle, dtype))

    compute = groups * (folds * f(per_fold) - 1)
    total = compute + stalls
    macs = groups * f(ints.pixels) * f(ints.window) * f(ints.filters)

    # 4. energy and area: sim.systolic.energy's own formulas, on arrays.
    bits = f(jnp.asarray(acc.word_bits, itype))
    sram_kb = tuple(jnp.asarray(x, dtype) for x in (acc.ifmap_sram_kb, acc.filter_sram_kb,
                                                    acc.ofmap_sram_kb))
    pes = f(rows * cols)
    params = (pes, bits, sram_kb, jnp.asarray(acc.clock_mhz, dtype))
    psum_reads = groups * ofmap_sram_reads(ofmap_sram, f(ints.ofmap_words), f(~is_os))
    accesses = (groups * ifmap_sram + ifmap_dram, groups * filter_sram + filter_dram,
                ofmap_dram_reads + ofmap_dram_writes)
    dram_words = ifmap_dram + filter_dram + ofmap_dram_reads + ofmap_dram_writes
    energy = layer_energy(macs, accesses, groups * ofmap_sram + psum_reads, dram_words, total,
                          params, table)
    area = area_mm2(params, jnp.asarray(acc.dram_bandwidth_words_per_cycle, dtype), table)
    return CostReport(
        compute_cycles=compute, stall_cycles=stalls, total_cycles=total, macs=macs,
        folds=groups * folds, utilization=macs / (pes * total),
        ifmap_sram_reads=groups * ifmap_sram, filter_sram_reads=groups * filter_sram,
        ofmap_sram_writes=groups * ofmap_sram, ofmap_sram_reads=psum_reads,
        ifmap_dram_reads=ifmap_dram,
        filter_dram_reads=filter_dram, ofmap_dram_reads=ofmap_dram_reads,
        ofmap_dram_writes=ofmap_dram_writes, mac_pj=energy.mac_pj, register_pj=energy.register_pj,
        ifmap_sram_pj=energy.ifmap_sram_pj, filter_sram_pj=energy.filter_sram_pj,
        ofmap_sram_pj=energy.ofmap_sram_pj, dram_pj=energy.dram_pj,
        dram_interface_pj=energy.dram_interface_pj, leakage_pj=energy.leakage_pj,
        energy_pj=energy.total_pj,
        latency_s=total / (jnp.asarray(acc.clock_mhz, dtype) * 1e6), area_mm2=area)


def _moved_at_edge(role, at_outer_edge, at_inner_edge):
    """Units an operand moves at a fold (sim.systolic.memory._by_position)."""
    both, outer, held, units = role
    edge = jnp.where(outer, at_inner_edge, at_outer_edge)
    return jnp.where(both | ~held | edge, units, 0.0)


def _fold_loads(roles, first_outer, first_inner):
    """Units fetched before a fold (sim.systolic.memory.fold_loads)."""
    loads = _moved_at_edge(roles[0], first_outer, first_inner) + \
        _moved_at_edge(roles[1], first_outer, first_inner)
    both, outer, held, units = roles[2]
    first_visit = jnp.where(outer, first_inner, first_outer)
    return loads + jnp.where(both | held | first_visit, 0.0, units)


def _fold_drains(roles, last_outer, last_inner):
    """Units written back after a fold (sim.systolic.memory.fold_drains)."""
    return _moved_at_edge(roles[2], last_outer, last_inner)


def _stall_per_group(roles, outer_folds, inner_folds, folds, per_fold, bandwidth):
    """sim.systolic.memory.stall_cycles for one group: first load, the 3 x 3 classes of folds
    (first, middle, last of each loop) weighted by their sizes, last drain; sim's float64
    operations in sim's order."""
    units_per_cycle = folds * bandwidth

    def cycles(moved_units):
        return jnp.ceil(moved_units / units_per_cycle)

    def classes(iterations):
        one = iterations == 1
        return ((True, one, 1.0), (False, True, jnp.where(one, 0.0, 1.0)),
                (False, False, jnp.maximum(0.0, iterations - 2.0)))

    flags = ((True, True), (True, False), (False, True), (False, False))
    loads = {f: _fold_loads(roles, *f) for f in flags}
    drains = {f: _fold_drains(roles, *f) for f in flags}
    stall = cycles(loads[True, True]) + cycles(drains[True, True])
    inner_classes = classes(inner_folds)
    for first_o, last_o, count_o in classes(outer_folds):
        for first_i, last_i, count_i in inner_classes:
            next_loads = jnp.where(last_i, jnp.where(last_o, 0.0, loads[False, True]),
                                   loads[first_o, False])
            previous_drains = jnp.where(
                first_i, jnp.where(first_o, 0.0, drains[False, True]),
                jnp.where(last_o, drains[True, False], drains[False, False]))
            waiting = jnp.maximum(0.0, cycles(next_loads + previous_drains) - per_fold)
            stall = stall + count_o * count_i * waiting
    return stall

_SUMMED = ("compute_cycles", "stall_cycles", "total_cycles", "macs", "mac_pj", "register_pj",
           "ifmap_sram_pj", "filter_sram_pj", "ofmap_sram_pj", "dram_pj", "dram_interface_pj",
           "leakage_pj", "energy_pj", "latency_s")


def network_cost(report: CostReport) -> dict[str, jax.Array]:
    """Network totals of a :class:`CostReport` (sums over its last, layer axis).

    Returns:
      ``latency_s``, ``energy_pj``, ``area_mm2``, ``edp_pj_s``, ``edap_pj_s_mm2``,
      ``utilization`` (MACs / (PEs * total cycles)), the cycle counts, ``macs``, the DRAM words and
      the energy by component (``*_pj``).
    """
    totals = {field: jnp.sum(getattr(report, field), axis=-1) for field in _SUMMED}
    totals["dram_words"] = jnp.sum(report.ifmap_dram_reads + report.filter_dram_reads
                                   + report.ofmap_dram_reads + report.ofmap_dram_writes, axis=-1)
    # PEs * cycles of each layer is macs / utilization; the network's is their sum.
    totals["utilization"] = totals["macs"] / jnp.sum(report.macs / report.utilization, axis=-1)
    totals["area_mm2"] = report.area_mm2
    totals["edp_pj_s"] = totals["energy_pj"] * totals["latency_s"]
    totals["edap_pj_s_mm2"] = totals["edp_pj_s"] * report.area_mm2
    return totals


# -- the template: knob schema and per-knob choice tables ------------------------------------------

KNOBS = ("rows", "cols", "dataflow", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb",
         "dram_bandwidth_words_per_cycle")
SCHEMA = KnobSchema(
    knobs=KNOBS, mapping="fold_order", fixed=("word_bits", "clock_mhz"),
    defaults={"rows": (8, 16, 32, 64), "cols": (8, 16, 32, 64), "dataflow": DATAFLOWS,
              "ifmap_sram_kb": (16, 32, 64, 128), "filter_sram_kb": (16, 32, 64, 128),
              "ofmap_sram_kb": (16, 32, 64, 128),
              "dram_bandwidth_words_per_cycle": (4.0, 8.0, 16.0, 32.0),
              "fold_order": FOLD_ORDERS, "word_bits": 16, "clock_mhz": 500.0},
    categorical=("dataflow", "fold_order"),
    allowed={"dataflow": DATAFLOWS, "fold_order": FOLD_ORDERS})
"""The systolic hardware space: seven knobs, one fold order per mapping slot, fixed word width and
clock (the defaults are the 12,288-accelerator space of the quickstart)."""


# The knob whose choice sets each AcceleratorArrays field.
_FIELD_KNOB = {"rows": "rows", "cols": "cols", "dataflow": "dataflow",
               "ifmap_buffer_words": "ifmap_sram_kb", "filter_buffer_words": "filter_sram_kb",
               "ofmap_buffer_words": "ofmap_sram_kb", "ifmap_sram_kb": "ifmap_sram_kb",
               "filter_sram_kb": "filter_sram_kb", "ofmap_sram_kb": "ofmap_sram_kb",
               "dram_bandwidth_words_per_cycle": "dram_bandwidth_words_per_cycle"}


def knob_tables(space) -> AcceleratorArrays:
    """The choices of every knob of ``space`` as cost-model values (dataflow index, buffer words):
    each field holds its knob's choices in order; ``word_bits`` and ``clock_mhz`` the fixed
    values."""
    base = space.base_accelerator()
    for knob, choices in space.choices():   # ValueError for a value the cost model cannot hold
        for value in choices:
            accelerator_arrays(dataclasses.replace(base, **{knob: value}))
    bits = space.word_bits
    sram = {f"{op}_buffer_words": buffer_words(getattr(space, f"{op}_sram_kb"), bits,
                                               f"{op}_buffer_words")
            for op in ("ifmap", "filter", "ofmap")}
    return AcceleratorArrays(
        rows=np.asarray(space.rows, np.int32), cols=np.asarray(space.cols, np.int32),
        dataflow=np.asarray([DATAFLOWS.index(d) for d in space.dataflow], np.int32), **sram,
        ifmap_sram_kb=np.asarray(space.ifmap_sram_kb, np.float64),
        filter_sram_kb=np.asarray(space.filter_sram_kb, np.float64),
        ofmap_sram_kb=np.asarray(space.ofmap_sram_kb, np.float64),
        dram_bandwidth_words_per_cycle=np.asarray(space.dram_bandwidth_words_per_cycle, np.float64),
        word_bits=bits, clock_mhz=float(space.clock_mhz))


def gather_accelerators(tables: AcceleratorArrays, indices, xp=jnp) -> AcceleratorArrays:
    """AcceleratorArrays of the accelerators with choice ``indices[..., i]`` of knob ``KNOBS[i]``."""
    fields = {field: xp.take(xp.asarray(getattr(tables, field)),
                             indices[..., KNOBS.index(knob)], axis=0)
              for field, knob in _FIELD_KNOB.items()}
    shape = indices.shape[:-1]
    return AcceleratorArrays(**fields, word_bits=xp.full(shape, tables.word_bits),
                             clock_mhz=xp.full(shape, tables.clock_mhz))


TEMPLATE = CostTemplate(
    name="systolic", schema=SCHEMA, architecture=Accelerator,
    make_mapping=lambda fold_order: Mapping(fold_order=fold_order),
    mapping_index=FOLD_ORDERS.index, layer_arrays=layer_arrays,
    architecture_arrays=accelerator_arrays, knob_tables=knob_tables, gather=gather_accelerators,
    evaluate=evaluate, network_cost=network_cost)
