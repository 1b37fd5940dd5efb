"""The supernet search space: a stem, searchable layers grouped in stages, a head, and their shapes.

Macro-architecture in the style of FBNet (Wu et al., CVPR 2019, Table 1) and DNA: a 3x3 stem
convolution, then stages of searchable layers, each stage given as ``(out_channels, num_layers,
first_stride)`` (only a stage's first layer changes width or resolution), then a 1x1 head convolution,
global average pooling and a fully-connected classifier. Every searchable layer picks one op from
:data:`OPS`:

- ``"mb_k{k}_e{e}"``: an MBConv (inverted residual, Sandler et al. 2018): expand 1x1 conv to ``e * C``
  channels (omitted when ``e == 1``), depthwise ``k x k`` conv at the layer's stride, project 1x1 conv;
  each conv followed by batch norm, ReLU6 after the first two, a residual add when the stride is 1 and
  the widths match;
- ``"res_k{k}"``: a ResNet basic block (He et al. 2016) with ``k x k`` convolutions, the op of
  NAX's ResNet backbone: ``k x k`` conv at the layer's stride, ``k x k`` conv, a shortcut (the
  identity where the stride is 1 and the widths match, else a 1x1 conv at the stride), each conv
  followed by batch norm, ReLU6 after the first conv and after the residual add (ReLU6, not ReLU,
  as everywhere in the space: bounded activations suit the crossbars' input quantization);
- ``"skip"``: the identity, available only where the stride is 1 and the widths match (NAX's zero
  op: a residual block whose convs are zero is the identity, so it searches depth).

A space with ``head_channels=0`` has no 1x1 head convolution: the last stage is pooled straight into
the classifier, as in ResNet-20.

All convolutions use symmetric 'same' padding ``k // 2``, so every op of a layer maps an ``H x H``
input to ``ceil(H / stride)``. Shapes are in the workload convention of :mod:`sim.workload`
(activations NHWC in the Flax model, sizes in words, MACs as multiply-accumulates); batch norm,
activations, residual adds and pooling are free in that model.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from sim import checks
from sim.workload import Layer, Network

KERNEL_SIZES = (3, 5, 7)
EXPANSIONS = (1, 3, 6)
SKIP = "skip"
MBCONV, RESIDUAL = "mbconv", "residual"

BLOCK_POSITIONS = {MBCONV: ("expand", "depthwise", "project"),
                   RESIDUAL: ("conv1", "conv2", "shortcut")}
"""The convs of a block of each family: a searchable layer has one mapping slot per position of the
families its ops belong to."""


class OpSpec(NamedTuple):
    """What one candidate op computes: a block of ``family`` with ``kernel`` (and an MBConv's
    ``expansion``), or the identity (family None)."""

    name: str
    kernel: int | None
    expansion: int | None
    family: str | None = MBCONV

    @property
    def is_skip(self) -> bool:
        return self.kernel is None


def _mbconv_name(kernel: int, expansion: int) -> str:
    return f"mb_k{kernel}_e{expansion}"


def _residual_name(kernel: int) -> str:
    return f"res_k{kernel}"


# The op registry: name -> spec, in the canonical order (MBConvs kernel-major, then expansion;
# skip; then residual blocks).
OP_SPECS: dict[str, OpSpec] = {
    **{_mbconv_name(k, e): OpSpec(_mbconv_name(k, e), k, e) for k in KERNEL_SIZES for e in EXPANSIONS},
    SKIP: OpSpec(SKIP, None, None, None),
    **{_residual_name(k): OpSpec(_residual_name(k), k, None, RESIDUAL) for k in KERNEL_SIZES},
}
OPS: tuple[str, ...] = tuple(OP_SPECS)
MBCONV_OPS: tuple[str, ...] = tuple(name for name in OPS if OP_SPECS[name].family != RESIDUAL)
"""The MBConv ops and skip: the op set of the FBNet-like spaces."""
RESIDUAL_OPS: tuple[str, ...] = (*(_residual_name(k) for k in KERNEL_SIZES), SKIP)
"""NAX's op set: a residual block per kernel size, and the zero op (skip)."""


