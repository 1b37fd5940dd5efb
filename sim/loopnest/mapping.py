"""The mapping: one layer's loop nest cut over the storage levels (Timeloop's mapping).

Per storage level (in the architecture's order, outermost first):

- ``temporal``: loops ``(dimension, factor)`` listed outer to inner; the level's instances run them
  one iteration after another;
- ``spatial``: loops ``(dimension, factor, axis)`` with axis ``"X"`` or ``"Y"``, run side by side
  over the fan-out to the level below (the product of a level's X factors is at most its X
  fan-out, likewise Y);
- ``keep``: the dataspaces it keeps (``None``: all the architecture lets it keep); the others
  bypass it, and their accesses go to the next level out that keeps them.

The whole nest, outermost first, is: level 0's temporal loops, its spatial loops, level 1's
temporal loops, its spatial loops, ..., the MACs. A level's tile of a dataspace (per instance) is
what the loops inside its temporal loops touch: its own temporal and spatial loops and every loop of
the levels below. The factors of each dimension multiply to the problem's bound (a dimension no
level names has factor 1 everywhere).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path

from sim import checks
from sim.loopnest.architecture import LoopNestAccelerator
from sim.loopnest.problem import DATASPACES, DIMS, Problem

AXES = ("X", "Y")


def _dim(owner: str, field: str, value: object) -> str:
    return checks.one_of(owner, field, value, DIMS)


@dataclasses.dataclass(frozen=True)
class LevelMapping:
    """One storage level's loops and kept dataspaces; validated on construction."""

    temporal: tuple[tuple[str, int], ...] = ()
    spatial: tuple[tuple[str, int, str], ...] = ()
    keep: tuple[str, ...] | None = None

    def __post_init__(self):
        owner = "LevelMapping"
        temporal = tuple(tuple(loop) for loop in self.temporal)
        spatial = tuple(tuple(loop) for loop in self.spatial)
        for i, loop in enumerate(temporal):
            if len(loop) != 2:
                raise ValueError(f"{owner}.temporal[{i}] must be (dimension, factor), got {loop!r}")
            _dim(owner, f"temporal[{i}].dimension", loop[0])
            checks.positive_int(owner, f"temporal[{i}].factor", loop[1])
        for i, loop in enumerate(spatial):
            if len(loop) != 3:
                raise ValueError(f"{owner}.spatial[{i}] must be (dimension, factor, axis), got "
                                 f"{loop!r}")
            _dim(owner, f"spatial[{i}].dimension", loop[0])
            checks.positive_int(owner, f"spatial[{i}].factor", loop[1])
            checks.one_of(owner, f"spatial[{i}].axis", loop[2], AXES)
        for kind, loops in (("temporal", temporal), ("spatial", spatial)):
            dims = [loop[0] for loop in loops]
            if len(set(dims)) != len(dims):
                raise ValueError(f"{owner}.{kind} names a dimension twice: {dims}; allowed: one "
                                 "loop per dimension per level")
        object.__setattr__(self, "temporal", tuple((d, int(f)) for d, f in temporal))
        object.__setattr__(self, "spatial", tuple((d, int(f), a) for d, f, a in spatial))
        if self.keep is not None:
            keep = tuple(self.keep)
            for dataspace in keep:
                checks.one_of(owner, "keep[]", dataspace, DATASPACES)
            object.__setattr__(self, "keep", keep)

    def factor(self, dim: str, kind: str = "both") -> int:
        """The product of this level's factors of ``dim`` (``kind``: temporal, spatial, both)."""
        loops = {"temporal": self.temporal, "spatial": self.spatial,
                 "both": self.temporal + self.spatial}[kind]
        return math.prod(loop[1] for loop in loops if loop[0] == dim)

    def factor_on(self, axis: str) -> int:
        """The product of this level's spatial factors along ``axis`` ("X" or "Y")."""
        return math.prod(f for _, f, a in self.spatial if a == axis)

    def to_dict(self) -> dict:
        return {"temporal": [list(loop) for loop in self.temporal],
                "spatial": [list(loop) for loop in self.spatial],
                "keep": None if self.keep is None else list(self.keep)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LevelMapping:
        checks.known_keys("LevelMapping", data, ("temporal", "spatial", "keep"))
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class LoopNestMapping:
    """One :class:`LevelMapping` per storage level, outermost first (``()``: none given; the
    template's default, which the simulator refuses: a loop-nest layer needs its mapping)."""

    levels: tuple[LevelMapping, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(self.levels))
        if not all(isinstance(level, LevelMapping) for level in self.levels):
            raise ValueError("LoopNestMapping.levels must be a sequence of LevelMapping")

    def to_dict(self) -> dict:
        return {"levels": [level.to_dict() for level in self.levels]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LoopNestMapping:
        checks.known_keys("LoopNestMapping", data, ("levels",))
        return cls(levels=tuple(LevelMapping.from_dict(level) for level in data["levels"]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LoopNestMapping:
        return cls.from_dict(json.loads(Path(path).read_text()))


def kept(accelerator: LoopNestAccelerator, mapping: LoopNestMapping) -> list[frozenset[str]]:
    """The dataspaces each storage level keeps under ``mapping``."""
    return [frozenset(level.keeps if m.keep is None else m.keep)
            for level, m in zip(accelerator.levels, mapping.levels, strict=True)]


def tile_extents(mapping: LoopNestMapping, index: int) -> dict[str, int]:
    """Per dimension, the extent of storage level ``index``'s tile (one instance): the product of
    the factors of its loops and of every loop below it."""
    return {dim: math.prod(m.factor(dim) for m in mapping.levels[index:]) for dim in DIMS}


def validate(problem: Problem, accelerator: LoopNestAccelerator, mapping: LoopNestMapping) -> None:
    """Raises a ValueError naming the level and field if ``mapping`` is not a valid mapping of
    ``problem`` onto ``accelerator``: one entry per level, factors that multiply to the bounds,
    spatial factors within the fan-out, kept dataspaces the level may keep, tiles that fit."""
    if not isinstance(mapping, LoopNestMapping):
        message = f"mapping must be a sim.LoopNestMapping, got {type(mapping).__name__}"
        raise ValueError(message)  # noqa: TRY004
    names = [level.name for level in accelerator.levels]
    if not mapping.levels:
        raise ValueError(f"the loop-nest template needs a mapping of layer {problem.name!r}: a "
                         "sim.LoopNestMapping with one LevelMapping per storage level of "
                         f"{accelerator.name!r} ({names}); dianjax.cost.loopnest_mapper finds "
                         "the best one")
    if len(mapping.levels) != len(names):
        raise ValueError(f"LoopNestMapping.levels has {len(mapping.levels)} entries; allowed: one "
                         f"per storage level of {accelerator.name!r}: {names}")
    for dim, bound in problem.bounds.items():
        product = math.prod(m.factor(dim) for m in mapping.levels)
        if product != bound:
            factors = {n: m.factor(dim) for n, m in zip(names, mapping.levels, strict=True)
                       if m.factor(dim) != 1}
            raise ValueError(f"LoopNestMapping: the factors of {dim} multiply to {product} "
                             f"({factors}), but Problem({problem.name!r}).{dim}={bound}; allowed: "
                             f"factors whose product is {bound}")
    keeps = kept(accelerator, mapping)
    for i, (level, m) in enumerate(zip(accelerator.levels, mapping.levels, strict=True)):
        owner = f"LoopNestMapping.levels[{i}] ({level.name!r})"
        outside = sorted(keeps[i] - set(level.keeps))
        if outside:
            raise ValueError(f"{owner}.keep names {outside}, which {level.name!r} cannot keep; "
                             f"allowed: a subset of {list(level.keeps)}")
        if i == 0 and keeps[0] != set(DATASPACES):
            raise ValueError(f"{owner}.keep must keep every dataspace at the outermost level, got "
                             f"{sorted(keeps[0])}")
        fan_x, fan_y = accelerator.fanout(i)
        for axis, fan in (("X", fan_x), ("Y", fan_y)):
            used = m.factor_on(axis)
            if used > fan:
                raise ValueError(f"{owner}.spatial: the {axis} factors multiply to {used}, more "
                                 f"than the {axis} fan-out {fan} below {level.name!r}; allowed: "
                                 f"a product <= {fan}")
        if level.depth_words is not None and keeps[i]:
            extents = tile_extents(mapping, i)
            words = {d: problem.tile_words(d, extents) for d in sorted(keeps[i])}
            if sum(words.values()) > level.depth_words:
                raise ValueError(f"{owner}: the kept tiles {words} take {sum(words.values())} "
                                 f"words, more than depth_words={level.depth_words}; allowed: "
                                 "tiles that fit")
        if level.component == "container" and any(f > 1 for _, f in m.temporal):
            raise ValueError(f"{owner}.temporal: {level.name!r} is a container (keeps nothing); "
                             "allowed: spatial loops only")
