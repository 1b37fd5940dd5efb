"""Loop-nest simulation results: a :class:`LoopNestLayerReport` per layer, a
:class:`LoopNestNetworkReport` with totals.

Units: cycles of the accelerator's clock, words (accesses), pJ, seconds, mm^2. The accelerator is
one piece of hardware that runs the layers one after another: a network's cycles, latency and
energy are the sums of its layers', its area the accelerator's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sim.loopnest.architecture import LoopNestAccelerator
from sim.loopnest.counts import AccessCounts
from sim.loopnest.mapping import LoopNestMapping


@dataclasses.dataclass(frozen=True)
class LoopNestLayerReport:
    """One layer under one mapping: counts, cycles, energy by level, latency, area."""

    name: str
    kind: str
    mapping: LoopNestMapping
    macs: int
    utilized_macs: int             # MAC instances the mapping uses
    mac_instances: int             # MAC instances the accelerator has
    compute_cycles: int            # temporal iterations of one MAC
    cycles: int                    # compute cycles, throttled by every level's bandwidth
    bound_by: str                  # "compute" or the level whose bandwidth sets ``cycles``
    accesses: tuple[AccessCounts, ...]
    level_energy_pj: dict          # per storage level: its reads, fills and updates
    compute_energy_pj: float
    leakage_energy_pj: float
    latency_s: float
    area_mm2: float                # the accelerator's

    @property
    def energy_pj(self) -> float:
        return (sum(self.level_energy_pj.values()) + self.compute_energy_pj
                + self.leakage_energy_pj)

    @property
    def utilization(self) -> float:
        """MACs done over the MACs the accelerator could do in ``cycles``."""
        return self.macs / (self.cycles * self.mac_instances)

    @property
    def edp_pj_s(self) -> float:
        return self.energy_pj * self.latency_s

    def to_dict(self) -> dict:
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["mapping"] = self.mapping.to_dict()
        data["accesses"] = [dataclasses.asdict(a) for a in self.accesses]
        data["energy_pj"] = self.energy_pj
        return data


@dataclasses.dataclass(frozen=True)
class LoopNestNetworkReport:
    """Per-layer reports of a network on one loop-nest accelerator, with totals as properties."""

    network: str
    accelerator: LoopNestAccelerator
    layers: tuple[LoopNestLayerReport, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError(f"LoopNestNetworkReport({self.network!r}).layers must hold at least "
                             "one LoopNestLayerReport, got none")

    def _sum(self, field: str):
        return sum(getattr(layer, field) for layer in self.layers)

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def total_cycles(self) -> int:
        """Layers one after another."""
        return self._sum("cycles")

    @property
    def energy_pj(self) -> float:
        return self._sum("energy_pj")

    @property
    def latency_s(self) -> float:
        return self._sum("latency_s")

    @property
    def area_mm2(self) -> float:
        return self.layers[0].area_mm2

    @property
    def edp_pj_s(self) -> float:
        return self.energy_pj * self.latency_s

    @property
    def edap_pj_s_mm2(self) -> float:
        return self.edp_pj_s * self.area_mm2

    def totals(self) -> dict:
        return {"macs": self.macs, "total_cycles": self.total_cycles, "energy_pj": self.energy_pj,
                "latency_s": self.latency_s, "area_mm2": self.area_mm2,
                "edp_pj_s": self.edp_pj_s, "edap_pj_s_mm2": self.edap_pj_s_mm2}

    def to_dict(self) -> dict:
        return {"network": self.network, "accelerator": self.accelerator.to_dict(),
                "totals": self.totals(), "layers": [layer.to_dict() for layer in self.layers]}

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")
