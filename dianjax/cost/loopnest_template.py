"""The loop-nest template of the cost model: DIAN's generic accelerator, co-searched.

The hardware space is :class:`sim.loopnest.generic.GenericAccelerator`'s knobs (PE array rows and
columns, global buffer KiB, register-file words, DRAM bandwidth); each mapping slot chooses a
dataflow (:data:`~sim.loopnest.generic.DATAFLOWS`: the dataspace the PE register files keep), and
each layer on an accelerator runs the best of its candidate mappings for that dataflow.

Candidate mappings (``layer_arrays``): per distinct layer shape and dataflow, the union of the
eight best distinct mappings :func:`~dianjax.cost.loopnest_mapper.top_candidates` finds on each of
:data:`REPRESENTATIVES` (every array shape of the default space with its smallest and with its
largest buffers), plus one mapping that fits every accelerator (every loop in DRAM). Their access
counts do not depend on the accelerator, so they are counted once (exactly, by
:mod:`dianjax.cost.loopnest`) and only priced per accelerator.

``evaluate`` prices every candidate on one accelerator (the 45 nm table's formulas on traced knob
values, or an ERT's prices by level name), drops those whose tiles or spatial loops do not fit, and
takes, per layer, the candidate of least energy-delay product: its latency and energy are the
layer's; the area is the accelerator's. At a discrete point this is the candidate
:func:`layer_mappings` hands sim (it picks in 64-bit mode; a 32-bit search may break a near-tie
the other way), so cost model and sim agree to float rounding.

The candidates come from :data:`REPRESENTATIVES` and the 45 nm table whatever the space: a space
with larger arrays, other fixed fields or an ERT is priced exactly, but on mappings found for the
default space's accelerators.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dianjax.cost import loopnest
from dianjax.cost.loopnest_mapper import canonical, to_mapping, top_candidates
from dianjax.cost.template import CostTemplate, KnobSchema
from sim.loopnest import DATASPACES, DIMS, LoopNestEnergyTable, LoopNestMapping, Problem
from sim.loopnest.generic import (
    DATAFLOWS,
    LEVEL_NAMES,
    GenericAccelerator,
    dataflow_keep,
)
from sim.workload import Layer, Network

KNOBS = ("pe_rows", "pe_cols", "glb_kb", "rf_words", "dram_bandwidth_words_per_cycle")
_FIXED = ("glb_bandwidth_words_per_cycle", "rf_bandwidth_words_per_cycle", "word_bits",
          "clock_mhz")
_DEFAULT = GenericAccelerator()
SCHEMA = KnobSchema(
    knobs=KNOBS, mapping="dataflow", fixed=_FIXED,
    defaults={"pe_rows": (4, 8, 16), "pe_cols": (4, 8, 16), "glb_kb": (4, 16, 64),
              "rf_words": (16, 64, 256), "dram_bandwidth_words_per_cycle": (2, 4, 8),
              "dataflow": DATAFLOWS, **{field: getattr(_DEFAULT, field) for field in _FIXED}},
    categorical=("dataflow",), allowed={"dataflow": DATAFLOWS})
"""The generic accelerator's space: 3 x 3 array shapes, 3 buffer and 3 register-file sizes, 3 DRAM
bandwidths (243 accelerators); a dataflow per mapping slot."""

REPRESENTATIVES = tuple(
    GenericAccelerator(pe_rows=rows, pe_cols=cols, rf_words=rf, glb_kb=glb)
    for rows, cols in itertools.product((4, 8, 16), repeat=2) for rf, glb in ((16, 4), (256, 64)))
"""The accelerators candidate mappings are searched on (module docstring)."""

_PER_ACCELERATOR = 8
_LEVELS = len(LEVEL_NAMES)


class CandidateArrays(NamedTuple):
    """Per layer and dataflow, ``K`` candidate mappings' counts (padded; ``real`` marks them)."""

    reads: np.ndarray          # [layers, dataflows, K, L, 3] words over the instances used
    fills: np.ndarray
    updates: np.ndarray
    instances: np.ndarray      # [layers, dataflows, K, L + 1]
    tile_words: np.ndarray     # [layers, dataflows, K, L, 3]
    keep: np.ndarray           # [layers, dataflows, K, L, 3]
    compute_cycles: np.ndarray  # [layers, dataflows, K]
    spatial_x: np.ndarray      # [layers, dataflows, K] PE columns used
    spatial_y: np.ndarray      # [layers, dataflows, K] PE rows used
    real: np.ndarray           # [layers, dataflows, K] bool
    macs: np.ndarray           # [layers]


