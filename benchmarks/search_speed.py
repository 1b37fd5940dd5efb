"""Joint-search step speed: compile time and steps/second of the real search steps, per phase.

Times :func:`dianjax.search.steps.search_step` exactly as ``dianjax search`` runs it (jitted, one
weight step on a train batch, plus one logit step with the relaxed cost model on a val batch
outside the warm-up), on random images of the config's shape on the default device. The ratio
joint/warm-up is the price of the architecture + hardware update, cost model included.

    python benchmarks/search_speed.py                          # quickstart config
    python benchmarks/search_speed.py --config cifar10 --steps 20
"""

from __future__ import annotations

import argparse
import functools
import time

import jax

from dianjax import cost
from dianjax.config import load_config
from dianjax.search.config import make_setup
from dianjax.search.steps import WARMUP, Phase, init_state, make_optimizers, search_step


def _batch(setup, key):
    size, channels = setup.space.image_size, setup.space.in_channels
    batch_size = setup.config.data.batch_size
    images = jax.random.normal(key, (batch_size, size, size, channels))
    return {"image": images, "label": jax.numpy.arange(batch_size) % setup.space.num_classes}


def benchmark(config_name: str, steps: int) -> list[dict]:
    setup = make_setup(load_config(config_name))
    optimizers = make_optimizers(setup)
    reference = cost.reference_metrics(setup.table, setup.hardware)
    rows = []
    for name, phase in (("warm-up (weights only)", WARMUP),
                        ("joint (weights + logits)", Phase(True, True, True, False))):
        state = init_state(setup, optimizers, jax.random.key(0))
        train, val = _batch(setup, jax.random.key(1)), _batch(setup, jax.random.key(2))
        step = jax.jit(functools.partial(search_step, setup, optimizers, phase))
        start = time.perf_counter()
        state, metrics = step(state, train, val, jax.random.key(3), reference)
        jax.block_until_ready(metrics)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(steps):
            state, metrics = step(state, train, val, jax.random.key(4 + i), reference)
        jax.block_until_ready(metrics)
        rows.append({"phase": name, "compile_s": compile_s,
                     "steps_per_s": steps / (time.perf_counter() - start)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="quickstart")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    rows = benchmark(args.config, args.steps)
    print(f"config {args.config}, device {jax.devices()[0].device_kind}, {args.steps} timed steps")
    print(f"{'phase':28s} {'compile s':>10s} {'steps/s':>9s}")
    for row in rows:
        print(f"{row['phase']:28s} {row['compile_s']:10.1f} {row['steps_per_s']:9.2f}")
    print(f"joint / warm-up time per step: {rows[0]['steps_per_s'] / rows[1]['steps_per_s']:.2f}x")


if __name__ == "__main__":
    main()
