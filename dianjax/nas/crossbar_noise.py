"""Memristive-crossbar non-idealities in the forward pass: quantization, bit-slicing,
bit-streaming, conductance variation, IR drop and ADC quantization (NAX's accuracy side).

A convolution or dense layer is run as an in-memory matrix-vector product on crossbars of
``rows`` (X) rows, in the PUMA / NeuroSim / ISAAC style. The pipeline, stage by stage, for inputs
``x`` float[P, K] (im2col patches of a convolution, or a dense layer's inputs) and weights ``w``
float[K, M] (``K = R*S*C/groups``; a grouped convolution is one such product per group, all
groups vectorised, each group's rows tiled onto its own crossbars):

1. **Weights, per output channel.** ``s_w[m] = max_k |w[k, m]| / (2**(weight_bits-1) - 1)`` and
   ``q = clip(round(w / s_w), -(2**(weight_bits-1) - 1), 2**(weight_bits-1) - 1)``: symmetric
   signed integers of ``weight_bits`` bits. The sign is handled by **offset encoding** (ISAAC,
   Shafiee et al., ISCA 2016): the cells store ``u = q + 2**(weight_bits-1)`` in
   ``[1, 2**weight_bits - 1]``, and ``2**(weight_bits-1) * sum_k x_int[k]`` is subtracted
   digitally after the ADCs. One column per output channel and slice, so the weight matrix
   occupies K x M*ceil(weight_bits/cell_bits) cells, the count ``sim``'s crossbar mapping uses.
2. **Bit-slicing.** ``u = sum_s 2**(s*cell_bits) * u_s`` with ``u_s`` in ``[0, 2**cell_bits - 1]``,
   ``s = 0 .. ceil(weight_bits / cell_bits) - 1``: slice ``s`` (significance ``2**(s*cell_bits)``)
   lives in its own column.
3. **Inputs, per input vector** (one im2col patch of one group, or one dense input row):
   ``s_x = max_k |x[k]| / (2**input_bits - 1)`` (the "abs-max" input scaling of IBM aihwkit's
   noise management; a zero vector keeps scale 1) and ``x_int = clip(round(|x±| / s_x), 0,
   2**input_bits - 1)`` for the **signed split** ``x = x+ - x-``: the positive and the negative
   parts are two unsigned passes through the same crossbars, subtracted digitally (after a ReLU
   ``x-`` is zero and its pass reads zeros; no input is clamped).
4. **Bit-streaming.** ``x_int = sum_c 2**(c*dac_bits) * x_c`` with ``x_c`` in
   ``[0, 2**dac_bits - 1]``, ``c = 0 .. ceil(input_bits / dac_bits) - 1``, one DAC cycle per chunk.
5. **Row tiles.** The K rows are cut into ``ceil(K / rows)`` tiles of ``rows`` rows (the last one
   zero-padded); row ``k`` sits on row ``i = k mod rows`` of tile ``t = k // rows``. Columns are
   independent in this model, so how the columns are tiled does not change the result.
6. **Conductances.** Cell (k, m, s) conducts
   ``g = u_s[k, m] * max(0, 1 + conductance_sigma * eps[k, m, s]) * (1 - ir_drop * (i+1) / 256)``
   with ``eps ~ N(0, 1)`` drawn once per call from the explicit PRNG key (the programmed device is
   the same for every input vector of the call): multiplicative Gaussian conductance variation,
   clipped at zero because a conductance cannot be negative, the off state conducting nothing.
   **IR drop (an assumption, not a calibrated circuit model):** a linearised wire-resistance loss,
   the share of a cell's current lost growing linearly with the number of wire segments
   between it and its column's sense end, ``i + 1``, normalised to a 256-row crossbar
   (:data:`IR_DROP_REFERENCE_ROWS`): with ``ir_drop = a`` the last row of a 256-row crossbar loses
   ``a`` of its contribution, that of a 64-row crossbar ``a/4``. Larger crossbars thus lose more, as
   NAX's accuracy/crossbar-size trade-off needs. ``ir_drop = 0`` turns it off.
7. **ADC, per column partial sum.** For each (row tile, input chunk, weight slice) a column's
   partial sum ``p = sum_{i in tile} x_c[i] * g[i]`` (an integer in ``[0, F]`` when ideal,
   ``F = rows * (2**dac_bits - 1) * (2**cell_bits - 1)``, the ADC's full scale for a full crossbar,
   also when the tile is partly used) is converted by a uniform ADC over ``[0, F]``:
   ``L = min(2**adc_bits - 1, F)``, ``code = clip(round(p * L / F), 0, L)`` (``round``: half to
   even, ``jnp.round``), output ``code * F / L``. With ``adc_bits >= ceil(log2(F + 1))``
   (:attr:`AnalogConfig.lossless_adc_bits`, NAX's lossless precision) every integer has its code
   and an ideal sum is read exactly; ``adc_bits=None`` is no ADC quantization at all (an ideal
   real-valued readout, which differs from a lossless ADC only when the sums are noisy).
8. **Shift-and-add, dequantize.** ``y_int = sum_{t, c, s} 2**(c*dac_bits + s*cell_bits) *
   ADC(p[t, c, s]) - 2**(weight_bits-1) * sum_k x_int[k]``, ``y = s_x * s_w * (y_int(x+) -
   y_int(x-))``.

With ``conductance_sigma=0``, ``ir_drop=0`` and ``adc_bits=None`` (or lossless) ``y_int`` equals
the integer product ``x_int @ q`` exactly while every intermediate integer is below ``2**24``
(float32 carries integers exactly up to there; the products run at ``Precision.HIGHEST``).

**Gradients (straight-through).** The output is ``y_lin + stop_gradient(y - y_lin)`` with
``y_lin = x @ (w + stop_gradient(w_eff - w))``, ``w_eff`` the dequantized effective weights (noisy,
IR-dropped, offset-corrected). So the backward pass is that of a float matrix product with the
effective weights: the input quantizer, the bit-streaming and the ADC pass the gradient straight
through (Bengio et al. 2013), and the weight quantizer, slicing and noise pass the weight gradient
straight through to the float weights, as in noise-aware training (Joshi et al., Nat. Commun.
2020: forward with noisy weights, update the clean ones). Draw a fresh key per training step for
noise-aware training; evaluate over K keys with :func:`noisy_evaluate`.

**Use.** Pure functions: :func:`crossbar_matmul` (float), :func:`crossbar_mvm` (integers),
:func:`adc`, :func:`conv_general_dilated` and :func:`dot_general` (``lax``'s signatures plus
``config``, ``key`` and an optional traced ``adc_bits``). In Flax, :class:`CrossbarConvGeneralDilated` and
:class:`CrossbarDotGeneral` plug into an existing ``nn.Conv`` / ``nn.Dense`` and draw their key from
the ``"crossbar"`` RNG stream; they hold no variables, so a network's parameters are the same with
and without the analog path::

    conv = nn.Conv(16, (3, 3), conv_general_dilated_cls=functools.partial(
        CrossbarConvGeneralDilated, config))
    dense = nn.Dense(10, dot_general_cls=functools.partial(CrossbarDotGeneral, config))
    logits = model.apply(variables, images, rngs={RNG_COLLECTION: key})

Memory: the partial sums of one call hold ``2 * P * ceil(K/rows) * chunks * M * slices`` floats;
a two-conv digits CNN (8 and 16 channels, X=64, 8-bit inputs, 1-bit DAC, 2-bit cells) on 397 images
at once needed 0.43 GB of temporaries and 1.1 s per forward pass on the 2-core CPU, so evaluate
in batches (:func:`noisy_evaluate`'s ``batch_size``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from sim import checks
from sim.crossbar.architecture import (
    ADC_BITS_RANGE,
    BIT_RANGES,
    CROSSBAR_SIZES,
    CrossbarAccelerator,
)

RNG_COLLECTION = "crossbar"
"""The Flax RNG stream the hooks draw their conductance-noise keys from."""

IR_DROP_REFERENCE_ROWS = max(CROSSBAR_SIZES)
"""Rows over which the IR-drop loss reaches ``ir_drop`` (the largest crossbar size sim allows)."""

HIGHEST = lax.Precision.HIGHEST
"""The precision of every product here (float32 carries the integers exactly)."""


@dataclasses.dataclass(frozen=True)
class AnalogConfig:
    """How a layer runs on memristive crossbars (module docstring for the model); hashable, so
    usable as a Flax module field and a static jit argument.

    Attributes:
      rows: crossbar rows X (the crossbar size; rows of K beyond X go to further crossbars).
      weight_bits: bits of the signed weight integers, in [2, 16].
      cell_bits: bits stored per cell, in [1, weight_bits].
      input_bits: bits of the unsigned input magnitudes, in [1, 16].
      dac_bits: input bits applied per DAC cycle, in [1, input_bits].
      adc_bits: ADC resolution in [1, 32], or None for no ADC quantization.
      conductance_sigma: sd of the multiplicative Gaussian conductance variation, >= 0.
      ir_drop: share of a cell's contribution lost on row 256 (linear in the row), in [0, 1).
    """

    rows: int = 128
    weight_bits: int = 8
    cell_bits: int = 2
    input_bits: int = 8
    dac_bits: int = 1
    adc_bits: int | None = None
    conductance_sigma: float = 0.0
    ir_drop: float = 0.0

    def __post_init__(self):
        owner = "AnalogConfig"
        checks.positive_int(owner, "rows", self.rows)
        # sim's ranges (one rule), narrowed where this model needs it: a signed weight needs 2
        # bits, a cell no more bits than its weight, a DAC cycle no more than its input
        ranges = BIT_RANGES
        checks.int_in(owner, "weight_bits", self.weight_bits, 2, ranges["weight_bits"][1])
        checks.int_in(owner, "cell_bits", self.cell_bits, ranges["cell_bits"][0],
                      min(ranges["cell_bits"][1], self.weight_bits))
        checks.int_in(owner, "input_bits", self.input_bits, *ranges["input_bits"])
        checks.int_in(owner, "dac_bits", self.dac_bits, ranges["dac_bits"][0],
                      min(ranges["dac_bits"][1], self.input_bits))
        if self.adc_bits is not None:
            checks.int_in(owner, "adc_bits", self.adc_bits, *ADC_BITS_RANGE)
        checks.number_in(owner, "conductance_sigma", self.conductance_sigma, 0.0, math.inf,
                         high_open=True)
        checks.number_in(owner, "ir_drop", self.ir_drop, 0.0, 1.0, high_open=True)
        if self.ir_drop * self.rows >= IR_DROP_REFERENCE_ROWS:
            raise ValueError(f"{owner}.ir_drop * rows / {IR_DROP_REFERENCE_ROWS} must be < 1 (the "
                             f"last row would lose its whole contribution), got ir_drop="
                             f"{self.ir_drop} with rows={self.rows}")

    @property
    def weight_slices(self) -> int:
        """Cells (columns) per weight: ``ceil(weight_bits / cell_bits)``."""
        return -(-self.weight_bits // self.cell_bits)

    @property
    def input_chunks(self) -> int:
        """DAC cycles per input: ``ceil(input_bits / dac_bits)``."""
        return -(-self.input_bits // self.dac_bits)

    @property
    def adc_full_scale(self) -> int:
        """Largest ideal column partial sum F = rows * (2**dac_bits - 1) * (2**cell_bits - 1)."""
        return self.rows * (2 ** self.dac_bits - 1) * (2 ** self.cell_bits - 1)

    @property
    def lossless_adc_bits(self) -> int:
        """ADC bits that resolve every ideal partial sum: ``ceil(log2(F + 1))``."""
        return self.adc_full_scale.bit_length()

    @property
    def noisy(self) -> bool:
        """Whether a call draws conductance noise (and so needs a PRNG key)."""
        return self.conductance_sigma > 0


def analog_config(accelerator: CrossbarAccelerator, crossbar_size: int | None = None,
                  conductance_sigma: float = 0.0, ir_drop: float = 0.0) -> AnalogConfig:
    """The forward-pass model of a layer on ``accelerator`` (``sim``'s crossbar architecture, the
    one description of the hardware) mapped onto crossbars of ``crossbar_size`` (default: the
    architecture's; a per-layer :class:`sim.CrossbarMapping` may set another): its bit widths,
    and the ADC resolution it uses there ("lossless" resolved for that size)."""
    if not isinstance(accelerator, CrossbarAccelerator):
        raise ValueError(f"analog_config needs a sim.CrossbarAccelerator, got "  # noqa: TRY004
                         f"{type(accelerator).__name__}")
    size = accelerator.crossbar_size if crossbar_size is None else crossbar_size
    return AnalogConfig(rows=size, weight_bits=accelerator.weight_bits,
                        cell_bits=accelerator.cell_bits, input_bits=accelerator.input_bits,
                        dac_bits=accelerator.dac_bits,
                        adc_bits=accelerator.adc_resolution_bits(size),
                        conductance_sigma=conductance_sigma, ir_drop=ir_drop)


def adc(partial_sums: jax.Array, config: AnalogConfig, bits: jax.Array | None = None) -> jax.Array:
    """The ADC's reading of column partial sums: uniform over ``[0, F]`` with
    ``L = min(2**adc_bits - 1, F)`` steps, round half to even, clipped to ``[0, F]``; the identity
    when ``config.adc_bits`` is None. ``bits`` (an int array, may be traced) replaces
    ``config.adc_bits``: the supernet's sampled ADC resolution (:mod:`dianjax.nas.analog`)."""
    full_scale = config.adc_full_scale
    if bits is not None:
        steps = jnp.minimum(2.0 ** jnp.asarray(bits, jnp.float32) - 1.0, float(full_scale))
    elif config.adc_bits is None:
        return partial_sums
    else:
        steps = min(2 ** config.adc_bits - 1, full_scale)
    # code = round_half_even(p * L / F), exactly: the quotient by F may be taken as a product by
    # 1/F, one ulp off (eagerly, 10 * 15 / 60 gives 2.5000002), which would round a tie (an integer
    # sum halfway between two levels) the wrong way; the remainder, exact for sums below 2**24,
    # settles the floor and the tie
    scaled = partial_sums * steps
    low = jnp.floor(scaled / full_scale)
    low = low - (scaled < low * full_scale) + (scaled >= (low + 1) * full_scale)
    twice_rest = 2 * (scaled - low * full_scale)
    up = (twice_rest > full_scale) | ((twice_rest == full_scale) & (low % 2 == 1))
    codes = jnp.clip(low + up, 0, steps)
    return codes * (full_scale / steps)


def bit_digits(values: jax.Array, width: int, count: int) -> jax.Array:
    """``values`` (non-negative int32) cut into ``count`` digits of ``width`` bits, least
    significant first, on a new last axis (float32)."""
    shifts = jnp.arange(count, dtype=jnp.int32) * width
    digits = (values[..., None] >> shifts) & (2 ** width - 1)
    return digits.astype(jnp.float32)


def granularity(configs: tuple[AnalogConfig, ...]) -> int:
    """Rows per block of cells when ``configs`` (equal but for ``rows``) are read out together:
    the largest that divides every crossbar size."""
    if len({dataclasses.replace(c, rows=configs[0].rows) for c in configs}) != 1:
        raise ValueError(f"configs read out together must differ in rows only, got {configs}")
    return math.gcd(*(config.rows for config in configs))


def conductances(q: jax.Array, config: AnalogConfig, key: jax.Array | None,
                  rows: int | None = None) -> jax.Array:
    """Cell conductances float[G, T, X, M, S] of signed integer weights ``q`` int32[G, K, M], in
    blocks of ``rows`` (X, default ``config.rows``) rows; conductance noise, no IR drop (it depends
    on the crossbar size, :func:`_ir_kept`)."""
    rows = config.rows if rows is None else rows
    groups, rows_k, columns = q.shape
    tiles = -(-rows_k // rows)
    stored = q + 2 ** (config.weight_bits - 1)  # offset encoding
    cells = bit_digits(stored, config.cell_bits, config.weight_slices)
    cells = jnp.pad(cells, ((0, 0), (0, tiles * rows - rows_k), (0, 0), (0, 0)))
    cells = cells.reshape(groups, tiles, rows, columns, config.weight_slices)
    if config.noisy:
        if key is None:
            raise ValueError("AnalogConfig.conductance_sigma > 0 draws conductance noise: pass a "
                             "PRNG key")
        eps = jax.random.normal(key, cells.shape, jnp.float32)
        cells = cells * jnp.maximum(1.0 + config.conductance_sigma * eps, 0.0)
    return cells


def _ir_kept(config: AnalogConfig, tiles: int, rows: int) -> jax.Array:
    """float[T, X]: the share of each cell's current kept after IR drop on crossbars of
    ``config.rows`` rows, for cells in blocks of ``rows``: ``1 - ir_drop * (i + 1) / 256`` for
    row ``i`` of its crossbar."""
    row = jnp.arange(tiles * rows, dtype=jnp.float32).reshape(tiles, rows) % config.rows
    return 1.0 - config.ir_drop * (row + 1.0) / IR_DROP_REFERENCE_ROWS


def effective_weights(conductances: jax.Array, rows_k: int, config: AnalogConfig) -> jax.Array:
    """What the cells store on crossbars of ``config.rows`` rows (IR drop included), in weight
    integers: float[G, K, M] (``q`` when ideal)."""
    groups, tiles, rows, columns, slices = conductances.shape
    if config.ir_drop > 0:
        conductances = conductances * _ir_kept(config, tiles, rows)[None, :, :, None, None]
    significance = 2.0 ** (jnp.arange(slices) * config.cell_bits)
    stored = jnp.einsum("gtxms,s->gtxm", conductances, significance, precision=HIGHEST)
    stored = stored.reshape(groups, tiles * rows, columns)[:, :rows_k]
    return stored - 2.0 ** (config.weight_bits - 1)


def _mvm(x_int: jax.Array, conductances: jax.Array, config: AnalogConfig,
         adc_bits: jax.Array | None = None) -> jax.Array:
    """Stages 4-8 of the pipeline: unsigned integer inputs int32[A, G, K] through cells
    float[G, T, X, M, S] (crossbars of ``config.rows`` = X rows) -> float[A, G, M]
    (``adc_bits``: see :func:`adc`)."""
    vectors, groups, rows_k = x_int.shape
    _, tiles, rows, _, slices = conductances.shape
    if config.ir_drop > 0:
        conductances = conductances * _ir_kept(config, tiles, rows)[None, :, :, None, None]
    chunks = bit_digits(x_int, config.dac_bits, config.input_chunks)
    chunks = jnp.pad(chunks, ((0, 0), (0, 0), (0, tiles * rows - rows_k), (0, 0)))
    chunks = chunks.reshape(vectors, groups, tiles, rows, config.input_chunks)
    partial_sums = jnp.einsum("agtxc,gtxms->agtcms", chunks, conductances, precision=HIGHEST)
    chunk_weight = 2.0 ** (jnp.arange(config.input_chunks) * config.dac_bits)
    slice_weight = 2.0 ** (jnp.arange(slices) * config.cell_bits)
    y = jnp.einsum("agtcms,c,s->agm", adc(partial_sums, config, adc_bits), chunk_weight,
                   slice_weight, precision=HIGHEST)
    offset = 2.0 ** (config.weight_bits - 1) * jnp.sum(x_int, axis=-1, dtype=jnp.float32)
    return y - offset[..., None]


def crossbar_mvm(x_int: jax.Array, q: jax.Array, config: AnalogConfig,
                 key: jax.Array | None = None) -> jax.Array:
    """The integer-domain crossbar product (stages 2 and 4-8): unsigned integer inputs
    ``x_int[..., K]`` in ``[0, 2**input_bits - 1]`` and signed integer weights ``q[K, M]`` with
    ``|q| <= 2**(weight_bits-1) - 1`` (values outside these ranges are not checked) -> float32
    ``[..., M]``, equal to ``x_int @ q`` when ideal. ``key``: the conductance noise's."""
    if q.ndim != 2 or x_int.shape[-1:] != q.shape[:1]:
        raise ValueError(f"crossbar_mvm needs x_int[..., K] and q[K, M], got {x_int.shape} and "
                         f"{q.shape}")
    batch = x_int.shape[:-1]
    x = jnp.asarray(x_int).astype(jnp.int32).reshape(-1, 1, q.shape[0])
    cells = conductances(jnp.asarray(q).astype(jnp.int32)[None], config, key)
    return _mvm(x, cells, config).reshape(*batch, q.shape[1])


def quantize(x: jax.Array, w: jax.Array, config: AnalogConfig):
    """Stages 1 and 3: float x[P, G, K] and w[G, K, M] -> the signed weight integers
    ``q`` int32[G, K, M] and their per-column scale ``w_scale`` [G, 1, M], the unsigned input
    integers of the positive and negative passes ``parts`` int32[2, P, G, K] and their per-vector
    scale ``x_scale`` [P, G, 1] (no gradients: the straight-through path carries them)."""
    w_max = 2 ** (config.weight_bits - 1) - 1
    w_scale = lax.stop_gradient(jnp.max(jnp.abs(w), axis=1, keepdims=True)) / w_max
    w_scale = jnp.where(w_scale > 0, w_scale, 1.0)
    q = jnp.clip(jnp.round(lax.stop_gradient(w) / w_scale), -w_max, w_max).astype(jnp.int32)
    x_max = 2 ** config.input_bits - 1
    x_scale = lax.stop_gradient(jnp.max(jnp.abs(x), axis=-1, keepdims=True)) / x_max
    x_scale = jnp.where(x_scale > 0, x_scale, 1.0)
    x_fixed = lax.stop_gradient(x) / x_scale
    parts = jnp.stack([jnp.maximum(x_fixed, 0.0), jnp.maximum(-x_fixed, 0.0)])
    parts = jnp.clip(jnp.round(parts), 0, x_max).astype(jnp.int32)
    return q, w_scale, parts, x_scale


def _grouped_matmul(x: jax.Array, w: jax.Array, config: AnalogConfig, key: jax.Array | None,
                    adc_bits: jax.Array | None = None) -> jax.Array:
    """The full pipeline with straight-through gradients: float x[P, G, K], w[G, K, M] ->
    float32[P, G, M] (``adc_bits``: see :func:`adc`)."""
    x, w = x.astype(jnp.float32), w.astype(jnp.float32)
    q, w_scale, parts, x_scale = quantize(x, w, config)
    cells = conductances(q, config, key)
    y_int = _mvm(parts.reshape(-1, *parts.shape[2:]), cells, config, adc_bits).reshape(
        2, *x.shape[:2], w.shape[-1])
    y = (y_int[0] - y_int[1]) * x_scale * w_scale[:, 0]
    w_eff = effective_weights(cells, w.shape[1], config) * w_scale
    y_lin = jnp.einsum("pgk,gkm->pgm", x, w + lax.stop_gradient(w_eff - w), precision=HIGHEST)
    return y_lin + lax.stop_gradient(y - y_lin)


def crossbar_matmul(x: jax.Array, w: jax.Array, config: AnalogConfig,
                    key: jax.Array | None = None, adc_bits: jax.Array | None = None) -> jax.Array:
    """``x[..., K] @ w[K, M]`` run on crossbars (module docstring: pipeline, gradients);
    float32 [..., M]. ``key``: the conductance noise's, needed when ``config.noisy``;
    ``adc_bits``: a (traced) ADC resolution replacing ``config.adc_bits`` (:func:`adc`)."""
    if w.ndim != 2 or x.shape[-1:] != w.shape[:1]:
        raise ValueError(f"crossbar_matmul needs x[..., K] and w[K, M], got {x.shape} and "
                         f"{w.shape}")
    y = _grouped_matmul(x.reshape(-1, 1, w.shape[0]), w[None], config, key, adc_bits)
    return y.reshape(*x.shape[:-1], w.shape[1])


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None, *, config: AnalogConfig,
                         key: jax.Array | None = None,
                         adc_bits: jax.Array | None = None) -> jax.Array:
    """``lax.conv_general_dilated`` run on crossbars: the convolution lowered to im2col patches
    times the [R*S*C/groups, M/groups] kernel of each group (:func:`conv_as_matmul`,
    :func:`crossbar_matmul`'s pipeline). ``precision`` is ignored (the analog path is exact where
    ideal); ``batch_group_count`` must be 1; ``adc_bits``: a (traced) resolution replacing
    ``config.adc_bits``."""
    del precision
    return conv_as_matmul(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                          dimension_numbers, feature_group_count, batch_group_count,
                          preferred_element_type, 1,
                          lambda x, w: _grouped_matmul(x, w, config, key, adc_bits)[None])[0]


def conv_as_matmul(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count,
                   preferred_element_type, count: int, matmul) -> jax.Array:
    """A convolution (``lax.conv_general_dilated``'s arguments) as ``matmul(x[P, G, K],
    w[G, K, M]) -> [count, P, G, M]`` on its im2col patches (``lax.conv_general_dilated_patches``:
    any layout, padding, stride and dilation) and per-group kernels: [count, *output shape]."""
    if batch_group_count != 1:
        raise ValueError(f"the crossbar convolution supports batch_group_count=1 only, got "
                         f"{batch_group_count}")
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    _, rhs_spec, out_spec = dn
    filter_shape = tuple(rhs.shape[d] for d in rhs_spec[2:])
    patches = lax.conv_general_dilated_patches(
        lhs, filter_shape, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dn, precision=HIGHEST)
    out_order = (out_spec[0], *out_spec[2:], out_spec[1])
    patches = jnp.transpose(patches, out_order)  # [N, spatial..., C*prod(filter)], C major
    groups = feature_group_count
    kernel = jnp.transpose(rhs, (rhs_spec[1], *rhs_spec[2:], rhs_spec[0]))
    features = kernel.shape[-1]
    kernel = kernel.reshape(-1, groups, features // groups).transpose(1, 0, 2)
    x = patches.reshape(-1, groups, kernel.shape[1])
    y = matmul(x, kernel).reshape(count, *patches.shape[:-1], features)
    y = jnp.transpose(y, (0, *(1 + np.argsort(out_order))))
    return y.astype(preferred_element_type or jnp.result_type(lhs, rhs))


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, *,
                config: AnalogConfig, key: jax.Array | None = None,
                adc_bits: jax.Array | None = None) -> jax.Array:
    """``lax.dot_general`` run on crossbars, for the contraction ``nn.Dense`` makes: ``lhs``'s last
    axis with a 2-D ``rhs``'s first, no batch axes. ``precision`` is ignored."""
    del precision
    check_dense_contraction(lhs, rhs, dimension_numbers)
    y = crossbar_matmul(lhs, rhs, config, key, adc_bits)
    return y.astype(preferred_element_type or jnp.result_type(lhs, rhs))


def check_dense_contraction(lhs, rhs, dimension_numbers) -> None:
    """Refuses a ``dot_general`` other than ``lhs[..., K] @ rhs[K, M]`` (what ``nn.Dense`` makes)."""
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    if (rhs.ndim != 2 or tuple(lhs_contract) != (lhs.ndim - 1,) or tuple(rhs_contract) != (0,)
            or tuple(lhs_batch) or tuple(rhs_batch)):
        raise ValueError(f"the crossbar dot_general supports lhs[..., K] @ rhs[K, M] only "
                         f"(dimension_numbers (((lhs.ndim-1,), (0,)), ((), ()))), got "
                         f"{dimension_numbers} for shapes {lhs.shape}, {rhs.shape}")


class CrossbarConvGeneralDilated(nn.Module):
    """:func:`conv_general_dilated` as ``nn.Conv(conv_general_dilated_cls=...)``, its key from the
    :data:`RNG_COLLECTION` stream (when the config is noisy). No variables."""

    config: AnalogConfig

    def __call__(self, lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                 dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                 precision=None, preferred_element_type=None):
        key = self.make_rng(RNG_COLLECTION) if self.config.noisy else None
        return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, batch_group_count,
                                    precision, preferred_element_type, config=self.config, key=key)