class GenericArrays(NamedTuple):
    """One generic accelerator as scalars (every field of :data:`KNOBS` and the fixed ones)."""

    pe_rows: jax.Array
    pe_cols: jax.Array
    glb_kb: jax.Array
    rf_words: jax.Array
    dram_bandwidth_words_per_cycle: jax.Array
    glb_bandwidth_words_per_cycle: jax.Array
    rf_bandwidth_words_per_cycle: jax.Array
    word_bits: jax.Array
    clock_mhz: jax.Array


class LoopNestCostReport(NamedTuple):
    latency_s: jax.Array       # [layers]
    energy_pj: jax.Array
    area_mm2: jax.Array        # the accelerator's (a scalar)
    cycles: jax.Array
    candidate: jax.Array       # [layers] index of the chosen candidate


def _fallback(problem: Problem) -> tuple[np.ndarray, ...]:
    """Every loop in DRAM, nothing spatial: one-word tiles below, valid on any accelerator."""
    temporal = np.ones((1, _LEVELS, len(DIMS)), np.int64)
    temporal[0, 0] = [problem.bounds[d] for d in DIMS]
    order = np.tile(np.arange(len(DIMS)), (1, _LEVELS, 1))
    zeros = np.ones((1, _LEVELS, len(DIMS)), np.int64)
    return temporal, order, zeros, np.zeros_like(zeros)


@functools.cache
def candidates(problem: Problem, dataflow: str) -> tuple[np.ndarray, ...]:
    """The candidate mappings of one layer shape and dataflow (temporal, order, spatial, axis)."""
    keep = {"pe_regfile": dataflow_keep(dataflow)}
    parts = [_fallback(problem)]
    with jax.enable_x64(True):           # one precision, whoever asks first
        for seed, accelerator in enumerate(REPRESENTATIVES):
            parts.append(top_candidates(problem, accelerator, _PER_ACCELERATOR, keep=keep,
                                        seed=seed))
    stacked = canonical(*(np.concatenate([p[i] for p in parts]) for i in range(4)))
    rows = np.concatenate([a.reshape(len(a), -1) for a in stacked], axis=1)
    _, first = np.unique(rows, axis=0, return_index=True)
    return tuple(a[np.sort(first)] for a in stacked)


def _shape(layer: Layer) -> Problem:
    return dataclasses.replace(Problem.from_layer(layer), name="layer")


def _keep_matrix(dataflow: str) -> np.ndarray:
    keep = np.ones((_LEVELS, len(DATASPACES)), bool)
    keep[2] = [ds in dataflow_keep(dataflow) for ds in DATASPACES]
    return keep


def layer_arrays(layers: Sequence[Layer] | Network) -> CandidateArrays:
    """Every layer's candidate mappings per dataflow, counted (module docstring)."""
    layers = tuple(layers)
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise ValueError("layers must be a non-empty sequence of sim.Layer")
    with jax.ensure_compile_time_eval():     # also when first asked for inside a traced step
        return _layer_arrays(layers)


