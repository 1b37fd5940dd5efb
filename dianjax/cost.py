"""The differentiable accelerator cost model: ``sim``'s closed forms in ``jax.numpy``, and their relaxation.

**Discrete** (:func:`evaluate`): the same equations as the simulator's fast path, stage for stage
(:mod:`sim.gemm` -> :mod:`sim.schedule` -> :mod:`sim.memory` -> :mod:`sim.energy`), batched over
layers, jit-able and vmappable over accelerators. Fold counts and operand footprints are integers
(int32, or int64 with ``jax_enable_x64``); access counts, energies and cycles are floats. With 64-bit
enabled every figure equals ``sim`` exactly; in the default 32-bit mode the counts are float32
products of exact integers (relative error ~1e-7) and the stall ceiling may differ by one cycle.

**Relaxed** (:func:`relaxed`): the expected cost of a supernet whose layer ``l`` runs op ``k`` with
probability ``op_probs[l, k]`` on an accelerator whose knob ``i`` takes value ``v`` with probability
``p_i(v) = softmax(hw_logits[i] / temperature)(v)`` (fold order: one knob per mapping slot).

- Network side, exact: given the accelerator, latency and energy are sums over layers, linear in
  the op choice, so ``E[latency | hw] = fixed + sum_{l,k} op_probs[l, k] * latency[l, k](hw)``.
  EDP and EDAP are formed from these expectations (EDP of the expected network).
- Hardware side, *local expectation gradients* (Titsias & Lazaro-Gredilla, NeurIPS 2015): the cost
  is a step function of the knob values (ceilings, selects), so reparameterized gradients are zero
  and straight-through estimates are biased. Draw ``h ~ p`` (Gumbel-max with ``key``); for every knob
  ``i`` evaluate the cost at each of its values with the others held at ``h``:
  ``L_i = sum_v p_i(v) C(v, h_-i)``. ``grad L_i`` w.r.t. knob i's logits is an unbiased estimate of
  that part of ``grad E_h[C(h)]``, with one evaluation per value instead of an exponential sum.
  Fold orders are handled the same way per slot, cheaply: changing slot s's order changes only its
  layers. The forward value is the mean of the ``L_i`` (each an unbiased estimate of ``E_h[C]``).

At one-hot probabilities (and logits scaled to one-hot) :func:`relaxed` is exactly
:func:`design_cost` of the discrete pair. Objectives are normalized by the same metric of a
reference (:func:`reference_metrics`: the expected network of uniform op probabilities on the
space's median accelerator), so that lam means the same across networks and spaces.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from dianjax.hardware_space import (FOLD_ORDER, KNOBS, HardwareDesign, HardwareSpace,
                                    mapping_slots, slot_of)
from dianjax.search_space import LayerTable
from sim import _checks
from sim.architecture import DATAFLOWS, Accelerator
from sim.energy import EnergyTable
from sim.mapping import FOLD_ORDERS
from sim.workload import Layer, Network

OBJECTIVES = ("latency", "energy", "edp", "edap", "area")
_DEFAULT_TABLE = EnergyTable()
_WS, _OS, _IS = (DATAFLOWS.index(name) for name in ("ws", "os", "is"))


class LayerArrays(NamedTuple):
    """Conv shapes of a batch of layers, one integer entry per layer (see :class:`sim.Layer`)."""

    N: np.ndarray
    C: np.ndarray
    M: np.ndarray
    H: np.ndarray
    W: np.ndarray
    R: np.ndarray
    S: np.ndarray
    stride: np.ndarray
    padding: np.ndarray
    groups: np.ndarray


class AcceleratorArrays(NamedTuple):
    """An accelerator as numbers (``dataflow``: index into ``sim.DATAFLOWS``); stackable for vmap."""

    rows: jax.Array
    cols: jax.Array
    dataflow: jax.Array
    ifmap_sram_kb: jax.Array
    filter_sram_kb: jax.Array
    ofmap_sram_kb: jax.Array
    dram_bandwidth: jax.Array
    word_bits: jax.Array
    clock_mhz: jax.Array


class CostReport(NamedTuple):
    """Per-layer figures of :func:`evaluate` (the fields of ``sim.LayerReport``) and the area."""

    compute_cycles: jax.Array
    stall_cycles: jax.Array
    total_cycles: jax.Array
    macs: jax.Array
    ifmap_sram_reads: jax.Array
    filter_sram_reads: jax.Array
    ofmap_sram_writes: jax.Array
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
    energy_pj: jax.Array
    latency_s: jax.Array
    area_mm2: jax.Array


class RelaxedCost(NamedTuple):
    """Expected metrics of :func:`relaxed` (scalars, differentiable) and the normalized objective."""

    latency_s: jax.Array
    energy_pj: jax.Array
    area_mm2: jax.Array
    edp: jax.Array
    edap: jax.Array
    objective: jax.Array


def layer_arrays(layers: Sequence[Layer]) -> LayerArrays:
    """The shapes of ``layers`` as integer arrays (int32: every shape and footprint must fit)."""
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise ValueError(f"layer_arrays needs a non-empty sequence of sim.Layer, got {layers!r:.80}")
    for layer in layers:
        if max(layer.ifmap_words, layer.filter_words, layer.ofmap_words) >= 2 ** 31:
            raise ValueError(f"layer {layer.name!r} has an operand of >= 2^31 words; the cost model "
                             f"keeps footprints in int32")
    return LayerArrays(*(np.array([getattr(layer, field) for layer in layers], np.int32)
                         for field in LayerArrays._fields))


def accelerator_arrays(accelerator: Accelerator) -> AcceleratorArrays:
    """``accelerator`` as scalars for :func:`evaluate`."""
    if not isinstance(accelerator, Accelerator):
        raise ValueError(f"accelerator must be a sim.Accelerator, got {type(accelerator).__name__}")
    values = {field: getattr(accelerator, field) for field in AcceleratorArrays._fields}
    values["dataflow"] = DATAFLOWS.index(accelerator.dataflow)
    return AcceleratorArrays(**{k: np.asarray(v, np.int32 if k in ("rows", "cols", "dataflow",
                                                                    "word_bits") else np.float32)
                                for k, v in values.items()})


def _ceil_div(a, b):
    return -(-a // b)


def _passes(role_outer, role_both, footprint, buffer, outer, inner):
    """DRAM passes of an operand (:func:`sim.memory.operand_passes`), role given as masks."""
    as_outer = jnp.where(_ceil_div(footprint, outer) <= buffer, 1, inner)
    as_inner = jnp.where(footprint <= buffer, 1, outer)
    return jnp.where(role_both, 1, jnp.where(role_outer, as_outer, as_inner))


def evaluate(layers: LayerArrays, accelerator: AcceleratorArrays, fold_order=None,
             energy_table: EnergyTable | None = None) -> CostReport:
    """Cycles, accesses, energy and latency of every layer on one accelerator, as ``sim`` computes them.

    Args:
      layers: :func:`layer_arrays` of the layers (int arrays ``[n]``).
      accelerator: :func:`accelerator_arrays` (scalars; vmap over a stacked batch for many).
      fold_order: int ``[n]``, index into ``sim.FOLD_ORDERS`` per layer; ``None``: all ``col_outer``.
      energy_table: per-action energies and areas; ``None`` is sim's default table.
    """
    table = _DEFAULT_TABLE if energy_table is None else energy_table
    ints, floats = jnp.result_type(int), jnp.result_type(float)
    lay = LayerArrays(*(jnp.asarray(x, ints) for x in layers))
    chex.assert_rank(lay.N, 1)
    acc = accelerator
    order = (jnp.zeros_like(lay.N) if fold_order is None
             else jnp.broadcast_to(jnp.asarray(fold_order, ints), lay.N.shape))
    rows, cols, flow = (jnp.asarray(acc.rows, ints), jnp.asarray(acc.cols, ints),
                        jnp.asarray(acc.dataflow, ints))
    g = lay.groups
    P = (lay.H + 2 * lay.padding - lay.R) // lay.stride + 1
    Q = (lay.W + 2 * lay.padding - lay.S) // lay.stride + 1
    pixels, window, filters = lay.N * P * Q, (lay.C // g) * lay.R * lay.S, lay.M // g
    os_, ws_ = flow == _OS, flow == _WS
    Sr = jnp.where(os_, pixels, window)
    Sc = jnp.where(flow == _IS, pixels, filters)
    T = jnp.where(os_, window, jnp.where(ws_, pixels, filters))
    rf, cf = _ceil_div(Sr, rows), _ceil_div(Sc, cols)
    per_fold = jnp.where(os_, T + rows + cols - 2, 2 * rows + cols + T - 2).astype(floats)
    Srf, Scf, Tf, rff, cff = (x.astype(floats) for x in (Sr, Sc, T, rf, cf))
    folds = rff * cff
    gf = g.astype(floats)
    compute = gf * (folds * per_fold - 1)
    streamed_i, streamed_w, outputs = cff * Tf * Srf, rff * Tf * Scf, Srf * Scf
    os_out = outputs + folds * (rows + cols).astype(floats)
    ifmap_sram = gf * jnp.where(flow == _IS, outputs, streamed_i)
    filter_sram = gf * jnp.where(os_, streamed_w, jnp.where(ws_, outputs, streamed_i))
    ofmap_sram = gf * jnp.where(os_, os_out, streamed_w)

    # DRAM passes (sim.memory): which fold loop indexes each operand, per dataflow.
    col_outer = order == FOLD_ORDERS.index("col_outer")
    outer, inner = jnp.where(col_outer, cf, rf), jnp.where(col_outer, rf, cf)
    row_is_outer = ~col_outer
    words_per_kb = 1024 * 8
    word_bits = jnp.asarray(acc.word_bits, ints)
    buffers = [jnp.floor(jnp.asarray(kb, floats) * words_per_kb).astype(ints) // word_bits // 2
               for kb in (acc.ifmap_sram_kb, acc.filter_sram_kb, acc.ofmap_sram_kb)]
    D_i = lay.N * (lay.C // g) * lay.H * lay.W
    D_f = filters * (lay.C // g) * lay.R * lay.S
    D_o = lay.N * filters * P * Q
    # ifmap: row (os, ws) / both (is); filter: col (os) / both (ws) / row (is); ofmap: both / col.
    p_i = _passes(row_is_outer, flow == _IS, D_i, buffers[0], outer, inner)
    p_f = _passes(jnp.where(os_, col_outer, row_is_outer), ws_, D_f, buffers[1], outer, inner)
    p_o = _passes(col_outer, os_, D_o, buffers[2], outer, inner)
    D_if, D_ff, D_of = (x.astype(floats) for x in (D_i, D_f, D_o))
    p_if, p_ff, p_of = (x.astype(floats) for x in (p_i, p_f, p_o))
    ifmap_dram, filter_dram = gf * p_if * D_if, gf * p_ff * D_ff
    ofmap_dram_writes, ofmap_dram_reads = gf * p_of * D_of, gf * (p_of - 1) * D_of

    bandwidth = jnp.asarray(acc.dram_bandwidth, floats)
    group_words = p_if * D_if + p_ff * D_ff + (2 * p_of - 1) * D_of
    exposed = group_words + (folds - 1) * jnp.maximum(0.0, group_words - folds * per_fold * bandwidth)
    stalls = gf * jnp.ceil(exposed / (folds * bandwidth))
    total = compute + stalls

    macs = (lay.N.astype(floats) * lay.M * P * Q) * (window.astype(floats))
    bits = acc.word_bits
    width = bits / table.reference_bits
    mac_e = table.mult_energy_pj * width ** 2 + table.add_energy_pj * width
    reg_e = table.register_access_energy_pj * width
    def sram_e(kb):
        return (table.sram_energy_pj_per_64bit_at_1kb * (jnp.asarray(kb, floats) / 2)
                ** table.sram_energy_size_exponent * bits / 64)
    dram_words = ifmap_dram + filter_dram + ofmap_dram_reads + ofmap_dram_writes
    energy = dict(
        mac_pj=macs * mac_e,
        register_pj=macs * table.register_accesses_per_mac * reg_e,
        ifmap_sram_pj=(ifmap_sram + ifmap_dram) * sram_e(acc.ifmap_sram_kb),
        filter_sram_pj=(filter_sram + filter_dram) * sram_e(acc.filter_sram_kb),
        ofmap_sram_pj=(ofmap_sram + ofmap_dram_reads + ofmap_dram_writes)
        * sram_e(acc.ofmap_sram_kb),
        dram_pj=dram_words * (table.dram_energy_pj_per_64bit * bits / 64))
    pe_um2 = (table.mult_area_um2 * width ** 2 + table.add_area_um2 * width
              + table.pe_register_words * bits * table.register_area_um2_per_bit)
    total_kb = (jnp.asarray(acc.ifmap_sram_kb, floats) + acc.filter_sram_kb + acc.ofmap_sram_kb)
    area = (rows * cols).astype(floats) * pe_um2 / 1e6 + total_kb * table.sram_area_mm2_per_kb
    return CostReport(
        compute_cycles=compute, stall_cycles=stalls, total_cycles=total, macs=macs,
        ifmap_sram_reads=ifmap_sram, filter_sram_reads=filter_sram, ofmap_sram_writes=ofmap_sram,
        ifmap_dram_reads=ifmap_dram, filter_dram_reads=filter_dram,
        ofmap_dram_reads=ofmap_dram_reads, ofmap_dram_writes=ofmap_dram_writes,
        **energy, energy_pj=sum(energy.values()),
        latency_s=total / (jnp.asarray(acc.clock_mhz, floats) * 1e6), area_mm2=area)


def network_cost(report: CostReport) -> dict[str, jax.Array]:
    """Network totals of an :func:`evaluate` report: latency, energy, area, EDP, EDAP, cycles."""
    latency, energy = jnp.sum(report.latency_s), jnp.sum(report.energy_pj)
    return {"latency_s": latency, "energy_pj": energy, "area_mm2": report.area_mm2,
            "edp": latency * energy, "edap": latency * energy * report.area_mm2,
            "total_cycles": jnp.sum(report.total_cycles),
            "stall_cycles": jnp.sum(report.stall_cycles)}


def design_cost(network: Network, design: HardwareDesign,
                energy_table: EnergyTable | None = None) -> dict[str, float]:
    """The cost model's figures for a discrete pair (same keys as :func:`network_cost`)."""
    mappings = design.mappings(network)
    orders = [FOLD_ORDERS.index(mappings[layer.name].fold_order) for layer in network]
    report = evaluate(layer_arrays(network.layers), accelerator_arrays(design.accelerator),
                      np.asarray(orders, np.int32), energy_table)
    return {key: float(value) for key, value in network_cost(report).items()}


