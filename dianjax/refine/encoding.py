"""Discrete design spaces and their continuous encoding, for surrogate search over design pairs.

A *design* is a tuple of choice indices, one per :class:`Dimension`; index ``i`` of a dimension picks
``values[i]``. A dimension may permit only a subset of its values (``allowed``), e.g. a layer where
some ops of the shared op list are unavailable, and a :class:`DesignSpace` may carry a validity
predicate over whole designs (e.g. an area limit). Designs are tuples of Python ints, so they are
hashable and canonical: equal designs are equal keys for de-duplication and caches.

Encoding convention (unitless, every coordinate in ``[0, 1]``):

- an *ordinal* dimension (ordered numeric knobs: rows in {8, 16, 32, 64}, buffer sizes) is one scalar,
  the *rank* of the index among all values scaled to ``[0, 1]`` (``i / (len(values) - 1)``). Ranks
  rather than raw numbers make geometric grids (powers of two) evenly spaced, i.e. log-scaled.
- a *nominal* dimension (labels without an order: dataflow in {ws, os, is}, op type) is a one-hot
  block over its *allowed* values. One-hot rather than a learned embedding: it needs no training,
  keeps every design at a vertex of the relaxation below, and makes "nearest valid design" exact
  and cheap (the squared distance to a one-hot vector is ``|x|^2 - 2 x_k + 1``).

The continuous relaxation the acquisition is optimized over is the convex hull of all encodings:
the product of the interval ``[0, 1]`` per ordinal dimension and the probability simplex per nominal
block (:attr:`DesignSpace.blocks`). Its vertices are one-hot choices, so a maximizer at a vertex is
a real design; the plain box ``[0, 1]^F`` would let several "one-hot" coordinates be 1 at once,
points no design has, where the surrogate only extrapolates.

Decoding snaps any vector to the valid design nearest in Euclidean distance. The distance is a sum
of per-dimension terms, so designs can be enumerated in exactly increasing distance (best-first
search over per-dimension ranked choices); the first one that passes the allowed subsets, the
predicate and an optional exclusion set (already queried designs) is the answer.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import numbers
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import NamedTuple

import numpy as np

Design = tuple[int, ...]


class EncodingBlock(NamedTuple):
    """Coordinates ``[start, stop)`` of one dimension; on a simplex (nominal) or in ``[0, 1]``."""

    start: int
    stop: int
    simplex: bool

ORDINAL = "ordinal"
NOMINAL = "nominal"
KINDS = (ORDINAL, NOMINAL)


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One categorical choice of a design: ordered ``values`` and the indices ``allowed`` among them.

    Args:
      name: unique name within a space, e.g. ``"layer3.op"`` or ``"rows"``.
      values: the choices, numbers or labels (JSON scalars), in order for ordinal dimensions.
      kind: ``"ordinal"`` (encoded as one rank scalar) or ``"nominal"`` (one-hot block).
      allowed: sorted indices into ``values`` permitted here; ``None`` means all of them.
    """

    name: str
    values: tuple
    kind: str = ORDINAL
    allowed: tuple[int, ...] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Dimension.name must be a non-empty string, got {self.name!r}")
        owner = f"Dimension({self.name!r})"
        values = self.values
        if isinstance(values, Sequence) and not isinstance(values, str):
            values = tuple(values)
        if not isinstance(values, tuple) or not values:
            raise ValueError(f"{owner}.values must be a non-empty sequence, got {self.values!r}")
        for value in values:
            if not isinstance(value, (str, numbers.Real)):
                raise ValueError(f"{owner}.values must hold numbers or strings, got {value!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{owner}.values must be unique, got {list(values)}")
        object.__setattr__(self, "values", values)
        if self.kind not in KINDS:
            raise ValueError(f"{owner}.kind must be one of {list(KINDS)}, got {self.kind!r}")
        allowed = tuple(range(len(values))) if self.allowed is None else tuple(self.allowed)
        for index in allowed:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not (
                    0 <= index < len(values)):
                raise ValueError(f"{owner}.allowed must hold indices in [0, {len(values) - 1}], "
                                 f"got {list(allowed)}")
        if not allowed or list(allowed) != sorted(set(allowed)):
            raise ValueError(f"{owner}.allowed must be a non-empty, sorted list of unique indices, "
                             f"got {list(allowed)}")
        object.__setattr__(self, "allowed", tuple(int(i) for i in allowed))

    @property
    def width(self) -> int:
        """Number of encoded coordinates: 1 (ordinal) or the number of allowed values (nominal)."""
        return 1 if self.kind == ORDINAL else len(self.allowed)

    def encode(self, index: int) -> np.ndarray:
        """The encoded block of choice ``index`` (which must be allowed)."""
        if self.kind == ORDINAL:
            return np.array([index / max(len(self.values) - 1, 1)], dtype=np.float32)
        block = np.zeros(len(self.allowed), dtype=np.float32)
        block[self.allowed.index(index)] = 1.0
        return block

    def squared_distances(self, block: np.ndarray) -> np.ndarray:
        """Squared distance from an encoded ``block`` to each allowed choice, in ``allowed`` order."""
        return np.array([float(np.sum((block - self.encode(i)) ** 2)) for i in self.allowed])

    def to_dict(self) -> dict:
        return {"name": self.name, "values": list(self.values), "kind": self.kind,
                "allowed": list(self.allowed)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Dimension:
        unknown = sorted(set(data) - {"name", "values", "kind", "allowed"})
        if unknown:
            raise ValueError(f"Dimension got unknown field(s) {unknown}; "
                             "allowed fields: ['allowed', 'kind', 'name', 'values']")
        return cls(name=data["name"], values=tuple(data["values"]), kind=data.get("kind", ORDINAL),
                   allowed=None if data.get("allowed") is None else tuple(data["allowed"]))


@dataclasses.dataclass(frozen=True)
class DesignSpace:
    """A product of dimensions, optionally restricted by a predicate over whole designs.

    Args:
      dimensions: the choices, in design order; names must be unique.
      is_valid: optional predicate ``design -> bool`` applied after the per-dimension subsets
        (e.g. "the accelerator fits in 2 mm^2"). It must be deterministic.
    """

    dimensions: tuple[Dimension, ...]
    is_valid: Callable[[Design], bool] | None = None

    def __post_init__(self):
        dims = tuple(self.dimensions)
        if not dims:
            raise ValueError("DesignSpace.dimensions must hold at least one Dimension, got none")
        for position, dim in enumerate(dims):
            if not isinstance(dim, Dimension):
                raise ValueError(f"DesignSpace.dimensions[{position}] must be a Dimension, "
                                 f"got {type(dim).__name__}")
        names = [dim.name for dim in dims]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"DesignSpace.dimensions has duplicate names {duplicates}; "
                             "allowed: unique names")
        object.__setattr__(self, "dimensions", dims)
        offsets = np.cumsum([0] + [dim.width for dim in dims])
        object.__setattr__(self, "_slices", tuple(slice(int(a), int(b))
                                                  for a, b in zip(offsets[:-1], offsets[1:])))

    # -- sizes ----------------------------------------------------------------------------------
    @property
    def num_features(self) -> int:
        """Length of an encoded design."""
        return self._slices[-1].stop

    @property
    def num_combinations(self) -> int:
        """Designs permitted by the per-dimension subsets (before the predicate)."""
        return math.prod(len(dim.allowed) for dim in self.dimensions)

    @property
    def blocks(self) -> tuple[EncodingBlock, ...]:
        """The relaxation's factors, one per dimension, in encoding order (hashable)."""
        return tuple(EncodingBlock(part.start, part.stop, dim.kind == NOMINAL)
                     for dim, part in zip(self.dimensions, self._slices))

    # -- validity -------------------------------------------------------------------------------
    def _within_subsets(self, design: Sequence[int]) -> bool:
        return all(index in dim.allowed for index, dim in zip(design, self.dimensions))

    def contains(self, design: Sequence[int]) -> bool:
        """Whether ``design`` is a valid design of this space."""
        if len(design) != len(self.dimensions) or not self._within_subsets(design):
            return False
        return self.is_valid is None or bool(self.is_valid(tuple(int(i) for i in design)))

    def canonical(self, design: Sequence[int]) -> Design:
        """``design`` as a tuple of Python ints, or a ValueError naming what makes it invalid."""
        if isinstance(design, (str, bytes)) or not isinstance(design, Sequence):
            raise ValueError(f"design must be a sequence of choice indices, got {design!r}")
        if len(design) != len(self.dimensions):
            raise ValueError(f"design must have {len(self.dimensions)} indices (one per dimension "
                             f"{[dim.name for dim in self.dimensions]}), got {len(design)}")
        for index, dim in zip(design, self.dimensions):
            if isinstance(index, bool) or not isinstance(index, numbers.Integral) or (
                    int(index) not in dim.allowed):
                raise ValueError(f"design index for {dim.name!r} must be one of {list(dim.allowed)}"
                                 f" (values {[dim.values[i] for i in dim.allowed]}), got {index!r}")
        design = tuple(int(i) for i in design)
        if self.is_valid is not None and not self.is_valid(design):
            raise ValueError(f"design {self.values(design)} fails the space's validity predicate")
        return design

    def values(self, design: Sequence[int]) -> dict[str, object]:
        """The chosen value of every dimension, by name."""
        return {dim.name: dim.values[index] for index, dim in zip(design, self.dimensions)}

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, design: Sequence[int]) -> np.ndarray:
        """The float32 encoding of one valid design, shape ``(num_features,)``."""
        design = self.canonical(design)
        return np.concatenate([dim.encode(i) for i, dim in zip(design, self.dimensions)])

    def encode_many(self, designs: Sequence[Sequence[int]]) -> np.ndarray:
        """Encodings of several designs, shape ``(len(designs), num_features)``."""
        if not designs:
            return np.zeros((0, self.num_features), np.float32)
        return np.stack([self.encode(design) for design in designs])

    def decode(self, x: np.ndarray, exclude: Collection[Design] = frozenset(),
               max_candidates: int = 100_000) -> Design:
        """The valid design nearest to ``x`` (Euclidean, in encoding space) that is not excluded.

        Args:
          x: a vector of shape ``(num_features,)``; values outside ``[0, 1]`` are clipped first.
          exclude: designs to skip (e.g. those already queried).
          max_candidates: how many designs, in increasing distance, to try before giving up.

        Returns:
          The nearest admissible design; ties are broken by the lower choice rank.

        Raises:
          ValueError: on a wrong shape, or if no admissible design is among the ``max_candidates``
            nearest ones.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.num_features,) or not np.all(np.isfinite(x)):
            raise ValueError(f"decode: x must be a finite vector of shape ({self.num_features},), "
                             f"got shape {x.shape}")
        x = np.clip(x, 0.0, 1.0)
        exclude = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        # Per dimension: allowed choices sorted by their distance term.
        choices, costs = [], []
        for dim, part in zip(self.dimensions, self._slices):
            dist = dim.squared_distances(x[part])
            order = np.argsort(dist, kind="stable")
            choices.append([dim.allowed[k] for k in order])
            costs.append(dist[order])
        start = (0,) * len(self.dimensions)
        heap = [(float(sum(c[0] for c in costs)), start)]
        seen = {start}
        for _ in range(max_candidates):
            if not heap:
                break
            cost, ranks = heapq.heappop(heap)
            design = tuple(choice[r] for choice, r in zip(choices, ranks))
            if design not in exclude and (self.is_valid is None or self.is_valid(design)):
                return design
            for d, r in enumerate(ranks):
                if r + 1 < len(choices[d]):
                    nxt = ranks[:d] + (r + 1,) + ranks[d + 1:]
                    if nxt not in seen:
                        seen.add(nxt)
                        heapq.heappush(heap, (cost - costs[d][r] + costs[d][r + 1], nxt))
        raise ValueError(f"decode: no valid design outside the {len(exclude)} excluded ones among "
                         f"the max_candidates={max_candidates} nearest designs")

    # -- sampling and enumeration ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator, num: int, exclude: Collection[Design] = frozenset(),
               max_tries: int = 100_000) -> list[Design]:
        """``num`` distinct valid designs drawn uniformly from the subsets by rejection.

        Raises:
          ValueError: if fewer than ``num`` admissible designs are found within ``max_tries`` draws.
        """
        found: list[Design] = []
        taken = set(exclude)
        for _ in range(max_tries):
            if len(found) == num:
                break
            design = tuple(int(dim.allowed[rng.integers(len(dim.allowed))])
                           for dim in self.dimensions)
            if design not in taken and (self.is_valid is None or self.is_valid(design)):
                taken.add(design)
                found.append(design)
        if len(found) < num:
            raise ValueError(f"sample: found only {len(found)} of num={num} new valid designs in "
                             f"max_tries={max_tries} draws")
        return found

    def enumerate(self) -> Iterator[Design]:
        """Every valid design, in lexicographic order of choice indices (small spaces only)."""
        for design in itertools.product(*(dim.allowed for dim in self.dimensions)):
            if self.is_valid is None or self.is_valid(design):
                yield tuple(int(i) for i in design)

    def to_dict(self) -> dict:
        """The dimensions as JSON data (the predicate is code and is not serialized)."""
        return {"dimensions": [dim.to_dict() for dim in self.dimensions]}