def _layer_arrays(layers: tuple[Layer, ...]) -> CandidateArrays:
    per_layer = []
    for layer in layers:
        problem = _shape(layer)
        rows = []
        for dataflow in DATAFLOWS:
            temporal, order, spatial, axis = candidates(problem, dataflow)
            keep = np.broadcast_to(_keep_matrix(dataflow), (len(temporal), _LEVELS, 3)).copy()
            problem_arrays = loopnest.problem_arrays(problem)
            distinct = loopnest.distinct_children(problem_arrays, temporal, spatial, keep)
            with jax.enable_x64(True):
                count, _ = loopnest.evaluate(
                    problem_arrays, loopnest.MappingArrays(temporal, order, spatial, axis, keep,
                                                           distinct),
                    loopnest.level_prices(REPRESENTATIVES[-1]))
                count = jax.tree.map(np.asarray, count)
            x = np.where(axis[:, 1] == 0, spatial[:, 1], 1).prod(axis=-1)
            y = np.where(axis[:, 1] == 1, spatial[:, 1], 1).prod(axis=-1)
            rows.append((count, keep, x, y))
        per_layer.append(rows)
    size = max(len(r[0].compute_cycles) for rows in per_layer for r in rows)

    def field(get, fill=0):
        out = []
        for rows in per_layer:
            out.append([np.concatenate([get(r), np.full((size - len(get(r)), *get(r).shape[1:]),
                                                        fill, get(r).dtype)]) for r in rows])
        return np.array(out)

    return CandidateArrays(
        reads=field(lambda r: r[0].reads), fills=field(lambda r: r[0].fills),
        updates=field(lambda r: r[0].updates), instances=field(lambda r: r[0].instances, 1),
        tile_words=field(lambda r: r[0].tile_words), keep=field(lambda r: r[1], False),
        compute_cycles=field(lambda r: r[0].compute_cycles, 1),
        spatial_x=field(lambda r: r[2], 1), spatial_y=field(lambda r: r[3], 1),
        real=field(lambda r: np.ones(len(r[2]), bool), False),
        macs=np.array([layer.macs for layer in layers], np.float64))


def architecture_arrays(accelerator: GenericAccelerator) -> GenericArrays:
    """One :class:`GenericAccelerator` as scalars."""
    if not isinstance(accelerator, GenericAccelerator):
        message = (f"accelerator must be a sim.loopnest.GenericAccelerator, got "
                   f"{type(accelerator).__name__}")
        raise ValueError(message)  # noqa: TRY004
    return GenericArrays(**{field: np.float64(getattr(accelerator, field))
                            for field in GenericArrays._fields})


def knob_tables(space) -> GenericArrays:
    """Every knob's choices, in order; the other fields the base accelerator's."""
    base = architecture_arrays(space.base_accelerator())
    return base._replace(**{knob: np.asarray(choices, np.float64)
                            for knob, choices in space.choices()})


def gather(tables: GenericArrays, indices, xp=jnp) -> GenericArrays:
    """The accelerators with choice ``indices[..., i]`` of knob ``KNOBS[i]``."""
    shape = indices.shape[:-1]
    return GenericArrays(**{
        field: (xp.take(xp.asarray(value), indices[..., KNOBS.index(field)], axis=0)
                if field in KNOBS else xp.full(shape, value))
        for field, value in tables._asdict().items()})