class CrossbarDotGeneral(nn.Module):
    """:func:`dot_general` as ``nn.Dense(dot_general_cls=...)``, its key from the
    :data:`RNG_COLLECTION` stream (when the config is noisy). No variables."""

    config: AnalogConfig

    def __call__(self, lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
        key = self.make_rng(RNG_COLLECTION) if self.config.noisy else None
        return dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type,
                           config=self.config, key=key)


class NoisyAccuracy(NamedTuple):
    """Accuracy over K draws of the noise: ``mean``, ``sd`` (sample sd, ddof=1) and the K
    ``samples``."""

    mean: float
    sd: float
    samples: np.ndarray


def noisy_evaluate(apply_fn: Callable[[object, jax.Array, jax.Array], jax.Array], params,
                   inputs: jax.Array, labels: jax.Array, key: jax.Array, num_samples: int,
                   batch_size: int | None = None) -> NoisyAccuracy:
    """Top-1 accuracy of ``apply_fn(params, inputs, key) -> logits`` over ``num_samples`` (>= 2)
    noise keys split from ``key``; each key is one chip instance, used for every batch of the
    data set (``batch_size``: examples per call, all at once if None)."""
    checks.positive_int("noisy_evaluate", "num_samples", num_samples)
    if num_samples < 2:
        raise ValueError(f"noisy_evaluate.num_samples must be >= 2 (an sd needs two samples), got "
                         f"{num_samples}")
    count = len(labels)
    if len(inputs) != count:
        raise ValueError(f"noisy_evaluate needs one label per input, got {len(inputs)} inputs and "
                         f"{count} labels")
    batch_size = count if batch_size is None else checks.positive_int(
        "noisy_evaluate", "batch_size", batch_size)
    keys = jax.random.split(key, num_samples)

    @jax.jit
    def correct(params, x, y):
        def one(k):
            return jnp.sum(jnp.argmax(apply_fn(params, x, k), axis=-1) == y)

        return lax.map(one, keys)

    hits = sum(np.asarray(correct(params, inputs[i:i + batch_size], labels[i:i + batch_size]))
               for i in range(0, count, batch_size))
    samples = hits / count
    return NoisyAccuracy(float(np.mean(samples)), float(np.std(samples, ddof=1)), samples)
