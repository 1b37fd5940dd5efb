"""The loop-nest template's simulator: one layer under one mapping, in closed form.

The pipeline, one stage per module:

1. layer -> problem (:mod:`sim.loopnest.problem`), checked against the mapping
   (:mod:`sim.loopnest.mapping`);
2. mapping -> reads, fills and updates per level and dataspace (:mod:`sim.loopnest.counts`,
   exact under Timeloop's semantics; stepped literally by :mod:`sim.loopnest.walker` in the tests);
3. counts -> cycles: the compute cycles (temporal iterations of one MAC), throttled by every
   level's read and write bandwidth per instance, ``ceil(max(compute, reads / read bandwidth,
   (fills + updates) / write bandwidth))`` over the levels (Timeloop's ``slowdown``);
4. counts and cycles -> energy (each action per vector of ``block_size`` words, every instance's
   leakage over the cycles) and area (:mod:`sim.loopnest.energy`).

The "memory model" of this template is the sliding-window rule
(:data:`sim.loopnest.counts.SLIDING_WINDOW_RULES`).
"""

from __future__ import annotations

import math

from sim.loopnest.architecture import LoopNestAccelerator
from sim.loopnest.counts import SLIDING_WINDOW_RULES, LoopNestCounts, access_counts
from sim.loopnest.energy import LoopNestEnergyTable
from sim.loopnest.mapping import LoopNestMapping
from sim.loopnest.problem import Problem
from sim.loopnest.report import LoopNestLayerReport
from sim.workload import Layer

MEMORY_MODELS = SLIDING_WINDOW_RULES


def cycles(counts: LoopNestCounts, accelerator: LoopNestAccelerator) -> tuple[int, str]:
    """The layer's cycles and what bounds them (``"compute"`` or a level's name)."""
    best, bound = counts.compute_cycles, "compute"
    for level in accelerator.levels:
        rows = [a for a in counts.accesses if a.level == level.name]
        if not rows:
            continue
        instances = rows[0].instances
        demand = ((level.read_bandwidth_words_per_cycle, sum(a.reads for a in rows)),
                  (level.write_bandwidth_words_per_cycle,
                   sum(a.fills + a.updates for a in rows)))
        for bandwidth, words in demand:
            if bandwidth is not None and words / instances / bandwidth > best:
                best, bound = words / instances / bandwidth, level.name
    return math.ceil(best), bound


def area_mm2(accelerator: LoopNestAccelerator, table: LoopNestEnergyTable) -> float:
    """Every instance of every level and MAC."""
    clock = accelerator.clock_mhz
    return (sum(level.instances * table.prices(level, clock).area_mm2
                for level in accelerator.levels)
            + accelerator.compute.instances * table.prices(accelerator.compute, clock).area_mm2)


def evaluate(problem: Problem, accelerator: LoopNestAccelerator, mapping: LoopNestMapping,
             table: LoopNestEnergyTable | None = None,
             rule: str = SLIDING_WINDOW_RULES[0], kind: str = "conv") -> LoopNestLayerReport:
    """Counts, cycles, energy, latency and area of ``problem`` under ``mapping``."""
    table = LoopNestEnergyTable() if table is None else table
    counts = access_counts(problem, accelerator, mapping, rule)
    total_cycles, bound = cycles(counts, accelerator)
    clock = accelerator.clock_mhz
    level_energy = {}
    leakage = 0.0
    for level in accelerator.levels:
        prices = table.prices(level, clock)
        energy = 0.0
        for a in counts.accesses:
            if a.level != level.name:
                continue
            for words, price in ((a.reads, prices.read_pj), (a.fills, prices.fill_pj),
                                 (a.updates, prices.update_pj)):
                vectors = -(-words // (a.instances * level.block_size))   # ceil per instance
                energy += vectors * a.instances * price
        level_energy[level.name] = energy
        leakage += level.instances * prices.leak_pj_per_cycle * total_cycles
    mac = table.prices(accelerator.compute, clock)
    leakage += accelerator.compute.instances * mac.leak_pj_per_cycle * total_cycles
    return LoopNestLayerReport(
        name=problem.name, kind=kind, mapping=mapping, macs=counts.macs,
        utilized_macs=counts.utilized_macs, mac_instances=accelerator.compute.instances,
        compute_cycles=counts.compute_cycles, cycles=total_cycles, bound_by=bound,
        accesses=counts.accesses, level_energy_pj=level_energy,
        compute_energy_pj=counts.macs * mac.compute_pj, leakage_energy_pj=leakage,
        latency_s=total_cycles / (clock * 1e6), area_mm2=area_mm2(accelerator, table))


def simulate_layer(layer: Layer, accelerator: LoopNestAccelerator, mapping: LoopNestMapping,
                   table: LoopNestEnergyTable,
                   memory_model: str = MEMORY_MODELS[0]) -> LoopNestLayerReport:
    """One :class:`sim.Layer` under ``mapping`` (inputs already checked by
    :func:`sim.simulate_layer`); ``memory_model`` is the sliding-window rule."""
    return evaluate(Problem.from_layer(layer), accelerator, mapping, table, memory_model,
                    kind=layer.kind)
