"""The workload: layer and network descriptions shared by the simulator, cost model and search.

A :class:`Layer` is one convolution in Timeloop's naming: a batch of ``N`` input feature maps of
``C`` channels and ``H`` x ``W`` pixels, ``M`` filters of ``R`` x ``S`` taps, one ``stride`` and one
symmetric zero ``padding`` for both spatial dimensions, and ``groups`` channel groups (depthwise is
``groups == C``). Pointwise convolutions (``R == S == 1``) and fully-connected layers (``H == W == R
== S == 1``) are the same description. Output size follows the framework convention
``P = floor((H + 2*padding - R) / stride) + 1`` (and ``Q`` likewise from ``W`` and ``S``).

Operand sizes are in words (one word per activation or weight); the input size excludes padding.
A :class:`Network` is an ordered tuple of uniquely named layers, with JSON load/save.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from sim import checks

_LAYER_FIELDS = ("name", "N", "C", "M", "H", "W", "R", "S", "stride", "padding", "groups")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One convolution / pointwise / fully-connected layer; validated on construction."""

    name: str
    C: int
    M: int
    H: int = 1
    W: int = 1
    R: int = 1
    S: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    N: int = 1

    def __post_init__(self):
        owner = f"Layer({self.name!r})"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Layer.name must be a non-empty string, got {self.name!r}")
        for field in ("N", "C", "M", "H", "W", "R", "S", "stride", "groups"):
            checks.positive_int(owner, field, getattr(self, field))
        checks.non_negative_int(owner, "padding", self.padding)
        for kernel, size, size_name in (("R", self.H, "H"), ("S", self.W, "W")):
            padded = size + 2 * self.padding
            if getattr(self, kernel) > padded:
                raise ValueError(
                    f"{owner}.{kernel}={getattr(self, kernel)} is larger than the padded input "
                    f"{size_name} + 2*padding = {padded}; allowed: {kernel} <= {padded}")
        for field in ("C", "M"):
            if getattr(self, field) % self.groups:
                raise ValueError(
                    f"{owner}.{field}={getattr(self, field)} is not divisible by groups={self.groups}; "
                    f"allowed: groups dividing both C and M")

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def conv(cls, name: str, C: int, M: int, H: int, W: int, kernel: int, stride: int = 1,
             padding: int | None = None, groups: int = 1, N: int = 1) -> Layer:
        """A square-kernel convolution; ``padding`` defaults to 'same' (kernel // 2)."""
        padding = kernel // 2 if padding is None else padding
        return cls(name=name, N=N, C=C, M=M, H=H, W=W, R=kernel, S=kernel, stride=stride,
                   padding=padding, groups=groups)

    @classmethod
    def depthwise(cls, name: str, C: int, H: int, W: int, kernel: int, stride: int = 1,
                  N: int = 1) -> Layer:
        """A depthwise convolution (one filter per channel, 'same' padding)."""
        return cls.conv(name, C, C, H, W, kernel, stride=stride, groups=C, N=N)

    @classmethod
    def pointwise(cls, name: str, C: int, M: int, H: int, W: int, N: int = 1) -> Layer:
        """A 1x1 convolution."""
        return cls(name=name, N=N, C=C, M=M, H=H, W=W)

    @classmethod
    def fc(cls, name: str, in_features: int, out_features: int, N: int = 1) -> Layer:
        """A fully-connected layer: a 1x1 convolution on a 1x1 input."""
        return cls(name=name, N=N, C=in_features, M=out_features)

    # -- derived sizes ------------------------------------------------------------------------
    @property
    def P(self) -> int:
        """Output height."""
        return (self.H + 2 * self.padding - self.R) // self.stride + 1

    @property
    def Q(self) -> int:
        """Output width."""
        return (self.W + 2 * self.padding - self.S) // self.stride + 1

    @property
    def kind(self) -> str:
        """One of 'fc', 'depthwise', 'grouped', 'pointwise', 'conv'."""
        if self.H == self.W == self.R == self.S == 1:
            return "fc"
        if self.groups > 1:
            return "depthwise" if self.groups == self.C == self.M else "grouped"
        return "pointwise" if self.R == self.S == 1 else "conv"

    @property
    def macs(self) -> int:
        """Multiply-accumulates: every output pixel of every filter over its group's window."""
        return self.N * self.M * self.P * self.Q * (self.C // self.groups) * self.R * self.S

    @property
    def ifmap_words(self) -> int:
        """Input feature map size (unpadded)."""
        return self.N * self.C * self.H * self.W

    @property
    def filter_words(self) -> int:
        """Weight count."""
        return self.M * (self.C // self.groups) * self.R * self.S

    @property
    def ofmap_words(self) -> int:
        """Output feature map size."""
        return self.N * self.M * self.P * self.Q

    def with_batch(self, N: int) -> Layer:
        """The same layer at another batch size."""
        return dataclasses.replace(self, N=N)

    # -- serialization ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in _LAYER_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Layer:
        checks.known_keys("Layer", data, _LAYER_FIELDS)
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class Network:
    """An ordered, non-empty tuple of uniquely named layers."""

    name: str
    layers: tuple[Layer, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError(f"Network({self.name!r}).layers must hold at least one Layer, got none")
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise ValueError(f"Network({self.name!r}).layers[{index}] must be a Layer, "
                                 f"got {type(layer).__name__}")
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Network({self.name!r}).layers has duplicate names {duplicates}; "
                             "allowed: unique layer names")

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def filter_words(self) -> int:
        return sum(layer.filter_words for layer in self.layers)

    def with_batch(self, N: int) -> Network:
        """The same network at another batch size."""
        return Network(self.name, tuple(layer.with_batch(N) for layer in self.layers))

    def to_dict(self) -> dict:
        return {"name": self.name, "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Network:
        checks.known_keys("Network", data, ("name", "layers"))
        layers: Iterable = data.get("layers", ())
        return cls(name=data.get("name", "network"),
                   layers=tuple(Layer.from_dict(layer) for layer in layers))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Network:
        return cls.from_dict(json.loads(Path(path).read_text()))
