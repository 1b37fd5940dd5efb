"""How well does a short training rank networks? Kendall tau against the benchmark table.

Command:  python experiments/short_training_rank.py [--table quickstart_digits] [--networks 60]
              [--epochs 1,2,3,5,8] [--seed 0] [--out experiments/results]
Needs:    the bundled table (``dianjax bench merge``) or ``--table PATH`` to a table file.

``dianjax refine`` scores accuracy with a short training where no table exists (``configs/
refine.py``: ``train.num_epochs``; one seed, the search's search_train / search_val split). This
script measures how that proxy ranks networks: ``--networks`` networks drawn from the table (seeded)
are trained for each ``--epochs`` with the table's recipe shortened to that many epochs and one seed
(``--seed``; the cosine schedule decays over the short run, as in refine), through the table's own
trainer (:class:`dianjax.bench.trainer.SeedTrainer`), and their search_val accuracy is compared with
the table's (the mean over the table's seeds of the full recipe) by Kendall's tau-b. The ceiling of
any one-seed proxy is printed next to it: tau of one fully trained seed of the table against the
mean of its other seeds, on the same networks. Results are cached per (epochs, network) in
``short_training_<table>.jsonl`` (a rerun resumes); the table goes to ``short_training_<table>.csv``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from dianjax.bench.quality import one_seed_ceiling

TAU_TARGET = 0.8  # issue 12: the default short budget should rank at this tau or better


def kendall_tau(a, b) -> float:
    """Kendall's tau-b (scipy's default variant)."""
    import scipy.stats

    return float(scipy.stats.kendalltau(a, b).statistic)


def _cached(path: Path) -> dict[tuple[int, int], dict]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["epochs"], r["network"]): r for r in rows}


def measure(table, networks: np.ndarray, epochs: list[int], seed: int, cache: Path,
            log=print) -> dict[tuple[int, int], dict]:
    """Trains each of ``networks`` (row indices) for each of ``epochs`` (missing from ``cache``)."""
    import tqdm

    from dianjax.bench.trainer import SeedTrainer

    done = _cached(cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    for count in epochs:
        todo = [int(n) for n in networks if (count, int(n)) not in done]
        if not todo:
            continue
        trainer = SeedTrainer(dataclasses.replace(table.recipe, num_epochs=count, seeds=(seed,)))
        with open(cache, "a") as sink:
            for n in tqdm.tqdm(todo, desc=f"{count} epoch(s)", unit="net", file=sys.stderr):
                result = trainer.train_network(table.networks[n])
                row = {"epochs": count, "network": n, "seed": seed,
                       "val_accuracy": result.val_accuracy[0], "wall_s": result.wall_s}
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                done[(count, n)] = row
        log(f"{count} epoch(s): {len(todo)} networks trained")
    return done


def summarize(table, networks: np.ndarray, epochs: list[int], done: dict) -> list[dict]:
    """One row per epoch count: tau against the table, median training seconds per network."""
    reference = table.val_mean[networks]
    rows = []
    for count in epochs:
        short = [done[(count, int(n))] for n in networks]
        rows.append({"epochs": count, "networks": len(networks),
                     "kendall_tau": kendall_tau([r["val_accuracy"] for r in short], reference),
                     "median_train_s": float(np.median([r["wall_s"] for r in short]))})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="quickstart_digits",
                        help="a bundled table's name or a table file")
    parser.add_argument("--networks", type=int, default=60)
    parser.add_argument("--epochs", default="1,2,3,5,8",
                        help="comma-separated epoch counts of the short training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="experiments/results")
    args = parser.parse_args(argv)
    from dianjax.bench import load

    try:
        epochs = sorted({int(e) for e in args.epochs.split(",")})
    except ValueError:
        parser.error(f"--epochs must be comma-separated positive integers, got {args.epochs!r}")
    if not epochs or min(epochs) < 1:
        parser.error(f"--epochs must be comma-separated positive integers, got {args.epochs!r}")
    try:
        table = load(args.table)
    except ValueError as error:
        parser.error(str(error))
    if not 3 <= args.networks <= table.num_networks:
        parser.error(f"--networks must be in [3, {table.num_networks}], got {args.networks}")
    networks = np.sort(np.random.default_rng(args.seed).choice(
        table.num_networks, args.networks, replace=False))
    out = Path(args.out)
    done = measure(table, networks, epochs, args.seed, out / f"short_training_{table.name}.jsonl")
    rows = summarize(table, networks, epochs, done)
    ceiling = one_seed_ceiling(table.val_accuracy[networks])
    with open(out / f"short_training_{table.name}.csv", "w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"Kendall tau-b of a short one-seed training's search_val accuracy against table "
          f"{table.name!r} ({table.recipe.num_epochs} epochs, mean of "
          f"{table.val_accuracy.shape[1]} seeds), {len(networks)} networks:")
    print("| epochs | Kendall tau | median s per network |\n|---|---|---|")
    for row in rows:
        print(f"| {row['epochs']} | {row['kendall_tau']:.3f} | {row['median_train_s']:.1f} |")
    print(f"ceiling of a one-seed proxy (one full-recipe seed vs the mean of the others): median "
          f"tau {np.median(ceiling):.3f} (per seed {', '.join(f'{t:.3f}' for t in ceiling)})")
    reached = [row["epochs"] for row in rows if row["kendall_tau"] >= TAU_TARGET]
    print(f"smallest budget with tau >= {TAU_TARGET}: "
          f"{f'{reached[0]} epochs' if reached else 'none of those measured'}")
    print(f"-> {out / f'short_training_{table.name}.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