def _prices(accelerator: GenericArrays, table: LoopNestEnergyTable):
    """Per level (DRAM, global buffer, register file): block, depth, bandwidths, fan-out, action
    prices, leakage and area, and the MACs' (sim's :meth:`LoopNestEnergyTable.prices` on traced
    values: the same formulas of the shared table)."""
    base = table.base
    bits = accelerator.word_bits
    clock = accelerator.clock_mhz
    pes = accelerator.pe_rows * accelerator.pe_cols
    glb_words = accelerator.glb_kb * 8192 / bits
    rf_bits = accelerator.rf_words * bits
    dram_word = base.dram_energy_pj(bits) + base.dram_interface_energy_pj(bits)
    sram = base.sram_energy_pj(accelerator.glb_kb, 4 * bits)
    register = base.register_energy_pj(bits)
    own = {
        "DRAM": {"read": 4 * dram_word, "fill": 4 * dram_word, "update": 4 * dram_word, "leak": 0.0,
                     "area": base.dram_interface_area_mm2(
                         accelerator.dram_bandwidth_words_per_cycle, bits, clock)},
        "global_buffer": {"read": sram, "fill": sram, "update": sram,
                              "leak": accelerator.glb_kb * base.sram_leakage_uw_per_kb / clock,
                              "area": accelerator.glb_kb * base.sram_area_mm2_per_kb},
        "pe_regfile": {"read": register, "fill": register, "update": register, "leak": 0.0,
                           "area": base.register_area_mm2(rf_bits)},
        "mac": {"compute": base.mac_energy_pj(bits), "leak": base.pe_leakage_uw(bits) / clock,
                    "area": base.mac_area_mm2(bits)},
    }
    for name, actions in table.ert.items():
        for action, value in actions.items():
            own[name][action] = value
    action = jnp.stack([jnp.stack([jnp.asarray(own[n][a], jnp.result_type(float))
                                   for a in ("read", "fill", "update")]) for n in LEVEL_NAMES])
    instances = jnp.stack([jnp.ones_like(pes), jnp.ones_like(pes), pes])
    leak = (own["global_buffer"]["leak"] + own["DRAM"]["leak"]
            + pes * (own["pe_regfile"]["leak"] + own["mac"]["leak"]))
    area = (own["DRAM"]["area"] + own["global_buffer"]["area"]
            + pes * (own["pe_regfile"]["area"] + own["mac"]["area"]))
    return {
        "block": jnp.array([4.0, 4.0, 1.0]),
        "depth": jnp.stack([jnp.inf * jnp.ones_like(glb_words), glb_words,
                         accelerator.rf_words * jnp.ones_like(glb_words)]),
        "read_bandwidth": jnp.stack([accelerator.dram_bandwidth_words_per_cycle,
                                  accelerator.glb_bandwidth_words_per_cycle,
                                  accelerator.rf_bandwidth_words_per_cycle]),
        "action": action, "instances": instances, "leak": leak, "area": area,
        "mac_pj": own["mac"]["compute"], "clock": clock}


def evaluate(layers: CandidateArrays, accelerator: GenericArrays, mapping_index=0,
             energy_table: LoopNestEnergyTable | None = None) -> LoopNestCostReport:
    """Each layer's least-EDP valid candidate for its dataflow (``mapping_index``: a code per
    layer, or one for all) on one accelerator: latency, energy, cycles and the accelerator's area."""
    table = _table(energy_table)
    prices = _prices(accelerator, table)
    count = len(layers.macs)
    dataflow = jnp.broadcast_to(jnp.asarray(mapping_index), (count,))
    rows = jnp.arange(count)

    def pick(a):
        """The layer's own dataflow's candidates: [layers, K, ...]."""
        return jnp.asarray(a)[rows, dataflow]

    reads, fills, updates = pick(layers.reads), pick(layers.fills), pick(layers.updates)
    used = pick(layers.instances)[..., :-1]                              # [layers, K, L]
    block = prices["block"]
    per_instance = jnp.stack([reads, fills, updates], axis=-1) / used[..., None, None]
    vectors = jnp.ceil(per_instance / block[:, None, None])
    action = jnp.sum(vectors * used[..., None, None] * prices["action"][:, None, :],
                     axis=(-3, -2, -1))
    bandwidth = prices["read_bandwidth"]
    read_demand = jnp.sum(reads, axis=-1) / used / bandwidth
    write_demand = jnp.sum(fills + updates, axis=-1) / used / bandwidth
    compute = pick(layers.compute_cycles)
    cycles = jnp.ceil(jnp.maximum(compute, jnp.max(jnp.maximum(read_demand, write_demand),
                                                   axis=-1)))
    macs = jnp.asarray(layers.macs)[:, None]
    energy = action + macs * prices["mac_pj"] + prices["leak"] * cycles
    latency = cycles / (prices["clock"] * 1e6)
    fits = jnp.all(jnp.sum(pick(layers.tile_words) * pick(layers.keep), axis=-1)
                   <= prices["depth"], axis=-1)
    valid = (fits & pick(layers.real) & (pick(layers.spatial_x) <= accelerator.pe_cols)
             & (pick(layers.spatial_y) <= accelerator.pe_rows))
    best = jnp.argmin(jnp.where(valid, energy * latency, jnp.inf), axis=-1)

    def chosen(a):
        return jnp.take_along_axis(a, best[:, None], axis=1)[:, 0]

    return LoopNestCostReport(latency_s=chosen(latency), energy_pj=chosen(energy),
                              area_mm2=jnp.asarray(prices["area"]),
                              cycles=chosen(cycles), candidate=best)


