"""The mapping: how one layer's weights are laid out on crossbars (PUMA / NeuroSim convention).

One convolution group is the weight matrix of ``R*S*C/groups`` rows (the input window, one row
per input the window holds) by ``M/groups`` filters, each filter ``weight_slices`` adjacent
columns wide (:attr:`CrossbarAccelerator.weight_slices`). The matrix is cut into X x X crossbars:

    row tiles     = ceil(window / X)                      (window rows, top to bottom)
    filters/xbar  = floor(X / weight_slices)              (whole filters only, as NeuroSim)
    column tiles  = ceil(filters / filters/xbar)
    crossbars     = groups * row tiles * column tiles

so a filter's slices never straddle two crossbars (the last ``X mod weight_slices`` columns of a
crossbar stay empty), and every group gets crossbars of its own: a depthwise layer takes
``groups`` crossbars at least, mostly empty. All crossbars of a layer (weight-stationary: each
layer its own) run in parallel on one input vector at a time.

The one per-layer knob is the crossbar size (NAX co-searches it per layer): ``crossbar_size``
``None`` keeps the architecture's. Weights are taken unsigned (signed weights by an offset, as
ISAAC's biased encoding), so no extra columns for signs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping as MappingType

from sim import checks
from sim.crossbar.architecture import check_crossbar_size


@dataclasses.dataclass(frozen=True)
class CrossbarMapping:
    """The crossbar size of one layer (``None``: the architecture's); validated on construction."""

    crossbar_size: int | None = None

    def __post_init__(self):
        if self.crossbar_size is not None:
            check_crossbar_size("CrossbarMapping", self.crossbar_size)

    def size(self, architecture) -> int:
        """The crossbar size this layer is mapped onto on ``architecture``."""
        return architecture.crossbar_size if self.crossbar_size is None else self.crossbar_size

    def to_dict(self) -> dict:
        return {"crossbar_size": self.crossbar_size}

    @classmethod
    def from_dict(cls, data: MappingType[str, object]) -> CrossbarMapping:
        checks.known_keys("CrossbarMapping", data, ("crossbar_size",))
        return cls(**data)
