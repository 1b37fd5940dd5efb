"""Simulation results: one :class:`LayerReport` per layer, a :class:`NetworkReport` with totals.

Units: cycles, words (SRAM and DRAM accesses), pJ (energy), seconds (latency), mm^2 (area).
``utilization`` is MACs / (PEs * total cycles), SCALE-Sim's "overall utilization" as a fraction.
``ofmap_sram_reads`` are the partial sums read back to be accumulated (read-modify-write; not in
SCALE-Sim, which counts the ofmap SRAM's writes only; :func:`sim.systolic.energy.ofmap_sram_reads`).
Reports are frozen; ``to_dict()`` gives plain JSON-ready values and ``save_json`` writes them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sim.systolic.architecture import Accelerator
from sim.systolic.energy import EnergyBreakdown

_COUNTS = ("compute_cycles", "stall_cycles", "total_cycles", "macs", "folds",
           "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes", "ofmap_sram_reads",
           "ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_reads", "ofmap_dram_writes")


def _breakdown_dict(energy: EnergyBreakdown) -> dict:
    return {**energy._asdict(), "sram_pj": energy.sram_pj, "total_pj": energy.total_pj}


@dataclasses.dataclass(frozen=True)
class LayerReport:
    """Cycles, accesses, energy, latency and area of one layer on one accelerator."""

    name: str
    kind: str
    dataflow: str
    fold_order: str
    compute_cycles: int
    stall_cycles: int
    total_cycles: int
    macs: int
    folds: int
    utilization: float
    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int
    ofmap_sram_reads: int
    ifmap_dram_reads: int
    filter_dram_reads: int
    ofmap_dram_reads: int
    ofmap_dram_writes: int
    energy: EnergyBreakdown
    latency_s: float
    area_mm2: float

    @property
    def energy_pj(self) -> float:
        return self.energy.total_pj

    @property
    def dram_words(self) -> int:
        return (self.ifmap_dram_reads + self.filter_dram_reads + self.ofmap_dram_reads
                + self.ofmap_dram_writes)

    def to_dict(self) -> dict:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["energy"] = _breakdown_dict(self.energy)
        data["energy_pj"] = self.energy_pj
        return data


@dataclasses.dataclass(frozen=True)
class NetworkReport:
    """Per-layer reports of a network on one accelerator, with totals as properties."""

    network: str
    accelerator: Accelerator
    layers: tuple[LayerReport, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError(f"NetworkReport({self.network!r}).layers must hold at least one "
                             "LayerReport, got none")

    def _sum(self, field: str) -> int:
        return sum(getattr(layer, field) for layer in self.layers)

    @property
    def compute_cycles(self) -> int:
        return self._sum("compute_cycles")

    @property
    def stall_cycles(self) -> int:
        return self._sum("stall_cycles")

    @property
    def total_cycles(self) -> int:
        return self._sum("total_cycles")

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def utilization(self) -> float:
        return self.macs / (self.accelerator.num_pes * self.total_cycles)

    @property
    def energy(self) -> EnergyBreakdown:
        return EnergyBreakdown(*(sum(values) for values in zip(*(r.energy for r in self.layers))))

    @property
    def energy_pj(self) -> float:
        return self.energy.total_pj

    @property
    def latency_s(self) -> float:
        return self._sum("latency_s")

    @property
    def area_mm2(self) -> float:
        return self.layers[0].area_mm2

    @property
    def dram_words(self) -> int:
        return self._sum("dram_words")

    def totals(self) -> dict:
        """Network totals as a plain dict."""
        data = {field: self._sum(field) for field in _COUNTS}
        data.update(utilization=self.utilization, energy=_breakdown_dict(self.energy),
                    energy_pj=self.energy_pj, latency_s=self.latency_s, area_mm2=self.area_mm2)
        return data

    def to_dict(self) -> dict:
        return {"network": self.network, "accelerator": self.accelerator.to_dict(),
                "totals": self.totals(), "layers": [layer.to_dict() for layer in self.layers]}

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
