"""Crossbar simulation results: a :class:`CrossbarLayerReport` per layer, a
:class:`CrossbarNetworkReport` with totals.

Units: cycles of the ADC clock, counts of actions and of words (buffer accesses), pJ (energy),
seconds (latency), mm^2 (area). The counts are those of :mod:`sim.crossbar.counts`.

A network runs weight-stationary: every layer keeps its own crossbars and tiles (no tile holds two
layers), so the accelerator that runs it has all of them, and its area is the sum of the layers'.
Layers run one after another: the network's cycles and latency are the sum of the layers' (no
pipelining across layers, so this is the latency of one inference, not a throughput bound).
Reports are frozen; ``to_dict()`` gives plain JSON-ready values and ``save_json`` writes them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sim.crossbar.architecture import CrossbarAccelerator
from sim.crossbar.energy import CrossbarEnergyBreakdown

_SUMMED = ("crossbars", "tiles", "used_cells", "mvm_operations", "dac_conversions",
           "adc_conversions", "cell_reads", "shift_add_operations", "psum_additions",
           "input_buffer_reads", "output_buffer_writes", "psum_buffer_reads",
           "psum_buffer_writes", "total_cycles", "macs")


def _breakdown_dict(energy: CrossbarEnergyBreakdown) -> dict:
    return {**energy._asdict(), "total_pj": energy.total_pj}


@dataclasses.dataclass(frozen=True)
class CrossbarLayerReport:
    """Crossbar usage, action counts, cycles, energy, latency and area of one layer."""

    name: str
    kind: str
    crossbar_size: int
    adc_bits: int                  # the resolution used (``"lossless"`` resolved)
    psum_bits: int                 # width of a buffered partial sum
    weight_slices: int
    input_cycles: int
    row_tiles: int                 # per group
    column_tiles: int              # per group
    filters_per_crossbar: int
    crossbars: int
    tiles: int
    used_cells: int
    row_utilization: float
    column_utilization: float
    cell_utilization: float
    macs: int
    input_vectors: int
    mvm_operations: int
    dac_conversions: int
    adc_conversions: int
    cell_reads: int
    shift_add_operations: int
    psum_additions: int
    input_buffer_reads: int
    output_buffer_writes: int
    psum_buffer_reads: int
    psum_buffer_writes: int
    total_cycles: int
    energy: CrossbarEnergyBreakdown
    latency_s: float
    area_mm2: float                # the layer's tiles

    @property
    def energy_pj(self) -> float:
        return self.energy.total_pj

    def to_dict(self) -> dict:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["energy"] = _breakdown_dict(self.energy)
        data["energy_pj"] = self.energy_pj
        return data


@dataclasses.dataclass(frozen=True)
class CrossbarNetworkReport:
    """Per-layer reports of a network on one crossbar accelerator, with totals as properties."""

    network: str
    accelerator: CrossbarAccelerator
    layers: tuple[CrossbarLayerReport, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError(f"CrossbarNetworkReport({self.network!r}).layers must hold at least "
                             "one CrossbarLayerReport, got none")

    def _sum(self, field: str):
        return sum(getattr(layer, field) for layer in self.layers)

    @property
    def crossbars(self) -> int:
        """Crossbars of the whole network (all resident: weight-stationary)."""
        return self._sum("crossbars")

    @property
    def tiles(self) -> int:
        return self._sum("tiles")

    @property
    def total_cycles(self) -> int:
        """Layers one after another."""
        return self._sum("total_cycles")

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def energy(self) -> CrossbarEnergyBreakdown:
        return CrossbarEnergyBreakdown(*(sum(values)
                                         for values in zip(*(r.energy for r in self.layers))))

    @property
    def energy_pj(self) -> float:
        return self.energy.total_pj

    @property
    def latency_s(self) -> float:
        return self._sum("latency_s")

    @property
    def area_mm2(self) -> float:
        """Every layer's tiles: the accelerator that holds the whole network."""
        return self._sum("area_mm2")

    @property
    def edp_pj_s(self) -> float:
        """Energy-delay product."""
        return self.energy_pj * self.latency_s

    @property
    def edap_pj_s_mm2(self) -> float:
        """Energy-delay-area product (NAX's objective)."""
        return self.edp_pj_s * self.area_mm2

    def totals(self) -> dict:
        """Network totals as a plain dict."""
        data = {field: self._sum(field) for field in _SUMMED}
        data.update(energy=_breakdown_dict(self.energy), energy_pj=self.energy_pj,
                    latency_s=self.latency_s, area_mm2=self.area_mm2, edp_pj_s=self.edp_pj_s,
                    edap_pj_s_mm2=self.edap_pj_s_mm2)
        return data

    def to_dict(self) -> dict:
        return {"network": self.network, "accelerator": self.accelerator.to_dict(),
                "totals": self.totals(), "layers": [layer.to_dict() for layer in self.layers]}

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
