"""The architecture: a memory hierarchy of storage levels over an array of MACs (Timeloop's).

Storage levels are listed from the outermost (DRAM) inward; the compute level (the MACs) is below
the innermost. Each level has:

- ``component``: what it is built as, which prices its actions (:mod:`sim.loopnest.energy`):
  ``"DRAM"``, ``"SRAM"``, ``"regfile"``, or ``"container"`` (Timeloop's spatial container: a level
  that keeps nothing, depth 0, but carries a mesh, e.g. a PE grouping);
- ``depth_words`` (``None``: unbounded, DRAM only), ``word_bits`` and ``block_size`` (words per
  vector access: the unit actions are charged in);
- ``instances`` and ``mesh_x`` (its instances in a ``mesh_x`` x ``instances / mesh_x`` grid); the
  fan-out from a level to the next one inward is the ratio of their instances, ``mesh_x`` ratio
  wide (X) and ``mesh_y`` ratio high (Y): spatial loops of a level's mapping run over that fan-out;
- ``read_bandwidth_words_per_cycle`` / ``write_bandwidth_words_per_cycle`` per instance (``None``:
  unlimited), which throttle the cycles (:mod:`sim.loopnest.simulator`);
- ``keeps``: the dataspaces a mapping may keep there (a mapping may bypass any of them);
- ``links``: whether its instances forward fills to their X and Y neighbours of the fan-out right
  above them (Timeloop's link transfers, on by default there; ``False`` is its
  ``no_link_transfer`` for every dataspace: every fill then comes from the parent).

The outermost level keeps every dataspace and is unbounded or holds the whole problem.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping
from pathlib import Path

from sim import checks
from sim.loopnest.problem import DATASPACES

COMPONENTS = ("DRAM", "SRAM", "regfile", "container")
"""What a storage level can be built as (each priced its own way by :mod:`sim.loopnest.energy`)."""

_LEVEL_FIELDS = ("name", "component", "depth_words", "word_bits", "block_size", "instances",
                 "mesh_x", "read_bandwidth_words_per_cycle", "write_bandwidth_words_per_cycle",
                 "keeps", "links")
_COMPUTE_FIELDS = ("name", "instances", "mesh_x", "word_bits")
_ACCELERATOR_FIELDS = ("name", "levels", "compute", "clock_mhz")


def _optional_bandwidth(owner: str, field: str, value: object) -> float | None:
    return None if value is None else checks.positive_number(owner, field, value)


class _Mesh:
    """``instances`` in a ``mesh_x``-wide grid (``mesh_x`` None: all on X), shared by storage and
    compute levels."""

    def _check_mesh(self, owner: str) -> None:
        if self.mesh_x is None:
            object.__setattr__(self, "mesh_x", self.instances)
        checks.positive_int(owner, "mesh_x", self.mesh_x)
        if self.instances % self.mesh_x:
            raise ValueError(f"{owner}.mesh_x={self.mesh_x} does not divide instances="
                             f"{self.instances}; allowed: a divisor of instances")

    @property
    def mesh_y(self) -> int:
        return self.instances // self.mesh_x


@dataclasses.dataclass(frozen=True)
class StorageLevel(_Mesh):
    """One level of the memory hierarchy (see the module docstring); validated on construction."""

    name: str
    component: str
    depth_words: int | None
    word_bits: int = 16
    block_size: int = 1
    instances: int = 1
    mesh_x: int | None = None
    read_bandwidth_words_per_cycle: float | None = None
    write_bandwidth_words_per_cycle: float | None = None
    keeps: tuple[str, ...] = DATASPACES
    links: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"StorageLevel.name must be a non-empty string, got {self.name!r}")
        owner = f"StorageLevel({self.name!r})"
        checks.one_of(owner, "component", self.component, COMPONENTS)
        for field in ("word_bits", "block_size", "instances"):
            checks.positive_int(owner, field, getattr(self, field))
        self._check_mesh(owner)
        for field in ("read_bandwidth_words_per_cycle", "write_bandwidth_words_per_cycle"):
            _optional_bandwidth(owner, field, getattr(self, field))
        object.__setattr__(self, "keeps", tuple(self.keeps))
        for dataspace in self.keeps:
            checks.one_of(owner, "keeps[]", dataspace, DATASPACES)
        if not isinstance(self.links, bool):
            message = f"{owner}.links must be True or False, got {self.links!r}"
            raise ValueError(message)  # noqa: TRY004
        if len(set(self.keeps)) != len(self.keeps):
            raise ValueError(f"{owner}.keeps={list(self.keeps)} names a dataspace twice")
        if self.component == "container":
            if self.keeps or self.depth_words not in (None, 0):
                raise ValueError(f"{owner}: a 'container' keeps nothing; allowed: keeps=() and "
                                 f"depth_words=0, got keeps={list(self.keeps)}, depth_words="
                                 f"{self.depth_words!r}")
            object.__setattr__(self, "depth_words", 0)
        elif self.depth_words is None:
            if self.component != "DRAM":
                raise ValueError(f"{owner}.depth_words=None (unbounded) is allowed for a 'DRAM' "
                                 f"only, got component {self.component!r}")
        else:
            checks.positive_int(owner, "depth_words", self.depth_words)

    @property
    def size_kb(self) -> float:
        """Capacity in KiB (``inf`` when unbounded)."""
        if self.depth_words is None:
            return float("inf")
        return self.depth_words * self.word_bits / 8192

    def to_dict(self) -> dict:
        data = {field: getattr(self, field) for field in _LEVEL_FIELDS}
        data["keeps"] = list(self.keeps)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> StorageLevel:
        checks.known_keys("StorageLevel", data, _LEVEL_FIELDS)
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class ComputeLevel(_Mesh):
    """The MACs: ``instances`` of them in a ``mesh_x``-wide grid, ``word_bits`` operands."""

    name: str = "MAC"
    instances: int = 1
    mesh_x: int | None = None
    word_bits: int = 16

    def __post_init__(self):
        owner = f"ComputeLevel({self.name!r})"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ComputeLevel.name must be a non-empty string, got {self.name!r}")
        for field in ("instances", "word_bits"):
            checks.positive_int(owner, field, getattr(self, field))
        self._check_mesh(owner)

    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in _COMPUTE_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ComputeLevel:
        checks.known_keys("ComputeLevel", data, _COMPUTE_FIELDS)
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class LoopNestAccelerator:
    """Storage levels (outermost first) over a compute level; validated on construction."""

    name: str
    levels: tuple[StorageLevel, ...]
    compute: ComputeLevel
    clock_mhz: float = 200.0

    def __post_init__(self):
        owner = f"LoopNestAccelerator({self.name!r})"
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels or not all(isinstance(lv, StorageLevel) for lv in self.levels):
            raise ValueError(f"{owner}.levels must be a non-empty sequence of StorageLevel")
        if not isinstance(self.compute, ComputeLevel):
            got = type(self.compute).__name__
            raise ValueError(f"{owner}.compute must be a ComputeLevel, got {got}")  # noqa: TRY004
        checks.positive_number(owner, "clock_mhz", self.clock_mhz)
        names = [lv.name for lv in self.levels] + [self.compute.name]
        if len(set(names)) != len(names):
            raise ValueError(f"{owner}: level names must be unique, got {names}")
        outer = self.levels[0]
        if set(outer.keeps) != set(DATASPACES) or outer.instances != 1:
            raise ValueError(f"{owner}.levels[0] ({outer.name!r}) is the outermost level: it must "
                             f"keep all of {list(DATASPACES)} in one instance, got keeps="
                             f"{list(outer.keeps)}, instances={outer.instances}")
        chain = [*self.levels, self.compute]
        for i, (parent, child) in enumerate(itertools.pairwise(chain)):
            where = f"{owner}.levels[{i + 1}] ({child.name!r})" if i + 1 < len(self.levels) \
                else f"{owner}.compute ({child.name!r})"
            if child.mesh_x % parent.mesh_x or child.mesh_y % parent.mesh_y:
                raise ValueError(
                    f"{where}: its {child.mesh_x}x{child.mesh_y} mesh must be a whole fan-out of "
                    f"the {parent.mesh_x}x{parent.mesh_y} mesh of {parent.name!r} above it; "
                    "allowed: mesh_x and mesh_y multiples of the parent's")

    def level_index(self, name: str) -> int:
        """The position of the storage level called ``name``."""
        names = [lv.name for lv in self.levels]
        checks.one_of(f"LoopNestAccelerator({self.name!r})", "level", name, names)
        return names.index(name)

    def fanout(self, index: int) -> tuple[int, int]:
        """``(X, Y)`` fan-out from storage level ``index`` to the level (or MACs) below it."""
        below = self.levels[index + 1] if index + 1 < len(self.levels) else self.compute
        above = self.levels[index]
        return below.mesh_x // above.mesh_x, below.mesh_y // above.mesh_y

    def to_dict(self) -> dict:
        return {"name": self.name, "levels": [lv.to_dict() for lv in self.levels],
                "compute": self.compute.to_dict(), "clock_mhz": self.clock_mhz}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LoopNestAccelerator:
        checks.known_keys("LoopNestAccelerator", data, _ACCELERATOR_FIELDS)
        levels = data.get("levels")
        if not isinstance(levels, list):
            message = "LoopNestAccelerator.levels must be a list of level objects"
            raise ValueError(message)  # noqa: TRY004
        return cls(name=data["name"], levels=tuple(StorageLevel.from_dict(lv) for lv in levels),
                   compute=ComputeLevel.from_dict(data["compute"]),
                   clock_mhz=data.get("clock_mhz", 200.0))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LoopNestAccelerator:
        return cls.from_dict(json.loads(Path(path).read_text()))
