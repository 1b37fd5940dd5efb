"""Depthwise convolution as a loop over kernel taps of shifted, per-channel-scaled windows.

XLA's CPU backend lowers ``lax.conv_general_dilated`` with ``feature_group_count == channels`` (a
depthwise convolution, in every MBConv block of the search spaces) to a slow generic loop. Written
as ``sum_ij window_ij(x) * w_ij``, one fused multiply-add per tap in a ``fori_loop``, with a custom
VJP whose backward pass is the same kind of loop, it is 6-15x faster (``benchmarks/
depthwise_speed.py``; on this project's 2-core CPU container forward + backward of a 5x5 depthwise
convolution of a (64, 8, 8, 48) batch took 46 ms with ``lax`` and 7.4 ms here, a 7x7 one of
(8, 32, 32, 96) 401 ms against 55 ms).
The loop keeps compilation time independent of the kernel size (an unrolled sum of k^2 slices
compiles several times slower). GPUs and TPUs have fast depthwise kernels, so
:func:`conv_general_dilated` takes this path only on CPU.

:func:`conv_general_dilated` has the signature of ``lax.conv_general_dilated`` and is passed to
``flax.linen.Conv(conv_general_dilated=...)``: parameters, shapes and results are those of the
grouped convolution (up to float summation order); every other convolution goes to ``lax``.
Differentiable in reverse mode (``jax.grad``, ``jax.vjp``), which is what training uses.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax


def _window(x: jax.Array, i: jax.Array, j: jax.Array, strides: tuple[int, int],
            out_hw: tuple[int, int]) -> jax.Array:
    """``x[n, i + sh*h, j + sw*v, c]`` for h, v on the out_hw grid: what kernel tap (i, j) reads."""
    (sh, sw), (oh, ow) = strides, out_hw
    size = (x.shape[0], (oh - 1) * sh + 1, (ow - 1) * sw + 1, x.shape[3])
    return lax.dynamic_slice(x, (0, i, j, 0), size)[:, ::sh, ::sw, :]


def _correlate(x: jax.Array, w: jax.Array, strides: tuple[int, int],
               out_hw: tuple[int, int]) -> jax.Array:
    """``out[n, h, v, c] = sum_ij x[n, i + sh*h, j + sw*v, c] * w[i, j, c]`` over an out_hw grid."""
    kh, kw, channels = w.shape

    def add_tap(tap, acc):
        i, j = tap // kw, tap % kw
        return acc + _window(x, i, j, strides, out_hw) * w[i, j]

    zeros = jnp.zeros((x.shape[0], *out_hw, channels), jnp.result_type(x, w))
    return lax.fori_loop(0, kh * kw, add_tap, zeros)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _valid_depthwise(x: jax.Array, w: jax.Array, strides: tuple[int, int]) -> jax.Array:
    """Unpadded ('VALID') depthwise convolution of NHWC ``x`` with a (kh, kw, C) kernel."""
    kh, kw, _ = w.shape
    out_hw = ((x.shape[1] - kh) // strides[0] + 1, (x.shape[2] - kw) // strides[1] + 1)
    return _correlate(x, w, strides, out_hw)


def _valid_depthwise_fwd(x, w, strides):
    return _valid_depthwise(x, w, strides), (x, w)


def _valid_depthwise_bwd(strides, residuals, g):
    """dw: per-tap sums of window * g; dx: the cotangent, dilated by the stride and padded, correlated
    with the flipped kernel (the transposed convolution), as one more tap loop."""
    x, w = residuals
    kh, kw, _ = w.shape
    (sh, sw), (_, oh, ow, _) = strides, g.shape

    def tap_grad(tap, dw):
        i, j = tap // kw, tap % kw
        window = _window(x, i, j, strides, (oh, ow))
        return dw.at[i, j].set(jnp.sum(window * g, axis=(0, 1, 2)).astype(dw.dtype))

    dw = lax.fori_loop(0, kh * kw, tap_grad, jnp.zeros_like(w))
    height, width = x.shape[1], x.shape[2]
    unused_h, unused_w = height - (oh - 1) * sh - kh, width - (ow - 1) * sw - kw  # rows no tap reads
    dilated = lax.pad(g, jnp.zeros((), g.dtype),
                      ((0, 0, 0), (kh - 1, kh - 1 + unused_h, sh - 1),
                       (kw - 1, kw - 1 + unused_w, sw - 1), (0, 0, 0)))
    dx = _correlate(dilated, w[::-1, ::-1], (1, 1), (height, width)).astype(x.dtype)
    return dx, dw


_valid_depthwise.defvjp(_valid_depthwise_fwd, _valid_depthwise_bwd)


def loop_depthwise(inputs: jax.Array, kernel: jax.Array, strides: Sequence[int],
                   padding: Sequence[tuple[int, int]]) -> jax.Array:
    """Depthwise convolution of NHWC ``inputs`` with an HWIO ``kernel`` of shape (kh, kw, 1, C)."""
    kh, kw, one, channels = kernel.shape
    if inputs.ndim != 4 or one != 1 or inputs.shape[-1] != channels:
        raise ValueError(f"loop_depthwise needs NHWC inputs and a (kh, kw, 1, C) kernel with the "
                         f"same C, got {inputs.shape} and {kernel.shape}")
    (top, bottom), (left, right) = padding
    x = jnp.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)))
    return _valid_depthwise(x, kernel[:, :, 0, :], (int(strides[0]), int(strides[1])))


def _is_plain_nhwc_depthwise(inputs, kernel, padding, lhs_dilation, rhs_dilation,
                             dimension_numbers, feature_group_count) -> bool:
    no_dilation = all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
    nhwc = isinstance(dimension_numbers, lax.ConvDimensionNumbers) and (
        tuple(dimension_numbers.lhs_spec), tuple(dimension_numbers.rhs_spec),
        tuple(dimension_numbers.out_spec)) == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    return (inputs.ndim == 4 and kernel.ndim == 4 and kernel.shape[2] == 1
            and feature_group_count == inputs.shape[-1] == kernel.shape[-1] > 1
            and not isinstance(padding, str) and no_dilation and nhwc)


def conv_general_dilated(inputs, kernel, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         precision=None, **kwargs):
    """``lax.conv_general_dilated``, with plain NHWC depthwise convolutions on CPU done by
    :func:`loop_depthwise`."""
    if jax.default_backend() == "cpu" and _is_plain_nhwc_depthwise(
            inputs, kernel, padding, lhs_dilation, rhs_dilation, dimension_numbers,
            feature_group_count):
        return loop_depthwise(inputs, kernel, window_strides, padding)
    return lax.conv_general_dilated(inputs, kernel, window_strides, padding,
                                    lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                                    dimension_numbers=dimension_numbers,
                                    feature_group_count=feature_group_count, precision=precision,
                                    **kwargs)
