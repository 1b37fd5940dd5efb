"""The mapping: per-layer choices of how the fold schedule is executed (Timeloop's third noun).

The array runs the folds of a layer (see :mod:`sim.systolic.schedule`) in a two-deep loop nest. The
one knob is which of the two fold loops is outer:

- ``"col_outer"`` (SCALE-Sim's order, the default): ``for col_fold: for row_fold:``
- ``"row_outer"``: ``for row_fold: for col_fold:``

Compute cycles and SRAM accesses do not depend on the order; DRAM traffic does, because the
operand indexed by the outer loop stays in its SRAM across the inner loop while the one indexed by
the inner loop is re-fetched on every outer iteration unless it fits whole (see
:mod:`sim.systolic.memory`). The set of mappings is finite (:data:`MAPPINGS`) so that the cost model
can relax it into a categorical choice per layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping as MappingType

from sim import checks

FOLD_ORDERS = ("col_outer", "row_outer")


@dataclasses.dataclass(frozen=True)
class Mapping:
    """How one layer's folds are ordered; validated on construction."""

    fold_order: str = "col_outer"

    def __post_init__(self):
        checks.one_of("Mapping", "fold_order", self.fold_order, FOLD_ORDERS)

    def to_dict(self) -> dict:
        return {"fold_order": self.fold_order}

    @classmethod
    def from_dict(cls, data: MappingType[str, object]) -> Mapping:
        checks.known_keys("Mapping", data, ("fold_order",))
        return cls(**data)


MAPPINGS = tuple(Mapping(fold_order=order) for order in FOLD_ORDERS)
