"""Energy per action and area per component of a loop-nest accelerator.

Actions are Timeloop's: a storage level's ``read``, ``fill`` and ``update`` (each charged per
vector access of ``block_size`` words: ``ceil(words per instance / block_size)`` vectors per
instance, every action separately, as Timeloop v0.4), its ``leak`` per cycle and instance, and the
MAC's ``compute``. Prices come from one of two sources:

- the shared, cited 45 nm :class:`sim.EnergyTable` (its docstring gives every source), by the
  level's component: ``"DRAM"`` the DRAM device plus the interface per word, area by the interface
  bandwidth (read bandwidth; unbounded: infinite area, as the systolic template); ``"SRAM"`` the
  power law in its size, a ``block_size * word_bits`` access, leakage and area per KiB;
  ``"regfile"`` the register-file access per word, register area per bit, no leakage (the table
  gives registers none); ``"container"`` nothing; the MAC: the multiply and accumulator-wide add,
  the MAC unit's leakage and area;
- an Accelergy energy reference table (``ERT.yaml`` or ``ERT_summary.yaml``, pJ per vector access
  or per cycle for ``leak``), whose component names (the last dotted segment, ``[a..b]`` ranges
  dropped) are the levels' names: its actions replace the table's prices of that level, found by
  Timeloop's priority lists (:data:`ERT_ACTIONS`); the largest energy over argument variants.
  Areas stay the table's (an ERT prices energy only).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from sim import checks
from sim.energy import EnergyTable
from sim.loopnest.architecture import ComputeLevel, StorageLevel

ERT_ACTIONS = {
    "read": ("random_read", "read"),
    "fill": ("random_fill", "random_write", "fill", "write"),
    "update": ("random_update", "random_write", "update", "write"),
    "compute": ("mac_random", "mult_random", "mac", "mult", "compute"),
    "leak": ("leak",),
}
"""Our action -> the ERT action names that price it, first found wins (Timeloop's
``storageOperationMappings``; ``leak`` in pJ per cycle per instance)."""


class ComponentPrices(NamedTuple):
    """One level's (or the MAC's) prices: pJ per vector access (per MAC for ``compute``), pJ per
    cycle per instance, mm^2 per instance."""

    read_pj: float
    fill_pj: float
    update_pj: float
    compute_pj: float
    leak_pj_per_cycle: float
    area_mm2: float


def _table_prices(table: EnergyTable, level: StorageLevel, clock_mhz: float) -> ComponentPrices:
    bits = level.word_bits
    if level.component == "container":
        return ComponentPrices(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if level.component == "DRAM":
        per_word = table.dram_energy_pj(bits) + table.dram_interface_energy_pj(bits)
        bandwidth = level.read_bandwidth_words_per_cycle
        area = math.inf if bandwidth is None else table.dram_interface_area_mm2(
            bandwidth, bits, clock_mhz)
        vector = per_word * level.block_size
        return ComponentPrices(vector, vector, vector, 0.0, 0.0, area)
    if level.component == "SRAM":
        vector = table.sram_energy_pj(level.size_kb, level.block_size * bits)
        leak = level.size_kb * table.sram_leakage_uw_per_kb / clock_mhz
        area = level.size_kb * table.sram_area_mm2_per_kb
        return ComponentPrices(vector, vector, vector, 0.0, leak, area)
    vector = table.register_energy_pj(bits) * level.block_size       # regfile
    area = table.register_area_mm2(level.depth_words * bits)
    return ComponentPrices(vector, vector, vector, 0.0, 0.0, area)


@dataclasses.dataclass(frozen=True)
class LoopNestEnergyTable:
    """The 45 nm table, and ERT prices by component name that replace its own (module docstring).

    Attributes:
      base: the cited per-action table.
      ert: ``{component name: {action: pJ}}`` with actions of :data:`ERT_ACTIONS`.
    """

    base: EnergyTable = dataclasses.field(default_factory=EnergyTable)
    ert: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.base, EnergyTable):
            got = type(self.base).__name__
            message = f"LoopNestEnergyTable.base must be a sim.EnergyTable, got {got}"
            raise ValueError(message)  # noqa: TRY004
        ert = {}
        for name, actions in dict(self.ert).items():
            for action, energy in dict(actions).items():
                checks.one_of(f"LoopNestEnergyTable.ert[{name!r}]", "action", action,
                              tuple(ERT_ACTIONS))
                checks.number_in(f"LoopNestEnergyTable.ert[{name!r}]", action, energy, 0)
            ert[name] = dict(actions)
        object.__setattr__(self, "ert", ert)

    def __hash__(self):
        return hash((self.base, json.dumps(self.ert, sort_keys=True)))

    def prices(self, level: StorageLevel | ComputeLevel, clock_mhz: float) -> ComponentPrices:
        """The prices of a storage level or of the MACs, ERT entries first."""
        if isinstance(level, ComputeLevel):
            table = self.base
            own = ComponentPrices(0.0, 0.0, 0.0, table.mac_energy_pj(level.word_bits),
                                  table.pe_leakage_uw(level.word_bits) / clock_mhz,
                                  table.mac_area_mm2(level.word_bits))
        else:
            own = _table_prices(self.base, level, clock_mhz)
        ert = self.ert.get(level.name, {})
        return own._replace(**{f"{action}_pj" if action != "leak" else "leak_pj_per_cycle": value
                               for action, value in ert.items()})

    def unused(self, names) -> list[str]:
        """ERT components that name none of ``names`` (a typo would otherwise pass silently)."""
        return sorted(set(self.ert) - set(names))

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "ert": self.ert}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LoopNestEnergyTable:
        checks.known_keys("LoopNestEnergyTable", data, ("base", "ert"))
        return cls(base=EnergyTable.from_dict(data.get("base", {})), ert=data.get("ert", {}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LoopNestEnergyTable:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_accelergy_ert(cls, path: str | Path,
                           base: EnergyTable | None = None) -> LoopNestEnergyTable:
        """The table with the actions of an Accelergy ``ERT.yaml`` (``ERT: tables``) or
        ``ERT_summary.yaml`` (``ERT_summary: table_summary``) file, by component name."""
        import yaml  # only this reader needs PyYAML; sim itself stays numpy-only

        where = f"LoopNestEnergyTable.from_accelergy_ert({str(path)!r})"
        document = yaml.safe_load(Path(path).read_text())
        components = None
        if isinstance(document, dict):
            if isinstance(document.get("ERT"), dict):
                components = document["ERT"].get("tables")
            elif isinstance(document.get("ERT_summary"), dict):
                components = document["ERT_summary"].get("table_summary")
        if not isinstance(components, list):
            message = (f"{where}: not an Accelergy ERT; allowed: a mapping 'ERT' with a 'tables' "
                       "list or 'ERT_summary' with a 'table_summary' list")
            raise ValueError(message)  # noqa: TRY004
        ert = {}
        for component in components:
            name = component.get("name") if isinstance(component, dict) else None
            actions = component.get("actions") if isinstance(component, dict) else None
            if not isinstance(name, str) or not isinstance(actions, list):
                message = f"{where}: entry {component!r} needs a 'name' and an 'actions' list"
                raise ValueError(message)  # noqa: TRY004
            leaf = re.sub(r"\[[^\]]*\]", "", name).split(".")[-1]
            energies: dict[str, float] = {}
            for action in actions:
                value = action.get("energy", action.get("max_energy",
                                                        action.get("average_energy")))
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{where}: component {name!r} action {action.get('name')!r} "
                                     f"needs an energy >= 0 (pJ), got {value!r}")
                key = action.get("name")
                energies[key] = max(energies.get(key, 0.0), float(value))
            ours = {}
            for action, candidates in ERT_ACTIONS.items():
                found = next((energies[c] for c in candidates if c in energies), None)
                if found is not None:
                    ours[action] = found
            ert[leaf] = ours
        return cls(base=EnergyTable() if base is None else base, ert=ert)
