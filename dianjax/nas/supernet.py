"""The Flax (Linen) supernet over a :class:`~dianjax.nas.search_space.SearchSpace`, and derived
networks.

Layout and conventions: images are NHWC float32; every convolution has symmetric 'same' padding
``k // 2`` and no bias and is followed by batch norm, exactly the shapes of
:func:`~dianjax.nas.search_space.layer_table`. Variables are ``{"params", "batch_stats"}``; the
architecture logits are *not* variables of the model: a search keeps them apart and passes the
relaxed op weights ``float[L, K]`` (see :mod:`dianjax.nas.gumbel`) to every call.

Two modes of :class:`Supernet`, chosen by the ``hard`` argument of ``__call__``:

- soft (``hard=False``, DARTS/FBNet-style mixture): every available op of a layer runs and the layer
  outputs ``sum_k w[l, k] * op_k(x)``;
- hard (``hard=True``, single path, for memory and speed): only the op ``argmax_k w[l, k]`` runs
  (``nn.switch``, one XLA conditional per layer) and its output is multiplied by ``w[l, k]``, which
  is exactly 1 for a straight-through sample but carries the gradient back to the logits.

Batch norm: every op owns its batch norms (candidates never share statistics). In soft mode all of
a layer's ops see the batch, so all of them normalise with batch statistics and update their running
averages; in hard mode only the executed op normalises and updates its running averages, and the
other ops' statistics are left untouched. With ``train=False`` every op uses its running averages.
Both modes have the same variables, so one ``init`` serves both.

Activation memory: with ``remat=True`` the backward pass keeps only each searchable layer's input
and recomputes the layer's ops from it (:func:`rematerialized`), trading one more forward pass for
the activations of all ops of all layers, the bulk of a soft step's memory. Values, gradients,
batch-norm updates and variables are those without it.

On crossbars (``analog``, an :class:`~dianjax.nas.analog.AnalogSearch`): every conv and the
classifier run through the crossbar model on the hardware ``hardware[slot]`` chosen for their
mapping slot (``{slot name: SlotChoice}``, the slots of :func:`layer_table`), drawing conductance
noise from the ``"crossbar"`` RNG stream (:mod:`dianjax.nas.analog`). The variables are the same
as without it, so a digital and an analog model share parameters.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dianjax.nas import cpu_conv, crossbar_noise
from dianjax.nas.analog import AnalogSearch, SlotChoice
from dianjax.nas.crossbar_noise import RNG_COLLECTION, AnalogConfig
from dianjax.nas.search_space import (
    OP_SPECS,
    RESIDUAL,
    LayerSlot,
    SearchSpace,
    layer_table,
)
from sim import checks
from sim.workload import Network

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
# XLA:CPU's LLVM level for the init program: random numbers only (the forward pass it traces is
# dead code), the same bits as the default level 3 in under half the compile time (quickstart: 4.2
# against 10.3 s on one core; tests/nas/test_supernet.py compares the bits)
INIT_CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 2}


def _same_padding(kernel: int) -> tuple[tuple[int, int], tuple[int, int]]:
    return ((kernel // 2, kernel // 2), (kernel // 2, kernel // 2))


Choice = SlotChoice | AnalogConfig | None
"""The hardware of one conv: the search's sample, a derived network's static model, or digital."""
Choices = dict[str, Choice] | None
"""The hardware of the convs of a block or network on crossbars, by position or slot name."""


def _analog_rng(module: nn.Module, analog: AnalogSearch | AnalogConfig) -> jax.Array | None:
    """The key of an analog call: always for the search's model (its ADC errs), for the full one
    only when it draws conductance noise."""
    if isinstance(analog, AnalogConfig) and not analog.noisy:
        return None
    return module.make_rng(RNG_COLLECTION)


def _conv_fn(module: nn.Module, analog: AnalogSearch | None, choice, unroll_taps: bool):
    """The conv a :class:`ConvBN` runs: digital; the full crossbar pipeline of a static
    ``AnalogConfig`` choice (derived networks); or the search's model of a ``SlotChoice``."""
    if choice is None:
        return functools.partial(cpu_conv.conv_general_dilated, unroll_taps=unroll_taps)
    if isinstance(choice, AnalogConfig):
        return functools.partial(crossbar_noise.conv_general_dilated, config=choice,
                                 key=_analog_rng(module, choice))
    return analog.conv(choice, _analog_rng(module, analog))


