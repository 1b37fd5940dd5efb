"""The systolic template's exact simulator: one layer on the array, in closed form.

The pipeline, one stage per module (all integer arithmetic, no loop over folds or cycles):

1. workload -> GEMM: per-group ``S_r``, ``S_c``, ``T`` and DRAM footprints
   (:mod:`sim.systolic.lowering`)
2. GEMM + array -> fold schedule: compute cycles, SRAM accesses, exactly as SCALE-Sim 3.0.0
   counts them (:mod:`sim.systolic.schedule`)
3. schedule + mapping + SRAM sizes -> DRAM traffic; + bandwidth -> stalls
   (:mod:`sim.systolic.memory`, analytical; equal to its cycle-level reference
   :mod:`sim.systolic.memory_engine`)
4. action counts (+ the ofmap's read-modify-write reads) and total cycles -> energy by component
   (leakage included); accelerator -> area (:mod:`sim.systolic.energy`)

A grouped layer runs its groups one after another, so every count is ``groups`` times one group's
(compute cycles too: each group's schedule ends with its own drain).
"""

from __future__ import annotations

from sim.energy import EnergyTable
from sim.systolic.architecture import Accelerator
from sim.systolic.energy import (
    EnergyBreakdown,
    accelerator_area_mm2,
    energy_params,
    layer_energy,
    ofmap_sram_reads,
)
from sim.systolic.lowering import gemm_shape
from sim.systolic.mapping import Mapping
from sim.systolic.memory import buffer_words, dram_traffic, stall_cycles
from sim.systolic.report import LayerReport
from sim.systolic.scalesim_memory import scalesim_memory
from sim.systolic.schedule import fold_schedule
from sim.workload import Layer

# The memory models: ours (sim.systolic.memory, the default) and SCALE-Sim 3.0.0's USER-bandwidth
# buffers (sim.systolic.scalesim_memory, which never reads partial sums back from DRAM).
MEMORY_MODELS = ("ours", "scalesim")


def _memory(layer: Layer, gemm, schedule, accelerator: Accelerator, mapping: Mapping,
            memory_model: str) -> tuple[int, tuple[int, int, int, int]]:
    """Stall cycles and DRAM (ifmap reads, filter reads, ofmap reads, ofmap writes) of a layer."""
    if memory_model == "scalesim":
        counts = scalesim_memory(layer, accelerator, mapping)
        return counts.stall_cycles, (counts.ifmap_dram_reads, counts.filter_dram_reads, 0,
                                     counts.ofmap_dram_writes)
    buffers = buffer_words(accelerator)
    traffic = dram_traffic(gemm, schedule, accelerator.dataflow, mapping.fold_order, buffers)
    stalls = stall_cycles(gemm, schedule, accelerator.dataflow, mapping.fold_order, buffers,
                          accelerator.dram_bandwidth_words_per_cycle)
    return int(stalls), tuple(int(count) for count in (
        traffic.ifmap_dram_reads, traffic.filter_dram_reads, traffic.ofmap_dram_reads,
        traffic.ofmap_dram_writes))


def simulate_layer(layer: Layer, accelerator: Accelerator, mapping: Mapping,
                   table: EnergyTable, memory_model: str = MEMORY_MODELS[0]) -> LayerReport:
    """Cycles, SRAM/DRAM accesses, energy, latency and area of one layer (inputs already checked
    by :func:`sim.simulate_layer`); compute cycles and SRAM counts equal SCALE-Sim's, DRAM counts
    and stalls come from ``memory_model`` (:data:`MEMORY_MODELS`)."""
    dataflow = accelerator.dataflow
    gemm = gemm_shape(layer, dataflow)
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, accelerator.rows, accelerator.cols,
                             dataflow)
    groups = gemm.groups
    compute = groups * schedule.compute_cycles
    stalls, dram = _memory(layer, gemm, schedule, accelerator, mapping, memory_model)
    total = compute + stalls
    sram = (groups * schedule.ifmap_sram_reads, groups * schedule.filter_sram_reads,
            groups * schedule.ofmap_sram_writes)
    psum_reads = groups * ofmap_sram_reads(schedule.ofmap_sram_writes, gemm.ofmap_words,
                                           int(dataflow != "os"))
    word_accesses = (sram[0] + dram[0], sram[1] + dram[1], dram[2] + dram[3])
    macs = layer.macs
    energy = layer_energy(macs, word_accesses, sram[2] + psum_reads, sum(dram), total,
                          energy_params(accelerator), table)
    return LayerReport(
        name=layer.name, kind=layer.kind, dataflow=dataflow, fold_order=mapping.fold_order,
        compute_cycles=compute, stall_cycles=stalls, total_cycles=total, macs=macs,
        folds=groups * schedule.folds, utilization=macs / (accelerator.num_pes * total),
        ifmap_sram_reads=sram[0], filter_sram_reads=sram[1], ofmap_sram_writes=sram[2],
        ofmap_sram_reads=psum_reads,
        ifmap_dram_reads=dram[0], filter_dram_reads=dram[1], ofmap_dram_reads=dram[2],
        ofmap_dram_writes=dram[3], energy=EnergyBreakdown(*(float(e) for e in energy)),
        latency_s=total / (accelerator.clock_mhz * 1e6),
        area_mm2=accelerator_area_mm2(accelerator, table))
