"""Benchmark-table build speed: one network's seeds in turn vs side by side, on this machine.

Trains the same networks with the table's recipe (``--epochs`` shortened) through
:class:`dianjax.bench.trainer.SeedTrainer` in both seed modes and prints the trainer's one-time
compilation (the first network), the wall time per network (training and evaluation of all
seeds), and the ratio of the modes.

    python benchmarks/bench_speed.py                       # quickstart_digits, 3 epochs, 3 networks
    python benchmarks/bench_speed.py --table cifar10_small --data-dir DIR --epochs 1   # on a GPU
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from dianjax.bench.networks import enumerate_networks
from dianjax.bench.recipe import SEED_MODES, TABLES, get_recipe
from dianjax.bench.trainer import SeedTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="quickstart_digits", choices=sorted(TABLES))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--networks", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    recipe = dataclasses.replace(get_recipe(args.table), num_epochs=args.epochs)
    rows = enumerate_networks(SeedTrainer(recipe, args.data_dir).space)
    chosen = rows[np.linspace(0, len(rows) - 1, args.networks + 1).astype(int)]
    walls = {}
    for mode in SEED_MODES:
        trainer = SeedTrainer(recipe, args.data_dir, seed_mode=mode)
        first = trainer.train_network(chosen[0])  # pays the one-time compilation
        print(f"{mode:10s} compile once: {first.compile_s:.1f} s")
        walls[mode] = []
        for ops in chosen[1:]:
            result = trainer.train_network(ops)
            walls[mode].append(result.wall_s)
            print(f"{mode:10s} {' '.join(result.op_names):40s} wall {result.wall_s:5.1f} s  "
                  f"({len(recipe.seeds)} seeds x {args.epochs} epochs)")
    ratio = np.sum(walls["vmap"]) / np.sum(walls["sequential"])
    print(f"vmap / sequential wall time: {ratio:.2f}")


if __name__ == "__main__":
    main()
