"""Speed of the crossbar-aware supernet: the search's crossbar model against the full bit-level
pipeline, on the same supernet, batch, ops and hardware.

Command:  python benchmarks/analog_step_speed.py [--space nax_quickstart] [--batch 64]
              [--size 64] [--adc 8] [--repeats 5]

Prints, for the forward + backward of a hard (single-path) supernet step: compile time and seconds
per step, digitally, on the search's model (``dianjax.nas.analog``: linear stages exact, the ADC by
its quantization-noise model, every crossbar size computed at once) and on the full pipeline
(``dianjax.nas.crossbar_noise``, one static size), and the full / search ratio. 4-bit cells and
2-bit DACs as in configs/nax_quickstart.py; conductance sd 0.1.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas.analog import SlotChoice, analog_search
from dianjax.nas.crossbar_noise import RNG_COLLECTION
from dianjax.nas.search_space import get_space, layer_table
from dianjax.nas.supernet import Supernet, init_supernet
from sim.crossbar import LOSSLESS


def _timed(step, *args, repeats: int) -> tuple[float, float]:
    start = time.perf_counter()
    jax.block_until_ready(step(*args))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(step(*args))
    return compile_s, (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nax_quickstart")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--adc", default="8")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    adc = args.adc if args.adc == LOSSLESS else int(args.adc)
    space = get_space(args.space)
    slots = layer_table(space).mapping_slots
    hardware = HardwareSpace("crossbar", cell_bits=(4,), dac_bits=(2,))
    search = analog_search(hardware, 0.1, 0.0)
    variables = init_supernet(jax.random.key(0), space)
    images = jax.random.normal(jax.random.key(1), (args.batch, space.image_size,
                                                   space.image_size, space.in_channels))
    labels = jnp.arange(args.batch) % space.num_classes
    ops = jax.nn.one_hot(jnp.zeros(space.num_layers, jnp.int32), space.num_ops)  # first op
    choice = SlotChoice(jax.nn.one_hot(search.crossbar_sizes.index(args.size),
                                       len(search.crossbar_sizes)),
                        jax.nn.one_hot(search.adc_choices.index(adc), len(search.adc_choices)))
    models = {"digital": (Supernet(space), None),
              "search model": (Supernet(space, analog=search), dict.fromkeys(slots, choice)),
              "full pipeline": (Supernet(space, analog=search),
                                dict.fromkeys(slots, search.config(args.size, adc)))}
    times = {}
    for name, (model, choices) in models.items():
        extra = {} if choices is None else {"hardware": choices}

        def loss(params, model=model, extra=extra):
            logits, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]},
                                    images, ops, train=True, hard=True, mutable=["batch_stats"],
                                    rngs={RNG_COLLECTION: jax.random.key(2)}, **extra)
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(args.batch), labels])

        compile_s, step_s = _timed(jax.jit(jax.grad(loss)), variables["params"],
                                   repeats=args.repeats)
        times[name] = step_s
        print(f"{name:14s} compile {compile_s:6.1f} s   {step_s * 1e3:9.1f} ms/step", flush=True)
    print(f"full pipeline / search model: {times['full pipeline'] / times['search model']:.1f}x; "
          f"search model / digital: {times['search model'] / times['digital']:.1f}x")
    return times


if __name__ == "__main__":
    main()