@dataclasses.dataclass(frozen=True)
class LayerSlot:
    """The fixed context of one searchable layer: its widths, stride and input size (pixels)."""

    index: int
    stage: int
    in_channels: int
    out_channels: int
    stride: int
    in_size: int

    @property
    def out_size(self) -> int:
        """Output height/width: ceil(in_size / stride) for every op (odd kernels, 'same' padding)."""
        return (self.in_size - 1) // self.stride + 1

    @property
    def allows_skip(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A validated, hashable search space (usable as a Flax module field).

    Attributes:
      image_size: input height = width in pixels.
      in_channels: input image channels (1 grayscale, 3 RGB).
      num_classes: classifier outputs.
      stem_channels: output channels of the 3x3 stem convolution.
      stages: ``(out_channels, num_layers, first_stride)`` per stage of searchable layers.
      op_names: the candidate ops, a subset of :data:`OPS` in any order (columns of the arch logits).
      head_channels: output channels of the 1x1 head convolution before pooling (0: none, the
        last stage is pooled into the classifier).
      stem_stride: stride of the stem (2 for 224x224 ImageNet input, 1 for small images).
    """

    image_size: int
    in_channels: int
    num_classes: int
    stem_channels: int
    stages: tuple[tuple[int, int, int], ...]
    op_names: tuple[str, ...] = MBCONV_OPS
    head_channels: int = 1280
    stem_stride: int = 1

    def __post_init__(self):
        owner = "SearchSpace"
        for field in ("image_size", "in_channels", "stem_channels", "stem_stride"):
            checks.positive_int(owner, field, getattr(self, field))
        checks.non_negative_int(owner, "head_channels", self.head_channels)
        checks.positive_int(owner, "num_classes", self.num_classes)
        if self.num_classes < 2:
            raise ValueError(f"{owner}.num_classes must be >= 2, got {self.num_classes}")
        stages = tuple(tuple(stage) for stage in self.stages)
        object.__setattr__(self, "stages", stages)
        if not stages:
            raise ValueError(f"{owner}.stages must hold at least one (out_channels, num_layers, "
                             "first_stride) stage, got none")
        for index, stage in enumerate(stages):
            if len(stage) != 3:
                raise ValueError(f"{owner}.stages[{index}] must be (out_channels, num_layers, "
                                 f"first_stride), got {stage!r}")
            for field, value in zip(("out_channels", "num_layers", "first_stride"), stage):
                checks.positive_int(f"{owner}.stages[{index}]", field, value)
        op_names = tuple(self.op_names)
        object.__setattr__(self, "op_names", op_names)
        if not op_names:
            raise ValueError(f"{owner}.op_names must name at least one op of {list(OPS)}, got none")
        for name in op_names:
            checks.one_of(owner, "op_names", name, OPS)
        if len(set(op_names)) != len(op_names):
            raise ValueError(f"{owner}.op_names has duplicates: {list(op_names)}; allowed: "
                             f"distinct names of {list(OPS)}")
        mask = self.op_mask()
        for slot, row in zip(self.slots(), mask):
            if not row.any():
                raise ValueError(
                    f"{owner}.op_names={list(op_names)} leaves searchable layer {slot.index} "
                    f"(stride {slot.stride}, {slot.in_channels}->{slot.out_channels} channels) with "
                    "no available op; allowed: include at least one MBConv op")

    @property
    def num_layers(self) -> int:
        """Number of searchable layers L."""
        return sum(stage[1] for stage in self.stages)

    @property
    def num_ops(self) -> int:
        """Number of candidate ops K."""
        return len(self.op_names)

    @property
    def stem_size(self) -> int:
        """Height/width after the stem."""
        return (self.image_size - 1) // self.stem_stride + 1

    def slots(self) -> tuple[LayerSlot, ...]:
        """The context (widths, stride, input size) of every searchable layer, in execution order."""
        slots, channels, size = [], self.stem_channels, self.stem_size
        for stage_index, (width, repeats, first_stride) in enumerate(self.stages):
            for repeat in range(repeats):
                stride = first_stride if repeat == 0 else 1
                slot = LayerSlot(len(slots), stage_index, channels, width, stride, size)
                slots.append(slot)
                channels, size = width, slot.out_size
        return tuple(slots)

    @property
    def final_size(self) -> int:
        """Height/width entering the head."""
        return self.slots()[-1].out_size

    @property
    def final_channels(self) -> int:
        return self.stages[-1][0]

    @property
    def classifier_channels(self) -> int:
        """Inputs of the classifier: the head conv's outputs, or the last stage's without one."""
        return self.head_channels or self.final_channels

    @property
    def block_positions(self) -> tuple[str, ...]:
        """The mapping-slot positions of every searchable layer: those of the families of
        ``op_names``, in :data:`BLOCK_POSITIONS` order."""
        families = {OP_SPECS[name].family for name in self.op_names}
        return tuple(position for family, positions in BLOCK_POSITIONS.items()
                     if family in families for position in positions)

    def op_mask(self) -> np.ndarray:
        """np.bool_[L, K]: whether op k can run at searchable layer l (skip only where shapes allow)."""
        return np.array([[name != SKIP or slot.allows_skip for name in self.op_names]
                         for slot in self.slots()], dtype=np.bool_)

    def op_index(self, name: str) -> int:
        """Column of op ``name`` in the arch logits."""
        checks.one_of("SearchSpace", "op name", name, self.op_names)
        return self.op_names.index(name)


# -- the layer table: exact conv shapes of every (searchable layer, op) ----------------------------

def op_layers(slot: LayerSlot, op_name: str, batch: int = 1) -> tuple[tuple[str, Layer], ...]:
    """``(position, conv)`` of every conv that ``op_name`` executes at ``slot`` (empty for skip)."""
    spec = OP_SPECS[op_name]
    if spec.is_skip:
        return ()
    prefix = f"layer{slot.index}.{op_name}"
    if spec.family == RESIDUAL:
        size, out, width = slot.in_size, slot.out_size, slot.out_channels
        layers = [("conv1", Layer.conv(f"{prefix}.conv1", slot.in_channels, width, size, size,
                                       spec.kernel, stride=slot.stride, N=batch)),
                  ("conv2", Layer.conv(f"{prefix}.conv2", width, width, out, out, spec.kernel,
                                       N=batch))]
        if not slot.allows_skip:
            layers.append(("shortcut", Layer.conv(f"{prefix}.shortcut", slot.in_channels, width,
                                                  size, size, 1, stride=slot.stride, N=batch)))
        return tuple(layers)
    hidden = slot.in_channels * spec.expansion
    size, out = slot.in_size, slot.out_size
    layers = []
    if spec.expansion != 1:
        layers.append(("expand", Layer.pointwise(f"{prefix}.expand", slot.in_channels, hidden,
                                                 size, size, N=batch)))
    layers.append(("depthwise", Layer.depthwise(f"{prefix}.depthwise", hidden, size, size,
                                                spec.kernel, stride=slot.stride, N=batch)))
    layers.append(("project", Layer.pointwise(f"{prefix}.project", hidden, slot.out_channels, out,
                                              out, N=batch)))
    return tuple(layers)


@dataclasses.dataclass(frozen=True)
class LayerTable:
    """Per-layer, per-op conv shapes of a search space, for the cost model and the simulator.

    Attributes:
      fixed: layers every candidate executes, in execution order: ``fixed[:num_leading]`` run before
        the searchable layers (the stem), the rest after them (head conv, classifier).
      choices: ``choices[l][k]`` = the conv layers op ``k`` executes at searchable layer ``l``
        (MBConv: expand 1x1 unless e == 1, depthwise kxk, project 1x1; skip: ``()``); unavailable ops
        (``op_mask[l][k]`` false) also have ``()``.
      op_names: the ops, the columns of ``choices`` and of the arch logits.
      op_mask: ``op_mask[l][k]``: whether op k is available at layer l (as nested tuples of bool).
      num_leading: how many of ``fixed`` precede the searchable layers.
      mapping_slots: every mapping slot, in execution order (the rows of the per-slot mapping
        logits).
      conv_slots: ``(conv name, mapping slot)`` of every conv in ``fixed`` and ``choices``. A slot
        is where a layer runs in the network (a fixed layer's own name, or ``layer{l}.{position}``
        for position in :attr:`SearchSpace.block_positions`): every op of a layer maps its convs onto the same
        slots, so the hardware's per-slot mapping choices do not depend on the op choice.
    """

    fixed: tuple[Layer, ...]
    choices: tuple[tuple[tuple[Layer, ...], ...], ...]
    op_names: tuple[str, ...]
    op_mask: tuple[tuple[bool, ...], ...]
    num_leading: int
    mapping_slots: tuple[str, ...]
    conv_slots: tuple[tuple[str, str], ...]

    @property
    def num_layers(self) -> int:
        return len(self.choices)

    @functools.cached_property
    def _slots_by_conv(self) -> dict[str, str]:
        return dict(self.conv_slots)

    def slot_of(self, conv_name: str) -> str:
        """The mapping slot of a conv of this table (by the name the table gave it)."""
        slots = self._slots_by_conv
        if conv_name not in slots:
            raise ValueError(f"layer {conv_name!r} is not a conv of this layer table; known: "
                             f"{sorted(slots)[:8]}...")
        return slots[conv_name]

    def macs(self) -> np.ndarray:
        """int64[L, K]: MACs of every (searchable layer, op)."""
        return np.array([[sum(layer.macs for layer in op) for op in row] for row in self.choices],
                        dtype=np.int64)

    def network(self, op_indices, name: str = "derived") -> Network:
        """The discrete network with op ``op_indices[l]`` at layer l, as a ``sim.Network``."""
        op_indices = tuple(int(k) for k in op_indices)
        if len(op_indices) != self.num_layers:
            raise ValueError(f"op_indices must have one entry per searchable layer "
                             f"({self.num_layers}), got {len(op_indices)}")
        layers = list(self.fixed[:self.num_leading])
        for layer_index, k in enumerate(op_indices):
            if not 0 <= k < len(self.op_names) or not self.op_mask[layer_index][k]:
                allowed = [i for i, ok in enumerate(self.op_mask[layer_index]) if ok]
                raise ValueError(f"op_indices[{layer_index}]={k} is not an available op there; "
                                 f"allowed: {allowed} ({[self.op_names[i] for i in allowed]})")
            layers.extend(self.choices[layer_index][k])
        layers.extend(self.fixed[self.num_leading:])
        return Network(name, tuple(layers))


def layer_table(space: SearchSpace, batch: int = 1) -> LayerTable:
    """Every conv shape of ``space`` at batch size ``batch``: fixed layers and per-(layer, op) choices."""
    checks.positive_int("layer_table", "batch", batch)
    mask = space.op_mask()
    stem = Layer.conv("stem", space.in_channels, space.stem_channels, space.image_size,
                      space.image_size, 3, stride=space.stem_stride, N=batch)
    size = space.final_size
    head = (Layer.pointwise("head", space.final_channels, space.head_channels, size, size, N=batch),
            ) if space.head_channels else ()
    classifier = Layer.fc("classifier", space.classifier_channels, space.num_classes, N=batch)
    fixed = (stem, *head, classifier)
    positioned = tuple(
        tuple(op_layers(slot, name, batch) if mask[slot.index, k] else ()
              for k, name in enumerate(space.op_names))
        for slot in space.slots())
    slots = ((stem.name,) + tuple(f"layer{slot.index}.{position}" for slot in space.slots()
                                  for position in space.block_positions)
             + tuple(layer.name for layer in fixed[1:]))
    conv_slots = [(layer.name, layer.name) for layer in fixed]
    conv_slots += [(layer.name, f"layer{index}.{position}")
                   for index, row in enumerate(positioned) for op in row
                   for position, layer in op]
    choices = tuple(tuple(tuple(layer for _, layer in op) for op in row) for row in positioned)
    return LayerTable(fixed=fixed, choices=choices, op_names=space.op_names,
                      op_mask=tuple(tuple(bool(v) for v in row) for row in mask), num_leading=1,
                      mapping_slots=slots, conv_slots=tuple(conv_slots))


# -- the spaces ----------------------------------------------------------------------------------

def quickstart_space(num_classes: int = 10) -> SearchSpace:
    """A tiny space for the embedded 8x8 grayscale digits: 4 searchable layers, k{3,5} x e{1,3} + skip.

    Small enough that a whole joint search runs in a minute or two on a 2-core CPU.
    """
    return SearchSpace(image_size=8, in_channels=1, num_classes=num_classes, stem_channels=8,
                       stages=((8, 2, 1), (16, 2, 2)),
                       op_names=("mb_k3_e1", "mb_k3_e3", "mb_k5_e1", "mb_k5_e3", SKIP),
                       head_channels=64)


# FBNet's macro-architecture (Wu et al. 2019, Table 1): 22 searchable layers.
_FBNET_STAGES = ((16, 1, 1), (24, 4, 2), (32, 4, 2), (64, 4, 2), (112, 4, 1), (184, 4, 2),
                 (352, 1, 1))


def cifar_space(num_classes: int = 10) -> SearchSpace:
    """FBNet/DNA-like space for 32x32 RGB input: 22 layers, MBConv k{3,5,7} x e{1,3,6} + skip.

    FBNet's stages with a stride-1 stem and a stride-1 second stage, so that 32x32 input ends at 4x4.
    """
    stages = ((16, 1, 1), (24, 4, 1)) + _FBNET_STAGES[2:]
    return SearchSpace(image_size=32, in_channels=3, num_classes=num_classes, stem_channels=16,
                       stages=stages, op_names=MBCONV_OPS, head_channels=1504)


def cifar_small_space(num_classes: int = 10) -> SearchSpace:
    """A small space for 32x32 RGB input whose every network can be trained for a benchmark table
    (:mod:`dianjax.bench`): 4 searchable layers, the quickstart's ops, 5 * 4 * 5 * 4 = 400 networks.
    """
    return SearchSpace(image_size=32, in_channels=3, num_classes=num_classes, stem_channels=16,
                       stages=((16, 1, 1), (32, 2, 2), (64, 1, 2)),
                       op_names=("mb_k3_e1", "mb_k3_e3", "mb_k5_e1", "mb_k5_e3", SKIP),
                       head_channels=256)


def imagenet_space(num_classes: int = 1000) -> SearchSpace:
    """FBNet's space for 224x224 RGB input: stride-2 stem, 22 layers, 1984-channel head, 7x7 at the end."""
    return SearchSpace(image_size=224, in_channels=3, num_classes=num_classes, stem_channels=16,
                       stages=_FBNET_STAGES, op_names=MBCONV_OPS, head_channels=1984, stem_stride=2)


def nax_quickstart_space(num_classes: int = 10) -> SearchSpace:
    """NAX's space (residual blocks of kernel {3, 5, 7} or the zero op) on a ResNet for the
    embedded 8x8 digits: 16-channel stem, two stages of two blocks (16 and 32 channels), no head
    conv; small enough for a crossbar-aware search in minutes on a 2-core CPU."""
    return SearchSpace(image_size=8, in_channels=1, num_classes=num_classes, stem_channels=16,
                       stages=((16, 2, 1), (32, 2, 2)), op_names=RESIDUAL_OPS, head_channels=0)


def nax_cifar_space(num_classes: int = 10) -> SearchSpace:
    """NAX's space on ResNet-20's backbone (He et al. 2016, Sec. 4.2) for 32x32 RGB input: 3x3
    stem of 16 channels, three stages of three blocks (16, 32, 64 channels; strides 1, 2, 2),
    global pooling into the classifier. All blocks ``res_k3`` is ResNet-20 (with 1x1 projection
    shortcuts where the shape changes)."""
    return SearchSpace(image_size=32, in_channels=3, num_classes=num_classes, stem_channels=16,
                       stages=((16, 3, 1), (32, 3, 2), (64, 3, 2)), op_names=RESIDUAL_OPS,
                       head_channels=0)


SPACES: dict[str, Callable[..., SearchSpace]] = {
    "quickstart": quickstart_space,
    "cifar_small": cifar_small_space,
    "cifar": cifar_space,
    "imagenet": imagenet_space,
    "nax_quickstart": nax_quickstart_space,
    "nax_cifar": nax_cifar_space,
}


def get_space(name: str, num_classes: int | None = None) -> SearchSpace:
    """Looks a space up by name; ``num_classes`` overrides the space's default."""
    checks.one_of("search space", "name", name, SPACES)
    return SPACES[name]() if num_classes is None else SPACES[name](num_classes=num_classes)