def _dot_fn(module: nn.Module, analog: AnalogSearch | None, choice):
    """The classifier's product, as :func:`_conv_fn` (None: ``nn.Dense``'s own)."""
    if choice is None:
        return None
    if isinstance(choice, AnalogConfig):
        return functools.partial(crossbar_noise.dot_general, config=choice,
                                 key=_analog_rng(module, choice))
    return analog.dot(choice, _analog_rng(module, analog))


class ConvBN(nn.Module):
    """A bias-free convolution with symmetric 'same' padding, batch norm and optional ReLU6
    (``unroll_taps``: how a depthwise one runs on CPU, see :mod:`dianjax.nas.cpu_conv`). On
    crossbars per ``choice``: an ``AnalogConfig`` (full pipeline) or a ``SlotChoice`` of
    ``analog`` (the search's model)."""

    features: int
    kernel: int
    stride: int = 1
    groups: int = 1
    activation: bool = True
    unroll_taps: bool = True
    analog: AnalogSearch | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, choice: Choice = None) -> jax.Array:
        x = nn.Conv(self.features, (self.kernel, self.kernel), strides=(self.stride, self.stride),
                    padding=_same_padding(self.kernel), feature_group_count=self.groups,
                    use_bias=False,
                    conv_general_dilated=_conv_fn(self, self.analog, choice, self.unroll_taps),
                    name="conv")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                         name="bn")(x)
        return jax.nn.relu6(x) if self.activation else x


class MBConv(nn.Module):
    """Inverted residual block (Sandler et al. 2018): [expand 1x1], depthwise kxk, project 1x1."""

    in_channels: int
    out_channels: int
    kernel: int
    expansion: int
    stride: int
    unroll_taps: bool = True
    analog: AnalogSearch | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, choices: Choices = None) -> jax.Array:
        choices = choices or {}
        hidden = self.in_channels * self.expansion
        y = x
        if self.expansion != 1:
            y = ConvBN(hidden, 1, analog=self.analog, name="expand")(y, train,
                                                                      choices.get("expand"))
        y = ConvBN(hidden, self.kernel, self.stride, groups=hidden, unroll_taps=self.unroll_taps,
                   analog=self.analog, name="depthwise")(y, train, choices.get("depthwise"))
        y = ConvBN(self.out_channels, 1, activation=False, analog=self.analog,
                   name="project")(y, train, choices.get("project"))
        if self.stride == 1 and self.in_channels == self.out_channels:
            y = y + x
        return y


class ResidualBlock(nn.Module):
    """ResNet basic block (He et al. 2016) with ``kernel x kernel`` convs: conv, conv, shortcut
    (identity, or a 1x1 conv where the stride or the width changes), ReLU6 after the add."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    analog: AnalogSearch | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, choices: Choices = None) -> jax.Array:
        choices = choices or {}
        y = ConvBN(self.out_channels, self.kernel, self.stride, analog=self.analog,
                   name="conv1")(x, train, choices.get("conv1"))
        y = ConvBN(self.out_channels, self.kernel, activation=False, analog=self.analog,
                   name="conv2")(y, train, choices.get("conv2"))
        if self.stride != 1 or self.in_channels != self.out_channels:
            x = ConvBN(self.out_channels, 1, self.stride, activation=False, analog=self.analog,
                       name="shortcut")(x, train, choices.get("shortcut"))
        return jax.nn.relu6(y + x)


class Identity(nn.Module):
    """The skip op."""

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, choices: Choices = None) -> jax.Array:
        del train, choices
        return x


def make_op(slot: LayerSlot, op_name: str, name: str | None = None,
            unroll_taps: bool = True, analog: AnalogSearch | None = None) -> nn.Module:
    """The Flax module of op ``op_name`` at searchable layer ``slot`` (``unroll_taps``: see
    :class:`ConvBN`; the supernet, which compiles every op at once, loops over taps; ``analog``:
    on crossbars)."""
    spec = OP_SPECS[op_name]
    if spec.is_skip:
        if not slot.allows_skip:
            raise ValueError(f"op 'skip' is not available at layer {slot.index} (stride "
                             f"{slot.stride}, {slot.in_channels}->{slot.out_channels} channels); "
                             "allowed: stride 1 and equal widths")
        return Identity(name=name)
    if spec.family == RESIDUAL:
        return ResidualBlock(slot.in_channels, slot.out_channels, spec.kernel, slot.stride,
                             analog, name=name)
    return MBConv(slot.in_channels, slot.out_channels, spec.kernel, spec.expansion, slot.stride,
                  unroll_taps, analog, name=name)


def _layer_choices(hardware: Choices, layer: int) -> Choices:
    """The choices of searchable layer ``layer``'s convs by position, from ``{slot: choice}``."""
    if hardware is None:
        return None
    prefix = f"layer{layer}."
    return {slot[len(prefix):]: choice for slot, choice in hardware.items()
            if slot.startswith(prefix)}


