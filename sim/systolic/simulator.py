"""The exact simulator's fast path: a layer or network on an accelerator, in closed form.

The pipeline, one stage per module (all integer arithmetic, no loop over folds or cycles):

1. workload -> GEMM: per-group ``S_r``, ``S_c``, ``T`` and DRAM footprints  (:mod:`sim.systolic.lowering`)
2. GEMM + array -> fold schedule: compute cycles, SRAM accesses, exactly as SCALE-Sim 3.0.0
   counts them                                                              (:mod:`sim.systolic.schedule`)
3. schedule + mapping + SRAM sizes -> DRAM traffic; + bandwidth -> stalls  (:mod:`sim.systolic.memory`)
4. action counts -> energy by component; accelerator -> area               (:mod:`sim.systolic.energy`)

A grouped layer runs its groups one after another, so every count is ``groups`` times one group's
(compute cycles too: each group's schedule ends with its own drain).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType

from sim.systolic.architecture import Accelerator
from sim.systolic.energy import EnergyBreakdown, EnergyTable, layer_energy
from sim.systolic.lowering import gemm_shape
from sim.systolic.mapping import Mapping
from sim.systolic.memory import buffer_words, dram_traffic, stall_cycles
from sim.systolic.report import LayerReport, NetworkReport
from sim.systolic.schedule import fold_schedule
from sim.workload import Layer, Network

_DEFAULT_ENERGY_TABLE = EnergyTable()


def _check_inputs(accelerator: object, energy_table: object) -> None:
    if not isinstance(accelerator, Accelerator):
        raise ValueError(f"accelerator must be a sim.Accelerator, got {type(accelerator).__name__}")
    if not isinstance(energy_table, EnergyTable):
        raise ValueError(f"energy_table must be a sim.EnergyTable or None, "
                         f"got {type(energy_table).__name__}")


def _simulate(layer: Layer, accelerator: Accelerator, mapping: Mapping,
              table: EnergyTable) -> LayerReport:
    dataflow = accelerator.dataflow
    gemm = gemm_shape(layer, dataflow)
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, accelerator.rows, accelerator.cols,
                             dataflow)
    traffic = dram_traffic(gemm, schedule, dataflow, mapping.fold_order,
                           buffer_words(accelerator))
    groups = gemm.groups
    compute = groups * schedule.compute_cycles
    stalls = int(stall_cycles(traffic, schedule, groups, accelerator.dram_bandwidth))
    total = compute + stalls
    sram = (groups * schedule.ifmap_sram_reads, groups * schedule.filter_sram_reads,
            groups * schedule.ofmap_sram_writes)
    dram = tuple(int(count) for count in (traffic.ifmap_dram_reads, traffic.filter_dram_reads,
                                          traffic.ofmap_dram_reads, traffic.ofmap_dram_writes))
    sram_accesses = (sram[0] + dram[0], sram[1] + dram[1], sram[2] + dram[2] + dram[3])
    macs = layer.macs
    energy = layer_energy(macs, sram_accesses, sum(dram), accelerator, table)
    return LayerReport(
        name=layer.name, kind=layer.kind, dataflow=dataflow, fold_order=mapping.fold_order,
        compute_cycles=compute, stall_cycles=stalls, total_cycles=total, macs=macs,
        folds=groups * schedule.folds, utilization=macs / (accelerator.num_pes * total),
        ifmap_sram_reads=sram[0], filter_sram_reads=sram[1], ofmap_sram_writes=sram[2],
        ifmap_dram_reads=dram[0], filter_dram_reads=dram[1], ofmap_dram_reads=dram[2],
        ofmap_dram_writes=dram[3], energy=EnergyBreakdown(*(float(e) for e in energy)),
        latency_s=total / (accelerator.clock_mhz * 1e6),
        area_mm2=table.accelerator_area_mm2(accelerator))


def simulate_layer(layer: Layer, accelerator: Accelerator, mapping: Mapping | None = None,
                   energy_table: EnergyTable | None = None) -> LayerReport:
    """Cycles, SRAM/DRAM accesses, energy, latency and area of one layer.

    Args:
      layer: the workload.
      accelerator: the systolic-array accelerator (its dataflow included).
      mapping: the fold order; ``None`` is SCALE-Sim's (``Mapping()``).
      energy_table: per-action energies and areas; ``None`` is the default 45 nm table.

    Returns:
      a :class:`sim.systolic.report.LayerReport`; its compute cycles and SRAM counts equal SCALE-Sim's.
    """
    mapping = Mapping() if mapping is None else mapping
    table = _DEFAULT_ENERGY_TABLE if energy_table is None else energy_table
    if not isinstance(layer, Layer):
        raise ValueError(f"layer must be a sim.Layer, got {type(layer).__name__}")
    if not isinstance(mapping, Mapping):
        raise ValueError(f"mapping must be a sim.Mapping or None, got {type(mapping).__name__}")
    _check_inputs(accelerator, table)
    return _simulate(layer, accelerator, mapping, table)


def simulate_network(network: Network, accelerator: Accelerator,
                     mappings: Mapping | MappingType[str, Mapping] | None = None,
                     energy_table: EnergyTable | None = None) -> NetworkReport:
    """Simulates every layer of ``network`` in order on ``accelerator``.

    Args:
      network: the workload.
      accelerator: the accelerator.
      mappings: one :class:`Mapping` for every layer, or a dict from layer name to Mapping (layers
        not named get the default), or ``None`` for the default everywhere.
      energy_table: per-action energies and areas; ``None`` is the default 45 nm table.
    """
    table = _DEFAULT_ENERGY_TABLE if energy_table is None else energy_table
    if not isinstance(network, Network):
        raise ValueError(f"network must be a sim.Network, got {type(network).__name__}")
    _check_inputs(accelerator, table)
    per_layer = _layer_mappings(network, mappings)
    reports = tuple(_simulate(layer, accelerator, per_layer[layer.name], table)
                    for layer in network)
    return NetworkReport(network=network.name, accelerator=accelerator, layers=reports)


def _layer_mappings(network: Network, mappings) -> dict[str, Mapping]:
    names = [layer.name for layer in network]
    if mappings is None or isinstance(mappings, Mapping):
        return dict.fromkeys(names, mappings or Mapping())
    if not isinstance(mappings, MappingType):
        raise ValueError(f"mappings must be a sim.Mapping, a dict of them by layer name or None, "
                         f"got {type(mappings).__name__}")
    unknown = sorted(set(mappings) - set(names))
    if unknown:
        raise ValueError(f"mappings names unknown layer(s) {unknown}; allowed: layers of "
                         f"{network.name!r}: {names}")
    for name, mapping in mappings.items():
        if not isinstance(mapping, Mapping):
            raise ValueError(f"mappings[{name!r}] must be a sim.Mapping, "
                             f"got {type(mapping).__name__}")
    return {name: mappings.get(name, Mapping()) for name in names}
