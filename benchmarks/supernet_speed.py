"""Supernet training speed: compile time and steps/second, soft (all ops) vs hard (one op per layer).

One step = Gumbel-softmax sample of the op weights, forward + backward through the supernet (batch
norm in training mode), SGD-momentum update of the weights and Adam update of the arch logits, all in
one jitted function (the shape of a search's step). Times the default device (CPU unless a GPU/TPU
JAX is installed), after a warm-up; prints one row per mode.

    python benchmarks/supernet_speed.py                           # quickstart space, batch 64
    python benchmarks/supernet_speed.py --space cifar --batch 128 --steps 50
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import optax

from dianjax.nas import gumbel
from dianjax.nas.search_space import SPACES, get_space
from dianjax.nas.supernet import Supernet, init_supernet


def _step(space, weight_tx, arch_tx, hard, carry, batch, key):
    params, batch_stats, logits, weight_opt, arch_opt = carry

    def loss_fn(params, logits):
        weights = gumbel.gumbel_softmax(key, logits, 1.0, hard=hard, mask=space.op_mask())
        out, updates = Supernet(space).apply({"params": params, "batch_stats": batch_stats},
                                             batch["image"], weights, train=True, hard=hard,
                                             mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(out, batch["label"])
        return jnp.mean(loss), updates["batch_stats"]

    (loss, batch_stats), (param_grads, logit_grads) = jax.value_and_grad(
        loss_fn, (0, 1), has_aux=True)(params, logits)
    updates, weight_opt = weight_tx.update(param_grads, weight_opt, params)
    params = optax.apply_updates(params, updates)
    updates, arch_opt = arch_tx.update(logit_grads, arch_opt, logits)
    logits = optax.apply_updates(logits, updates)
    return (params, batch_stats, logits, weight_opt, arch_opt), loss


def benchmark(space_name: str, batch_size: int, steps: int, hard: bool) -> dict:
    space = get_space(space_name)
    variables = init_supernet(jax.random.key(0), space)
    logits = jnp.zeros((space.num_layers, space.num_ops))
    weight_tx, arch_tx = optax.sgd(0.05, momentum=0.9), optax.adam(3e-4)
    carry = (variables["params"], variables["batch_stats"], logits,
             weight_tx.init(variables["params"]), arch_tx.init(logits))
    images = jax.random.normal(jax.random.key(1), (batch_size, space.image_size, space.image_size,
                                                   space.in_channels))
    batch = {"image": images, "label": jnp.arange(batch_size) % space.num_classes}
    step = jax.jit(functools.partial(_step, space, weight_tx, arch_tx, hard), donate_argnums=0)
    keys = jax.random.split(jax.random.key(2), steps + 1)
    start = time.perf_counter()
    carry, loss = step(carry, batch, keys[0])
    loss.block_until_ready()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(steps):
        carry, loss = step(carry, batch, keys[i + 1])
    loss.block_until_ready()
    elapsed = time.perf_counter() - start
    return {"mode": "hard" if hard else "soft", "compile_s": compile_s,
            "steps_per_s": steps / elapsed, "images_per_s": steps * batch_size / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="quickstart", choices=sorted(SPACES))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    space = get_space(args.space)
    print(f"space {args.space}: {space.num_layers} searchable layers x {space.num_ops} ops, "
          f"batch {args.batch}, {args.steps} timed steps on {jax.devices()[0].device_kind} "
          f"({jax.device_count()} device(s))")
    print(f"{'mode':6s} {'compile s':>10s} {'steps/s':>10s} {'images/s':>10s}")
    for hard in (False, True):
        row = benchmark(args.space, args.batch, args.steps, hard)
        print(f"{row['mode']:6s} {row['compile_s']:10.2f} {row['steps_per_s']:10.2f} "
              f"{row['images_per_s']:10.0f}")


if __name__ == "__main__":
    main()