class Head(nn.Module):
    """1x1 head conv (none when ``head_channels`` is 0), global average pooling and the
    fully-connected classifier."""

    head_channels: int
    num_classes: int
    analog: AnalogSearch | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, hardware: Choices = None) -> jax.Array:
        hardware = hardware or {}
        if self.head_channels:
            x = ConvBN(self.head_channels, 1, analog=self.analog, name="head")(
                x, train, hardware.get("head"))
        x = jnp.mean(x, axis=(1, 2))
        dot = _dot_fn(self, self.analog, hardware.get("classifier"))
        return nn.Dense(self.num_classes, dot_general=dot, name="classifier")(x)


def _check_hardware(space: SearchSpace, analog: AnalogSearch | None, hardware: Choices) -> None:
    """``hardware`` names every mapping slot of ``space`` exactly when the model is analog."""
    if analog is None:
        if hardware is not None:
            raise ValueError("hardware choices were given to a digital model (analog=None)")
        return
    slots = set(layer_table(space).mapping_slots)
    if hardware is None or set(hardware) != slots:
        raise ValueError(f"an analog model needs a SlotChoice for every mapping slot "
                         f"{sorted(slots)}, got {None if hardware is None else sorted(hardware)}")


def _check_images(space: SearchSpace, images: jax.Array) -> None:
    chex.assert_rank(images, 4)
    chex.assert_type(images, float)
    expected = (space.image_size, space.image_size, space.in_channels)
    if tuple(images.shape[1:]) != expected:
        raise ValueError(f"images must have shape [batch, {expected[0]}, {expected[1]}, "
                         f"{expected[2]}] (NHWC) for this space, got {tuple(images.shape)}")


class SearchableLayer(nn.Module):
    """All available ops of one searchable layer, mixed (soft) or switched (hard) by op weights."""

    slot: LayerSlot
    op_names: tuple[str, ...]
    available: tuple[int, ...]  # columns of the op weights whose op exists here
    unroll_taps: bool = False
    analog: AnalogSearch | None = None

    def setup(self):
        self.ops = {self.op_names[k]: make_op(self.slot, self.op_names[k],
                                              unroll_taps=self.unroll_taps, analog=self.analog)
                    for k in self.available}

    @nn.compact
    def __call__(self, x: jax.Array, weights: jax.Array, train: bool, hard: bool,
                 choices: Choices = None) -> jax.Array:
        chex.assert_shape(weights, (len(self.op_names),))
        names = [self.op_names[k] for k in self.available]
        weights = weights[np.asarray(self.available)]
        if not hard:
            return sum(w * self.ops[name](x, train, choices) for w, name in zip(weights, names))
        branches = [lambda module, x, name=name: module.ops[name](x, train, choices)
                    for name in names]
        if self.is_initializing():  # create every op's variables, so both modes share one tree
            for branch in branches:
                branch(self, x)
        index = jnp.argmax(weights)
        return nn.switch(index, branches, self, x) * weights[index]


def _after(x: jax.Array, cotangent: jax.Array) -> jax.Array:
    """``x`` plus ``0 * cotangent[0]``: equal to ``x``, but computed only once ``cotangent`` is."""
    return x + 0 * cotangent.ravel()[0].astype(x.dtype)


def rematerialized(layer: SearchableLayer, x: jax.Array, weights: jax.Array, train: bool,
                   hard: bool) -> jax.Array:
    """``layer(x, weights, train, hard)`` whose backward pass recomputes the layer from ``x`` (and
    the layer's variables) instead of keeping its activations.

    Not ``flax.linen.remat`` (``jax.checkpoint``): XLA's CPU compiler expands its optimization
    barriers before common-subexpression elimination, so the recomputation merges back into the
    forward pass and little memory is saved (the gradient of the cifar_small supernet at batch 128
    on CPU: 1.33 GiB of scratch space without, 1.26 GiB with it). Here the recomputation starts
    from ``x`` made to depend on the output's cotangent, which no compiler can move before the
    backward pass reaches the layer.
    """
    definition = layer.clone(parent=None, name=None)

    def apply(module, x, weights):
        return module(x, weights, train, hard)

    def forward(module, x, weights):
        return apply(module, x, weights), (module.variables, x, weights)

    def backward(residuals, cotangent):
        variables, x, weights = residuals

        def recompute(params, x, weights):
            y, _ = definition.apply({**variables, "params": params}, x, weights, train, hard,
                                    mutable=["batch_stats"])
            return y

        _, vjp = jax.vjp(recompute, variables["params"], _after(x, cotangent), weights)
        params_grad, x_grad, weights_grad = vjp(cotangent)
        return {"params": params_grad}, x_grad, weights_grad

    return nn.custom_vjp(apply, forward_fn=forward, backward_fn=backward)(layer, x, weights)


