"""Depthwise and pointwise convolutions written for XLA's CPU backend.

XLA's CPU backend runs the convolutions of an MBConv block slowly at the search spaces' small
shapes: ``lax.conv_general_dilated`` with ``feature_group_count == channels`` (depthwise) becomes a
generic loop, and a 1x1 convolution and its gradients go through the convolution library instead of
a matrix product. Here

- a depthwise convolution is ``sum_ij window_ij(x) * w_ij`` over the kernel taps, with a custom
  VJP whose backward pass has the same form (``dx``: the dilated cotangent correlated with the
  flipped kernel; ``dw``: one reduction per tap). The taps are either unrolled (XLA fuses them
  into one pass over the input: fastest to run) or a ``fori_loop`` (compiles once for any kernel:
  fastest to compile). A standalone network runs unrolled; the supernet, which compiles every op
  of every layer into one program, loops: there the unrolled taps took 27 s to compile against
  15 s and ran no faster (13.9 against 15.2 soft steps/s, ``benchmarks/supernet_speed.py``);
- a 1x1 convolution is a matrix product (``einsum``; its gradients are matrix products too).

On this project's 2-core CPU container a training step of the quickstart network with
``mb_k5_e3`` in every layer (batch 64) took 32 ms with ``lax``'s convolutions and the tap loop,
23 ms with matrix-product 1x1 convolutions and the tap loop, and 15 ms with unrolled taps;
``benchmarks/cpu_conv_speed.py`` times each convolution against ``lax``. GPUs and TPUs have fast
convolution kernels, so :func:`conv_general_dilated` takes these paths only on CPU.

:func:`conv_general_dilated` has the signature of ``lax.conv_general_dilated`` and is passed to
``flax.linen.Conv(conv_general_dilated=...)``: parameters, shapes and results are those of the
convolution it replaces (up to float summation order); every other convolution goes to ``lax``.
Differentiable in reverse mode (``jax.grad``, ``jax.vjp``), which is what training uses.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

_NHWC_SPECS = ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))  # lax's spec of NHWC / HWIO / NHWC


def _window(x: jax.Array, i, j, strides: tuple[int, int], out_hw: tuple[int, int]) -> jax.Array:
    """``x[n, i + sh*h, j + sw*v, c]`` for h, v on the out_hw grid: what kernel tap (i, j) reads
    (``i``, ``j`` Python ints when unrolled, traced inside the tap loop)."""
    (sh, sw), (oh, ow) = strides, out_hw
    size = (x.shape[0], (oh - 1) * sh + 1, (ow - 1) * sw + 1, x.shape[3])
    return lax.dynamic_slice(x, (0, i, j, 0), size)[:, ::sh, ::sw, :]


def _correlate(x: jax.Array, w: jax.Array, strides: tuple[int, int], out_hw: tuple[int, int],
               unroll: bool) -> jax.Array:
    """``out[n, h, v, c] = sum_ij x[n, i + sh*h, j + sw*v, c] * w[i, j, c]`` over an out_hw grid:
    the taps unrolled (one fused pass) or in a ``fori_loop`` (compiles once for any kernel)."""
    kh, kw, channels = w.shape
    if unroll:
        taps = [_window(x, i, j, strides, out_hw) * w[i, j] for i in range(kh) for j in range(kw)]
        return functools.reduce(jnp.add, taps)

    def add_tap(tap, acc):
        i, j = tap // kw, tap % kw
        return acc + _window(x, i, j, strides, out_hw) * w[i, j]

    # The loop starts from tap (0, 0), not from zeros: XLA:CPU kept a zero-filled accumulator
    # copy per loop alive in the supernet's backward pass (cifar10 joint step 21.8 -> 3.7 GiB).
    first = (_window(x, 0, 0, strides, out_hw) * w[0, 0]).astype(jnp.result_type(x, w))
    return lax.fori_loop(1, kh * kw, add_tap, first)


def _tap_grads(x: jax.Array, g: jax.Array, w: jax.Array, strides: tuple[int, int],
               unroll: bool) -> jax.Array:
    """``dw[i, j, c] = sum_nhv window_ij(x)[n, h, v, c] * g[n, h, v, c]``."""
    kh, kw, _ = w.shape
    out_hw = g.shape[1:3]
    if unroll:
        sums = [jnp.sum(_window(x, i, j, strides, out_hw) * g, axis=(0, 1, 2))
                for i in range(kh) for j in range(kw)]
        return jnp.stack(sums).reshape(w.shape).astype(w.dtype)

    def tap_grad(tap, dw):
        i, j = tap // kw, tap % kw
        window = _window(x, i, j, strides, out_hw)
        return dw.at[i, j].set(jnp.sum(window * g, axis=(0, 1, 2)).astype(dw.dtype))

    return lax.fori_loop(0, kh * kw, tap_grad, jnp.zeros_like(w))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _valid_depthwise(x: jax.Array, w: jax.Array, strides: tuple[int, int],
                     unroll: bool) -> jax.Array:
    """Unpadded ('VALID') depthwise convolution of NHWC ``x`` with a (kh, kw, C) kernel."""
    kh, kw, _ = w.shape
    out_hw = ((x.shape[1] - kh) // strides[0] + 1, (x.shape[2] - kw) // strides[1] + 1)
    return _correlate(x, w, strides, out_hw, unroll)


def _valid_depthwise_fwd(x, w, strides, unroll):
    return _valid_depthwise(x, w, strides, unroll), (x, w)


def _valid_depthwise_bwd(strides, unroll, residuals, g):
    """dw: per-tap sums of window * g; dx: the cotangent, dilated by the stride and padded, correlated
    with the flipped kernel (the transposed convolution)."""
    x, w = residuals
    kh, kw, _ = w.shape
    (sh, sw), (_, oh, ow, _) = strides, g.shape
    dw = _tap_grads(x, g, w, strides, unroll)
    height, width = x.shape[1], x.shape[2]
    unused_h, unused_w = height - (oh - 1) * sh - kh, width - (ow - 1) * sw - kw  # rows no tap reads
    dilated = lax.pad(g, jnp.zeros((), g.dtype),
                      ((0, 0, 0), (kh - 1, kh - 1 + unused_h, sh - 1),
                       (kw - 1, kw - 1 + unused_w, sw - 1), (0, 0, 0)))
    dx = _correlate(dilated, w[::-1, ::-1], (1, 1), (height, width), unroll).astype(x.dtype)
    return dx, dw


_valid_depthwise.defvjp(_valid_depthwise_fwd, _valid_depthwise_bwd)


def tap_depthwise(inputs: jax.Array, kernel: jax.Array, strides: Sequence[int],
                  padding: Sequence[tuple[int, int]], unroll: bool = True) -> jax.Array:
    """Depthwise convolution of NHWC ``inputs`` with an HWIO ``kernel`` of shape (kh, kw, 1, C);
    ``unroll``: the kernel taps unrolled, else in a loop (see the module docstring)."""
    _, _, one, channels = kernel.shape
    if inputs.ndim != 4 or one != 1 or inputs.shape[-1] != channels:
        raise ValueError(f"tap_depthwise needs NHWC inputs and a (kh, kw, 1, C) kernel with the "
                         f"same C, got {inputs.shape} and {kernel.shape}")
    (top, bottom), (left, right) = padding
    x = jnp.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)))
    return _valid_depthwise(x, kernel[:, :, 0, :], (int(strides[0]), int(strides[1])),
                            bool(unroll))


def matmul_pointwise(inputs: jax.Array, kernel: jax.Array, strides: Sequence[int],
                     precision=None) -> jax.Array:
    """Unpadded 1x1 convolution of NHWC ``inputs`` with a (1, 1, C, M) kernel, as a matrix product."""
    if inputs.ndim != 4 or kernel.shape[:2] != (1, 1) or inputs.shape[-1] != kernel.shape[2]:
        raise ValueError(f"matmul_pointwise needs NHWC inputs and a (1, 1, C, M) kernel with the "
                         f"same C, got {inputs.shape} and {kernel.shape}")
    strided = inputs[:, ::int(strides[0]), ::int(strides[1]), :]
    return jnp.einsum("nhwc,cm->nhwm", strided, kernel[0, 0], precision=precision)


def _plain_nhwc(inputs, kernel, padding, lhs_dilation, rhs_dilation, dimension_numbers) -> bool:
    """4-D NHWC / HWIO operands, explicit padding, no dilation."""
    no_dilation = all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
    nhwc = isinstance(dimension_numbers, lax.ConvDimensionNumbers) and tuple(
        tuple(spec) for spec in dimension_numbers) == _NHWC_SPECS
    return inputs.ndim == 4 and kernel.ndim == 4 and not isinstance(padding, str) and (
        no_dilation and nhwc)


def _path(inputs, kernel, padding, lhs_dilation, rhs_dilation, dimension_numbers,
          feature_group_count) -> str:
    """Which implementation runs a convolution on CPU: "depthwise", "pointwise" or "lax"."""
    if not _plain_nhwc(inputs, kernel, padding, lhs_dilation, rhs_dilation, dimension_numbers):
        return "lax"
    if kernel.shape[2] == 1 and feature_group_count == inputs.shape[-1] == kernel.shape[-1] > 1:
        return "depthwise"
    if (kernel.shape[:2] == (1, 1) and feature_group_count == 1
            and all(tuple(pair) == (0, 0) for pair in padding)):
        return "pointwise"
    return "lax"


def conv_general_dilated(inputs, kernel, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         precision=None, unroll_taps: bool = True, **kwargs):
    """``lax.conv_general_dilated``, with plain NHWC depthwise convolutions on CPU done by
    :func:`tap_depthwise` (``unroll_taps``: its ``unroll``) and 1x1 ones by
    :func:`matmul_pointwise`."""
    if jax.default_backend() == "cpu":
        path = _path(inputs, kernel, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                     feature_group_count)
        if path == "depthwise":
            return tap_depthwise(inputs, kernel, window_strides, padding, unroll_taps)
        if path == "pointwise":
            return matmul_pointwise(inputs, kernel, window_strides, precision)
    return lax.conv_general_dilated(inputs, kernel, window_strides, padding,
                                    lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                                    dimension_numbers=dimension_numbers,
                                    feature_group_count=feature_group_count, precision=precision,
                                    **kwargs)
