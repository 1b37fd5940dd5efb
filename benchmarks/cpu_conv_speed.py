"""The CPU convolutions of ``dianjax.nas.cpu_conv`` against ``lax``, on the default device.

For each depthwise case (batch shape, kernel, stride) prints the compile time and the time of one
jitted forward + backward (gradients w.r.t. input and kernel) of ``lax.conv_general_dilated`` with
``feature_group_count == channels``, of the tap loop and of the unrolled taps
(:func:`dianjax.nas.cpu_conv.tap_depthwise` with ``unroll`` False / True); for each 1x1 case, of
``lax`` and of :func:`dianjax.nas.cpu_conv.matmul_pointwise`. The supernet and the standalone
networks take these paths on CPU only (``dianjax.nas.cpu_conv.conv_general_dilated``).

    python benchmarks/cpu_conv_speed.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
from jax import lax

from dianjax.nas.cpu_conv import matmul_pointwise, tap_depthwise

DEPTHWISE = [((64, 8, 8, 48), 3, 1), ((64, 8, 8, 48), 5, 1), ((64, 8, 8, 48), 5, 2),
             ((8, 32, 32, 96), 3, 1), ((8, 32, 32, 96), 7, 1), ((8, 32, 32, 96), 7, 2)]
POINTWISE = [((64, 8, 8, 16), 48), ((64, 8, 8, 48), 16), ((8, 32, 32, 32), 192)]
NHWC = ("NHWC", "HWIO", "NHWC")


def _time(conv, x, w, repeats: int) -> tuple[float, float]:
    """Compile seconds and milliseconds per forward + backward."""
    grad = jax.jit(jax.grad(lambda x, w: jnp.sum(conv(x, w) ** 2), (0, 1)))
    start = time.perf_counter()
    jax.block_until_ready(grad(x, w))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        out = grad(x, w)
    jax.block_until_ready(out)
    return compile_s, (time.perf_counter() - start) / repeats * 1e3


def _depthwise_convs(stride: int, padding, channels: int) -> list:
    """lax's grouped convolution, the tap loop, the unrolled taps."""
    def grouped(x, w):
        return lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=NHWC,
                                        feature_group_count=channels)

    return [grouped] + [functools.partial(_taps, stride=stride, padding=padding, unroll=unroll)
                        for unroll in (False, True)]


def _taps(x, w, stride, padding, unroll):
    return tap_depthwise(x, w, (stride, stride), padding, unroll)


def _pointwise_lax(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), ((0, 0), (0, 0)), dimension_numbers=NHWC)


def _row(label: str, timings: list[tuple[float, float]]) -> str:
    cells = " ".join(f"{c:9.2f} {ms:8.2f}" for c, ms in timings)
    return f"{label:>26s} {cells} {timings[0][1] / min(ms for _, ms in timings[1:]):8.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"forward + backward on {jax.devices()[0].device_kind}, {args.repeats} repeats; "
          "compile s and ms per call; speed-up: lax / the fastest of ours")
    print(f"{'depthwise NHWC, k, s':>26s} {'lax':>18s} {'tap loop':>18s} {'unrolled':>18s}")
    for shape, kernel, stride in DEPTHWISE:
        x = jax.random.normal(jax.random.key(0), shape)
        w = jax.random.normal(jax.random.key(1), (kernel, kernel, 1, shape[-1]))
        padding = ((kernel // 2, kernel // 2),) * 2
        timings = [_time(conv, x, w, args.repeats)
                   for conv in _depthwise_convs(stride, padding, shape[-1])]
        print(_row(f"{shape} {kernel} {stride}", timings))
    print(f"{'1x1 NHWC -> M':>26s} {'lax':>18s} {'matmul':>18s}")
    for shape, out in POINTWISE:
        x = jax.random.normal(jax.random.key(0), shape)
        w = jax.random.normal(jax.random.key(1), (1, 1, shape[-1], out))
        timings = [_time(conv, x, w, args.repeats)
                   for conv in (_pointwise_lax, functools.partial(matmul_pointwise, strides=(1, 1)))]
        print(_row(f"{shape} -> {out}", timings))


if __name__ == "__main__":
    main()