class Supernet(nn.Module):
    """The weight-sharing supernet of ``space``.

    ``apply(variables, images, op_weights, train=..., hard=..., mutable=["batch_stats"])``:
    images float[B, H, W, C], op_weights float[L, K] (columns in ``space.op_names`` order; weights of
    unavailable ops are ignored) -> logits float[B, num_classes].

    ``unroll_taps`` (CPU depthwise convolutions, :mod:`dianjax.nas.cpu_conv`): off by default, since
    a soft step compiles every op of every layer; on where one compiled hard-mode program serves
    many networks (the benchmark table's trainer). ``remat``: recompute each searchable layer in the
    backward pass instead of keeping its activations (module docstring). ``analog``: on crossbars,
    the hardware of every mapping slot given as ``hardware`` (module docstring; no ``remat``).
    """

    space: SearchSpace
    unroll_taps: bool = False
    remat: bool = False
    analog: AnalogSearch | None = None

    @nn.compact
    def __call__(self, images: jax.Array, op_weights: jax.Array, train: bool,
                 hard: bool = False, hardware: Choices = None) -> jax.Array:
        space = self.space
        _check_images(space, images)
        chex.assert_shape(op_weights, (space.num_layers, space.num_ops))
        _check_hardware(space, self.analog, hardware)
        if self.remat and self.analog is not None:
            raise ValueError("Supernet.remat does not support analog (crossbar) convolutions")
        mask = space.op_mask()
        stem = hardware["stem"] if hardware else None
        x = ConvBN(space.stem_channels, 3, space.stem_stride, analog=self.analog,
                   name="stem")(images, train, stem)
        for slot in space.slots():
            available = tuple(int(k) for k in np.flatnonzero(mask[slot.index]))
            layer = SearchableLayer(slot, space.op_names, available, self.unroll_taps,
                                    self.analog, name=f"layer{slot.index}")
            if self.remat and not self.is_initializing():
                x = rematerialized(layer, x, op_weights[slot.index], train, hard)
            else:
                x = layer(x, op_weights[slot.index], train, hard,
                          _layer_choices(hardware, slot.index))
        return Head(space.head_channels, space.num_classes, self.analog, name="head")(
            x, train, hardware)


class DerivedNet(nn.Module):
    """The discrete network with op ``op_indices[l]`` (a column of ``space.op_names``) at layer l.

    ``apply(variables, images, train=..., mutable=["batch_stats"])`` -> logits [B, num_classes].
    On crossbars: ``analog`` and the design, ``crossbar_sizes`` (``(slot, size)`` of every mapping
    slot) and ``adc_choice`` (noise from the ``"crossbar"`` RNG stream), run through the full
    bit-level pipeline of :mod:`dianjax.nas.crossbar_noise` (``exact``) or the search's faster
    model of it (:meth:`dianjax.nas.analog.AnalogSearch.matmul`, ``exact=False``).
    """

    space: SearchSpace
    op_indices: tuple[int, ...]
    analog: AnalogSearch | None = None
    crossbar_sizes: tuple[tuple[str, int], ...] = ()
    adc_choice: int | str | None = None
    exact: bool = True

    @nn.compact
    def __call__(self, images: jax.Array, train: bool) -> jax.Array:
        space = self.space
        _check_images(space, images)
        hardware = None
        if self.analog is not None:
            hardware = {slot: self._choice(size) for slot, size in self.crossbar_sizes}
            _check_hardware(space, self.analog, hardware)
        x = ConvBN(space.stem_channels, 3, space.stem_stride, analog=self.analog, name="stem")(
            images, train, hardware["stem"] if hardware else None)
        for slot, k in zip(space.slots(), self.op_indices):
            x = make_op(slot, space.op_names[k], name=f"layer{slot.index}", analog=self.analog)(
                x, train, _layer_choices(hardware, slot.index))
        return Head(space.head_channels, space.num_classes, self.analog, name="head")(
            x, train, hardware)

    def _choice(self, size: int) -> Choice:
        """A slot's hardware: the full model (``exact``) or the search's, on ``size``."""
        analog = self.analog
        if self.exact:
            return analog.config(size, self.adc_choice)
        checks.one_of("DerivedNet", "crossbar size", size, analog.crossbar_sizes)
        checks.one_of("DerivedNet", "adc_choice", self.adc_choice, analog.adc_choices)
        return SlotChoice(
            jax.nn.one_hot(analog.crossbar_sizes.index(size), len(analog.crossbar_sizes)),
            jax.nn.one_hot(analog.adc_choices.index(self.adc_choice), len(analog.adc_choices)))


