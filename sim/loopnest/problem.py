"""The problem: one convolution as a 7-dim (8 with groups) loop nest, in Timeloop's vocabulary.

Dimensions (Timeloop's CNN-layer names, plus ``G`` for channel groups):

    N  batch            C  input channels per group     M  output channels (filters) per group
    P  output rows      Q  output columns               R  filter rows     S  filter columns
    G  groups (1 for an ordinary convolution; C for a depthwise one, with C = M = 1 per group)

Each dataspace is the projection of the operation space (one point per MAC) onto its ranks; a rank
is a sum of ``coefficient * dimension`` terms (Timeloop's problem-shape projections):

    Weights  [G, M, C, R, S]
    Inputs   [N, G, C, Wstride*P + Wdilation*R, Hstride*Q + Hdilation*S]
    Outputs  [N, G, M, P, Q]

Timeloop pairs R and P with the input width and ``Wstride``; our :class:`sim.Layer` calls the same
pair the height (``H``, ``R``, ``P``). The names are labels: both strides equal the layer's
``stride``. Inputs live in padded coordinates (padding is zeros the nest still reads), and a tile
of any dataspace is the axis-aligned box its ranks span, ``sum(coefficient * (extent - 1)) + 1``
per rank (Timeloop's hyper-rectangle): the whole of Inputs is the box the windows span,
``Wstride * (P - 1) + Wdilation * (R - 1) + 1`` rows, gaps between windows counted when the stride
exceeds the window and padding the windows never reach left out.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from sim import checks
from sim.workload import Layer

DIMS = ("N", "G", "C", "M", "P", "Q", "R", "S")
"""The problem's dimensions, in a fixed order every array of per-dimension values follows."""

DATASPACES = ("Weights", "Inputs", "Outputs")
"""The dataspaces, Timeloop's names; Outputs is the one that is read-modify-written."""

COEFFICIENTS = ("Wstride", "Hstride", "Wdilation", "Hdilation")
"""The projection coefficients, Timeloop's names."""

REDUCTION_DIMS = ("C", "R", "S")
"""The dimensions Outputs does not index: the sum runs over them."""

_FIELDS = ("name", *DIMS, *COEFFICIENTS)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One convolution's loop bounds and projection coefficients; validated on construction."""

    name: str
    C: int
    M: int
    P: int = 1
    Q: int = 1
    R: int = 1
    S: int = 1
    N: int = 1
    G: int = 1
    Wstride: int = 1
    Hstride: int = 1
    Wdilation: int = 1
    Hdilation: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Problem.name must be a non-empty string, got {self.name!r}")
        owner = f"Problem({self.name!r})"
        for field in (*DIMS, *COEFFICIENTS):
            checks.positive_int(owner, field, getattr(self, field))

    @classmethod
    def from_layer(cls, layer: Layer) -> Problem:
        """The loop nest of a :class:`sim.Layer` (groups as ``G``, channels per group)."""
        if not isinstance(layer, Layer):
            message = f"Problem.from_layer needs a sim.Layer, got {type(layer).__name__}"
            raise ValueError(message)  # noqa: TRY004
        return cls(name=layer.name, N=layer.N, G=layer.groups, C=layer.C // layer.groups,
                   M=layer.M // layer.groups, P=layer.P, Q=layer.Q, R=layer.R, S=layer.S,
                   Wstride=layer.stride, Hstride=layer.stride)

    # -- shape -------------------------------------------------------------------------------------
    @property
    def bounds(self) -> dict[str, int]:
        """Every dimension's bound, in :data:`DIMS` order."""
        return {dim: getattr(self, dim) for dim in DIMS}

    @property
    def macs(self) -> int:
        """Multiply-accumulates: the size of the operation space."""
        return math.prod(self.bounds.values())

    def projection(self, dataspace: str) -> tuple[tuple[tuple[str, int], ...], ...]:
        """The ranks of ``dataspace``, each a tuple of ``(dimension, coefficient)`` terms."""
        checks.one_of(f"Problem({self.name!r}).projection", "dataspace", dataspace, DATASPACES)
        if dataspace == "Weights":
            return ((("G", 1),), (("M", 1),), (("C", 1),), (("R", 1),), (("S", 1),))
        if dataspace == "Outputs":
            return ((("N", 1),), (("G", 1),), (("M", 1),), (("P", 1),), (("Q", 1),))
        return ((("N", 1),), (("G", 1),), (("C", 1),),
                (("R", self.Wdilation), ("P", self.Wstride)),
                (("S", self.Hdilation), ("Q", self.Hstride)))

    def relevant(self, dataspace: str) -> frozenset[str]:
        """The dimensions that index ``dataspace`` (a loop over any other one reuses its tile)."""
        return frozenset(dim for rank in self.projection(dataspace) for dim, _ in rank)

    def tile_words(self, dataspace: str, extents: Mapping[str, int]) -> int:
        """Words of the box of ``dataspace`` that an operation-space box of ``extents`` per
        dimension (missing dimensions: 1) projects onto."""
        return math.prod(rank_extent(rank, extents) for rank in self.projection(dataspace))

    def size_words(self, dataspace: str) -> int:
        """Words of the whole dataspace (Inputs: the padded input)."""
        return self.tile_words(dataspace, self.bounds)

    # -- serialization ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in _FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Problem:
        checks.known_keys("Problem", data, _FIELDS)
        return cls(**data)


def rank_extent(rank, extents: Mapping[str, int]) -> int:
    """The extent of one rank (``(dimension, coefficient)`` terms) over a box of ``extents``."""
    return sum(coefficient * (extents.get(dim, 1) - 1) for dim, coefficient in rank) + 1
