"""Depthwise convolution on the default device: ``lax`` grouped convolution vs the tap loop.

For each (batch shape, kernel, stride) prints the compile time and the time of one jitted
forward + backward (gradients w.r.t. input and kernel) of ``lax.conv_general_dilated`` with
``feature_group_count == channels`` and of :func:`dianjax.nas.depthwise.loop_depthwise`, and their
ratio. The supernet uses the loop on CPU only (``dianjax.nas.depthwise.conv_general_dilated``).

    python benchmarks/depthwise_speed.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
from jax import lax

from dianjax.nas.depthwise import loop_depthwise

CASES = [((64, 8, 8, 48), 3, 1), ((64, 8, 8, 48), 5, 1), ((64, 8, 8, 48), 5, 2),
         ((8, 32, 32, 96), 3, 1), ((8, 32, 32, 96), 7, 1), ((8, 32, 32, 96), 7, 2)]


def _grouped(x, w, stride, padding):
    return lax.conv_general_dilated(x, w, (stride, stride), padding,
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=x.shape[-1])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"depthwise forward + backward on {jax.devices()[0].device_kind}, {args.repeats} repeats")
    print(f"{'input NHWC':>16s} {'k':>2s} {'s':>2s} {'lax compile s':>14s} {'lax ms':>8s} "
          f"{'loop compile s':>15s} {'loop ms':>8s} {'speed-up':>9s}")
    for shape, kernel, stride in CASES:
        x = jax.random.normal(jax.random.key(0), shape)
        w = jax.random.normal(jax.random.key(1), (kernel, kernel, 1, shape[-1]))
        padding = ((kernel // 2, kernel // 2),) * 2
        lax_c, lax_ms = _time(lambda x, w: _grouped(x, w, stride, padding), x, w, args.repeats)
        loop_c, loop_ms = _time(lambda x, w: loop_depthwise(x, w, (stride, stride), padding), x, w,
                                args.repeats)
        print(f"{str(shape):>16s} {kernel:2d} {stride:2d} {lax_c:14.2f} {lax_ms:8.2f} "
              f"{loop_c:15.2f} {loop_ms:8.2f} {lax_ms / loop_ms:8.1f}x")


if __name__ == "__main__":
    main()