@dataclasses.dataclass(frozen=True)
class DerivedNetwork:
    """A discrete network of a search space: op per layer, its Flax model and its ``sim`` network."""

    space: SearchSpace
    op_indices: tuple[int, ...]

    def __post_init__(self):
        op_indices = tuple(int(k) for k in self.op_indices)
        object.__setattr__(self, "op_indices", op_indices)
        mask = self.space.op_mask()
        if len(op_indices) != self.space.num_layers:
            raise ValueError(f"DerivedNetwork.op_indices must have {self.space.num_layers} entries "
                             f"(one per searchable layer), got {len(op_indices)}")
        for layer, k in enumerate(op_indices):
            if not 0 <= k < self.space.num_ops or not mask[layer, k]:
                allowed = [self.space.op_names[i] for i in np.flatnonzero(mask[layer])]
                raise ValueError(f"DerivedNetwork.op_indices[{layer}]={k} is not an available op; "
                                 f"allowed at layer {layer}: {allowed}")

    @classmethod
    def from_op_names(cls, space: SearchSpace, op_names: Sequence[str]) -> DerivedNetwork:
        """The network naming its op per layer (e.g. from a search's ``result.json``)."""
        return cls(space, tuple(space.op_index(name) for name in op_names))

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(self.space.op_names[k] for k in self.op_indices)

    @property
    def model(self) -> DerivedNet:
        return DerivedNet(self.space, self.op_indices)

    def variables_from_supernet(self, variables: dict) -> dict:
        """This network's variables (for :attr:`model`) taken from a :class:`Supernet`'s: the
        stem, the head and, per layer, the variables of the op it picks (the supernet's
        ``layer{l}/ops_{name}``)."""
        def pick(collection):
            picked = {name: tree for name, tree in collection.items()
                      if not name.startswith("layer")}
            for layer, name in enumerate(self.op_names):
                if not OP_SPECS[name].is_skip:
                    picked[f"layer{layer}"] = collection[f"layer{layer}"][f"ops_{name}"]
            return picked
        return {key: pick(collection) for key, collection in variables.items()}

    def network(self, batch: int = 1, name: str = "derived") -> Network:
        """The ``sim`` description, from the same layer table the cost model prices."""
        return layer_table(self.space, batch).network(self.op_indices, name)


def derive(space: SearchSpace, arch_logits) -> DerivedNetwork:
    """The discrete network: at every layer the available op with the largest logit."""
    logits = np.asarray(arch_logits, dtype=np.float64)
    if logits.shape != (space.num_layers, space.num_ops):
        raise ValueError(f"arch_logits must have shape (num_layers, num_ops) = "
                         f"{(space.num_layers, space.num_ops)}, got {logits.shape}")
    masked = np.where(space.op_mask(), logits, -np.inf)
    return DerivedNetwork(space, tuple(int(k) for k in masked.argmax(axis=1)))


def init_supernet(key: jax.Array, space: SearchSpace, batch_size: int = 1) -> dict:
    """Variables ``{"params", "batch_stats"}`` of :class:`Supernet` (valid for both modes)."""
    images = jnp.zeros((batch_size, space.image_size, space.image_size, space.in_channels))
    weights = jnp.full((space.num_layers, space.num_ops), 1.0 / space.num_ops)
    top_level = not isinstance(key, jax.core.Tracer)   # not traced by jit, eval_shape, ...
    return dict(_compiled_init(space, top_level)(key, images, weights))


@functools.cache
def _compiled_init(space: SearchSpace, top_level: bool):
    """``Supernet(space).init`` jitted: one compilation, not one per op, kept for the space; with
    :data:`INIT_CPU_COMPILER_OPTIONS` on CPU where JAX takes them (a top-level jit only)."""
    cpu = top_level and jax.default_backend() == "cpu"
    return jax.jit(functools.partial(Supernet(space).init, train=False),
                   compiler_options=INIT_CPU_COMPILER_OPTIONS if cpu else None)