def objective(name_or_weights: str | Mapping[str, float], metrics, reference) -> jax.Array:
    """A normalized objective: ``metric / reference metric``, or a weighted sum of such ratios.

    Args:
      name_or_weights: one of :data:`OBJECTIVES`, or ``{name: weight}`` over them.
      metrics, reference: objects with fields ``latency_s, energy_pj, edp, edap, area_mm2``.
    """
    weights = ({name_or_weights: 1.0} if isinstance(name_or_weights, str)
               else dict(name_or_weights))
    if not weights:
        raise ValueError(f"objective weights must name at least one of {list(OBJECTIVES)}")
    total = 0.0
    for name, weight in weights.items():
        _checks.one_of("objective", "name", name, OBJECTIVES)
        field = {"latency": "latency_s", "energy": "energy_pj", "area": "area_mm2"}.get(name, name)
        total = total + weight * getattr(metrics, field) / getattr(reference, field)
    return total


_objective = objective


class _Units(NamedTuple):
    """Every conv a supernet may run, flattened: shapes, mapping slot, and which op runs it."""

    layers: LayerArrays
    slot: np.ndarray      # mapping slot of each unit
    choice: np.ndarray    # l * K + k of the op that runs it, or -1 for a fixed layer
    num_slots: int


@functools.lru_cache(maxsize=16)
def _units(table: LayerTable) -> _Units:
    slots = {name: i for i, name in enumerate(mapping_slots(table))}
    layers, slot, choice = [], [], []
    for layer in table.fixed:
        layers.append(layer), slot.append(slots[layer.name]), choice.append(-1)
    num_ops = len(table.op_names)
    for l, row in enumerate(table.choices):
        for k, op_layers in enumerate(row):
            for layer in op_layers:
                layers.append(layer)
                slot.append(slots[slot_of(layer.name)])
                choice.append(l * num_ops + k)
    return _Units(layer_arrays(layers), np.asarray(slot, np.int32), np.asarray(choice, np.int32),
                  len(slots))


