"""Device memory of a compiled joint-search step, per config and per memory lever.

Compiles :func:`dianjax.search.steps.search_step` of the joint phase (the one after the warm-up:
a weight step and a logit step) for each config's state and batch shapes, from abstract shapes
only (``jax.eval_shape`` for the state, ``jax.ShapeDtypeStruct`` batches: no data is read and the
step never runs), and prints XLA's per-device buffer sizes (:mod:`dianjax.step_memory`): the peak
and its scratch (temporaries) part, for

- ``before``: the config with the soft mixture as configured and without remat (cifar10 and
  cifar100: soft, as the configs were before ``search.remat``; imagenet: single path);
- each lever alone: ``remat`` (``search.remat=True``), ``hard`` (``search.hard=True``, single
  path), ``half batch`` (``data.batch_size`` halved);
- ``default``: the config file as it is now.

Figures are for the default backend (CPU here); a GPU or TPU compiles its own program, with other
convolution kernels and fusions, so its figures differ. Compiling the CIFAR step takes minutes on a
2-core CPU, the ImageNet step longer: each row prints when it starts and how long it took.

    python benchmarks/step_memory.py                              # cifar10, cifar100, imagenet
    python benchmarks/step_memory.py --configs cifar10 --levers remat hard
"""

from __future__ import annotations

import argparse
import time

import jax

from dianjax import cost
from dianjax.config import load_config
from dianjax.search.config import make_setup
from dianjax.search.steps import (
    batch_spec,
    compile_step,
    init_state,
    make_optimizers,
    phase_at,
)
from dianjax.step_memory import GIB, StepMemory

LEVERS = ("remat", "hard", "half batch")


def _overrides(config, lever: str) -> list[str]:
    """The config overrides of row ``lever`` (``before``, ``default`` or one of LEVERS)."""
    before = ["search.remat=False"]
    return {"before": before,
            "default": [],
            "remat": ["search.remat=True"],
            "hard": [*before, "search.hard=True"],
            "half batch": [*before, f"data.batch_size={config.data.batch_size // 2}"]}[lever]


def step_memory(config_name: str, overrides: list[str]) -> StepMemory:
    """The compiled joint-phase step of ``config_name`` with ``overrides``, from abstract shapes."""
    setup = make_setup(load_config(config_name, overrides))
    optimizers = make_optimizers(setup)
    state = jax.eval_shape(lambda key: init_state(setup, optimizers, key), jax.random.key(0))
    reference = cost.reference_metrics(setup.table, setup.hardware, setup.energy_table)
    phase = phase_at(setup, setup.config.search.warmup_steps)
    batch = batch_spec(setup, setup.config.data.batch_size)
    return StepMemory.of(compile_step(setup, optimizers, phase, state, batch, jax.random.key(1),
                                      reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cifar10", "cifar100", "imagenet"])
    parser.add_argument("--levers", nargs="*", default=list(LEVERS), choices=LEVERS)
    args = parser.parse_args()
    device = jax.devices()[0]
    print(f"joint-phase search step, compiled for {device.platform} ({device.device_kind})")
    rows = []
    for name in args.configs:
        config = load_config(name)
        compiled = {}
        for lever in ("before", *args.levers, "default"):
            overrides = _overrides(config, lever)
            settings = load_config(name, overrides)
            key = (settings.search.hard, settings.search.remat, settings.data.batch_size)
            if key not in compiled:
                print(f"compiling {name} / {lever} ({' '.join(overrides) or 'as configured'})"
                      " ...", flush=True)
                start = time.perf_counter()
                memory = step_memory(name, overrides)
                compiled[key] = (memory, time.perf_counter() - start)
                print(f"  {memory.summary()}; {compiled[key][1]:.0f} s", flush=True)
            rows.append((name, lever, key, *compiled[key]))
    print(f"\n{'config':9s} {'row':11s} {'mode':5s} {'remat':5s} {'batch':>5s} {'peak GiB':>9s} "
          f"{'temp GiB':>9s} {'/ before':>8s} {'compile s':>9s}")
    before = {name: memory.peak_bytes for name, lever, _, memory, _ in rows if lever == "before"}
    for name, lever, (hard, remat, batch), memory, seconds in rows:
        print(f"{name:9s} {lever:11s} {'hard' if hard else 'soft':5s} {remat!s:5s} {batch:5d} "
              f"{memory.peak_bytes / GIB:9.2f} {memory.temp_bytes / GIB:9.2f} "
              f"{memory.peak_bytes / before[name]:8.2f} {seconds:9.0f}")


if __name__ == "__main__":
    main()