_evaluate_jit = jax.jit(evaluate, static_argnames="energy_table")


def _table(energy_table) -> LoopNestEnergyTable:
    if energy_table is None:
        return LoopNestEnergyTable()
    if not isinstance(energy_table, LoopNestEnergyTable):
        message = (f"energy_table must be a sim.LoopNestEnergyTable or None, got "
                   f"{type(energy_table).__name__}")
        raise ValueError(message)  # noqa: TRY004
    unknown = energy_table.unused((*LEVEL_NAMES, "mac"))
    if unknown:
        raise ValueError(f"energy_table.ert names {unknown}, not levels of the generic "
                         f"accelerator; allowed: {[*LEVEL_NAMES, 'mac']}")
    return energy_table


def network_cost(report: LoopNestCostReport) -> dict[str, jax.Array]:
    """Network totals: layers one after another on one accelerator."""
    latency = jnp.sum(report.latency_s, axis=-1)
    energy = jnp.sum(report.energy_pj, axis=-1)
    area = report.area_mm2
    return {"latency_s": latency, "energy_pj": energy, "area_mm2": area,
            "edp_pj_s": latency * energy, "edap_pj_s_mm2": latency * energy * area,
            "total_cycles": jnp.sum(report.cycles, axis=-1)}


def layer_mappings(network: Network, accelerator: GenericAccelerator,
                   choices: Mapping[str, str], energy_table=None) -> dict[str, LoopNestMapping]:
    """``{layer name: sim mapping}``: each layer's candidate that :func:`evaluate` picks for its
    dataflow (``choices``) on ``accelerator``."""
    layers = tuple(network)
    codes = np.array([DATAFLOWS.index(choices[layer.name]) for layer in layers])
    with jax.enable_x64(True):
        report = _evaluate_jit(
            layer_arrays(layers), architecture_arrays(accelerator), codes,
            energy_table=energy_table)
        picked = np.asarray(report.candidate)
    out = {}
    for layer, code, index in zip(layers, codes, picked, strict=True):
        dataflow = DATAFLOWS[code]
        temporal, order, spatial, axis = (a[index] for a in candidates(_shape(layer), dataflow))
        out[layer.name] = to_mapping(accelerator, temporal, order, spatial, axis,
                                     {"pe_regfile": dataflow_keep(dataflow)})
    return out


def _no_layer_free_mapping(choice):
    raise ValueError(f"a loop-nest mapping depends on the layer and the accelerator, not only on "
                     f"the dataflow {choice!r}: use HardwareDesign.mappings (layer_mappings)")


TEMPLATE = CostTemplate(
    name="loopnest", schema=SCHEMA, architecture=GenericAccelerator,
    make_mapping=_no_layer_free_mapping, mapping_index=DATAFLOWS.index, layer_arrays=layer_arrays,
    architecture_arrays=architecture_arrays, knob_tables=knob_tables, gather=gather,
    evaluate=evaluate, network_cost=network_cost, layer_mappings=layer_mappings)