def _knob_arrays(space: HardwareSpace) -> dict[str, np.ndarray]:
    values = {knob: np.asarray(getattr(space, knob), np.float32) for knob in KNOBS
              if knob != "dataflow"}
    values["dataflow"] = np.asarray([DATAFLOWS.index(d) for d in space.dataflow], np.int32)
    return values


def _accelerator_at(space: HardwareSpace, indices: dict) -> AcceleratorArrays:
    values = _knob_arrays(space)
    picked = {knob: jnp.asarray(values[knob])[indices[knob]] for knob in KNOBS}
    return AcceleratorArrays(
        rows=picked["rows"].astype(jnp.int32), cols=picked["cols"].astype(jnp.int32),
        dataflow=picked["dataflow"], ifmap_sram_kb=picked["ifmap_sram_kb"],
        filter_sram_kb=picked["filter_sram_kb"], ofmap_sram_kb=picked["ofmap_sram_kb"],
        dram_bandwidth=picked["dram_bandwidth"], word_bits=jnp.asarray(space.word_bits, jnp.int32),
        clock_mhz=jnp.asarray(space.clock_mhz, jnp.float32))


def _unit_weights(units: _Units, op_probs: jax.Array) -> jax.Array:
    flat = jnp.concatenate([op_probs.reshape(-1), jnp.ones((1,), op_probs.dtype)])
    return flat[np.where(units.choice < 0, flat.shape[0] - 1, units.choice)]


class _Totals(NamedTuple):
    latency_s: jax.Array
    energy_pj: jax.Array
    area_mm2: jax.Array
    edp: jax.Array
    edap: jax.Array


def _totals(latency, energy, area) -> _Totals:
    return _Totals(latency, energy, area, latency * energy, latency * energy * area)


def _check_relaxed_inputs(table, op_probs, hw_logits, space, temperature):
    if not isinstance(table, LayerTable):
        raise ValueError(f"table must be a dianjax.search_space.LayerTable, got {type(table).__name__}")
    if not isinstance(space, HardwareSpace):
        raise ValueError(f"space must be a dianjax.hardware_space.HardwareSpace, "
                         f"got {type(space).__name__}")
    shape = (table.num_layers, len(table.op_names))
    if tuple(np.shape(op_probs)) != shape:
        raise ValueError(f"op_probs must have shape (num_layers, num_ops) = {shape}, "
                         f"got {tuple(np.shape(op_probs))}")
    space.check_logits(hw_logits, table)
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")


def relaxed(table: LayerTable, op_probs: jax.Array, hw_logits: Mapping[str, jax.Array],
            key: jax.Array, temperature, *, space: HardwareSpace, num_samples: int = 1,
            energy_table: EnergyTable | None = None, objective=None,
            reference=None) -> RelaxedCost:
    """Expected latency, energy, area, EDP, EDAP and objective of a relaxed (network, accelerator).

    Differentiable w.r.t. ``op_probs`` (exact expectation) and ``hw_logits`` (local expectation
    gradients, see the module docstring). ``table``, ``space``, ``objective`` and ``num_samples``
    are static; ``op_probs``, ``hw_logits``, ``key`` and ``temperature`` may be traced.

    Args:
      table: the supernet's layer table (:func:`dianjax.search_space.layer_table`).
      op_probs: float[L, K] op probabilities (rows sum to 1 over available ops).
      hw_logits: :meth:`HardwareSpace.init_logits` layout.
      key: PRNG key of the hardware samples.
      temperature: > 0; knob probabilities are ``softmax(logits / temperature)``.
      space: the hardware space the logits index.
      num_samples: independent hardware samples averaged.
      energy_table: ``None`` is sim's default.
      objective: a name of :data:`OBJECTIVES` or ``{name: weight}``; ``None`` gives objective 0.
      reference: the normalizer of the objective (:func:`reference_metrics`); required with it.
    """
    _check_relaxed_inputs(table, op_probs, hw_logits, space, temperature)
    _checks.positive_int("relaxed", "num_samples", num_samples)
    if objective is not None and reference is None:
        raise ValueError("relaxed: an objective needs its reference (see reference_metrics)")
    chex.assert_type(op_probs, float)
    units = _units(table)
    values = _knob_arrays(space)

    def scalar(totals):
        return (jnp.zeros(()) if objective is None
                else _objective(objective, totals, reference))

    def metrics_vector(totals):
        return jnp.stack([*totals, scalar(totals)])

    def one_sample(sample_key):
        knob_keys = jax.random.split(sample_key, len(KNOBS) + 1)
        probs = {knob: jax.nn.softmax(hw_logits[knob] / temperature) for knob in KNOBS}
        fold_probs = jax.nn.softmax(hw_logits[FOLD_ORDER] / temperature, axis=-1)
        sample = {knob: jax.random.categorical(k, jnp.log(probs[knob]))
                  for knob, k in zip(KNOBS, knob_keys)}
        fold_sample = jax.random.categorical(knob_keys[-1], jnp.log(fold_probs), axis=-1)
        weights = _unit_weights(units, op_probs)
        fixed_weights = jax.lax.stop_gradient(weights)

        def network(indices, orders, unit_weights):
            report = evaluate(units.layers, _accelerator_at(space, indices), orders, energy_table)
            return (jnp.sum(unit_weights * report.latency_s),
                    jnp.sum(unit_weights * report.energy_pj), report.area_mm2, report)

        # Base sample: op_probs gradients, and per-slot costs under every fold order.
        base_orders = fold_sample[units.slot]
        latency, energy, area, _ = network(sample, base_orders, weights)
        base = metrics_vector(_totals(latency, energy, area))
        per_order = [network(sample, jnp.full_like(base_orders, v), fixed_weights)[3]
                     for v in range(len(space.fold_order))]
        slot_sum = functools.partial(jax.ops.segment_sum, segment_ids=units.slot,
                                     num_segments=units.num_slots)
        slot_lat = jnp.stack([slot_sum(fixed_weights * r.latency_s) for r in per_order], -1)
        slot_en = jnp.stack([slot_sum(fixed_weights * r.energy_pj) for r in per_order], -1)
        chosen = jax.nn.one_hot(fold_sample, len(space.fold_order))
        lat0, en0 = jax.lax.stop_gradient(latency), jax.lax.stop_gradient(energy)
        swap_lat = lat0 - jnp.sum(chosen * slot_lat, -1, keepdims=True) + slot_lat
        swap_en = en0 - jnp.sum(chosen * slot_en, -1, keepdims=True) + slot_en
        swapped = jax.vmap(jax.vmap(lambda la, en: metrics_vector(_totals(
            la, en, jax.lax.stop_gradient(area)))))(swap_lat, swap_en)      # [slots, V, m]
        fold_local = jnp.sum(fold_probs[..., None] * swapped, axis=1)      # [slots, m]

        # Accelerator knobs: every value of each knob, the others at the sample.
        locals_ = []
        for knob in KNOBS:
            count = len(values[knob])
            def at(v, knob=knob):
                indices = {**sample, knob: v}
                la, en, ar, _ = network(indices, base_orders, fixed_weights)
                return metrics_vector(_totals(la, en, ar))
            per_value = jax.vmap(at)(jnp.arange(count))                     # [V, m]
            locals_.append(jnp.sum(probs[knob][:, None] * per_value, axis=0))
        local = jnp.concatenate([jnp.stack(locals_), fold_local])           # [knobs + slots, m]
        estimate = jax.lax.stop_gradient(jnp.mean(jnp.stack(locals_), axis=0))
        return (estimate + (base - jax.lax.stop_gradient(base))
                + jnp.sum(local - jax.lax.stop_gradient(local), axis=0))

    keys = jax.random.split(key, num_samples)
    vector = jnp.mean(jax.vmap(one_sample)(keys), axis=0)
    return RelaxedCost(*vector)


def reference_metrics(table: LayerTable, space: HardwareSpace,
                      energy_table: EnergyTable | None = None) -> RelaxedCost:
    """The normalizer of objectives: uniform op probabilities on the space's median accelerator.

    Median: the middle choice of every knob (lower middle for an even count), SCALE-Sim's fold
    order. Deterministic and cheap, and the same for every step of a search.
    """
    mask = np.asarray(table.op_mask, np.float32)
    op_probs = jnp.asarray(mask / mask.sum(axis=1, keepdims=True))
    units = _units(table)
    indices = {knob: (len(getattr(space, knob)) - 1) // 2 for knob in KNOBS}
    report = evaluate(units.layers, _accelerator_at(space, indices), None, energy_table)
    weights = _unit_weights(units, op_probs)
    totals = _totals(jnp.sum(weights * report.latency_s), jnp.sum(weights * report.energy_pj),
                     report.area_mm2)
    return RelaxedCost(*totals, objective=jnp.ones(()))
