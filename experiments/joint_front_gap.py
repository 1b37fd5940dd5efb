"""How far each joint search lands from the benchmark's true front, and what its sweeps cover.

Command:  python experiments/joint_front_gap.py --joint-runs runs/bench_joint2
              [--table quickstart_digits] [--metric edp_pj_s] [--out experiments/results]
Writes:   joint_front_gap_<space>.csv (per run), joint_one_shot_fronts_<space>.csv (per run with a
          one-shot front)
Needs:    finished joint searches (``compare_strategies.py --joint-runs DIR``, or
          :func:`dianjax.bench.strategies.joint.run_searches`); nothing is run here.

Per run (:func:`dianjax.bench.quality.front_gap`, issue 13's measure): the val accuracy (table
mean) and exact cost of its derived pair; the accuracy gained by the most accurate pair of the
space at no more cost (points) and the cost ratio of the cheapest pair at no less accuracy; within
epsilon when the gain is < 0.5 points and the ratio > 0.9. Per setting (a lam or a cost target)
the count within epsilon and the medians; per seed, the hypervolume ratio of the lam sweep and of
the target sweep (the pairs of that seed's runs, scored like every strategy of the comparison).
Per run with a one-shot front (:mod:`dianjax.search.front`): the hypervolume ratio of its front's
pairs at the run's wall time, how many of them are within epsilon, and Kendall's tau of its
supernet's accuracy against the table's over every network it scored. The ceiling beside them
(:func:`one_seed_fronts`): the front of one full-recipe training seed of every network (the
table's seed s), judged against the mean of the other seeds, as the joint fronts are against the
mean of all: how many of its pairs a perfect single training would place within epsilon; and
(:func:`one_seed_picks`) how often one training's most accurate network at no more cost than a
run's pair is within epsilon, the ceiling of a single search's single answer.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import scipy.stats

from dianjax.analysis.front import front_indices
from dianjax.bench import load
from dianjax.bench.fronts import problem, table_prices
from dianjax.bench.networks import layer_options
from dianjax.bench.quality import front_gap, hypervolume, one_seed_ceiling, true_front
from dianjax.bench.strategies.joint import front_pairs, load_runs, pair_of, setting
from dianjax.cost.objectives import OBJECTIVE_METRICS
from dianjax.nas.search_space import get_space

COLUMNS = ("setting", "seed", "ops", "accelerator", "val_accuracy", "cost", "accuracy_gain_points",
           "cost_ratio", "within", "target_gap_points", "wall_s")
FRONT_COLUMNS = ("setting", "seed", "pairs", "within", "hv_ratio", "wall_s", "train_s",
                 "kendall_tau")


def gap_rows(runs, task, space, hardware, front) -> list[dict]:
    """One row per run (module docstring)."""
    layer_ops = [[space.op_names[k] for k in options] for options in layer_options(space)]
    cheapest = task.cost.min(axis=1)
    rows = []
    for run in runs:
        network, accelerator = pair_of(run, task, layer_ops, hardware)
        accuracy, cost = task.accuracy[network], task.cost[network, accelerator]
        gap = front_gap(front, accuracy, cost)
        acc = run.accelerator
        rows.append({"setting": setting(run), "seed": run.seed, "ops": " ".join(run.ops),
                     "accelerator": f"{acc['rows']}x{acc['cols']} {acc['dataflow']}",
                     "val_accuracy": float(accuracy), "cost": float(cost),
                     "accuracy_gain_points": 100 * gap.accuracy_gain,
                     "cost_ratio": gap.cost_ratio, "within": gap.within(),
                     "wall_s": run.wall_s, "network": network,
                     # a target run: how far below the best pair within its target it lands
                     "target_gap_points": 100 * (task.accuracy[cheapest <= run.target].max()
                                                 - accuracy)
                     if run.target > 0 else None})
    return rows


def sweep_hypervolumes(rows, task, front) -> dict[str, list[tuple[int, float, float]]]:
    """Per sweep kind (lam, target): (seed, hypervolume ratio, wall time) of each seed's runs."""
    out = {}
    for kind in ("lam", "target"):
        by_seed = {}
        for row in rows:
            if row["setting"].startswith(kind):
                by_seed.setdefault(row["seed"], []).append(row)
        for seed, seed_rows in sorted(by_seed.items()):
            networks = np.array([r["network"] for r in seed_rows])
            costs = [r["cost"] for r in seed_rows]
            found = hypervolume(task.accuracy[networks], costs, front.normalizer)
            ratio = found / front.hypervolume
            out.setdefault(kind, []).append((seed, ratio, sum(r["wall_s"] for r in seed_rows)))
    return out


def front_rows(runs, task, space, hardware, front, runs_dir=None) -> list[dict]:
    """Per run with a one-shot front: its hypervolume ratio, pairs, pairs within epsilon, wall;
    with ``runs_dir`` (:func:`run_searches`' layout) also ``kendall_tau``, how well the run's
    supernet ranked every network it scored against the table's accuracy."""
    options = layer_options(space)
    layer_ops = [[space.op_names[k] for k in choices] for choices in options]
    rows = []
    for run in runs:
        if not run.front:
            continue
        tau = None
        if runs_dir is not None:
            result = Path(runs_dir, run.objective, setting(run), f"seed{run.seed}", "result.json")
            scored = json.loads(result.read_text())["front"]["networks"]
            networks = [task.network_index([list(choices).index(k) for choices, k in
                                            zip(options, ops)]) for ops in scored["op_indices"]]
            tau = float(scipy.stats.kendalltau(scored["supernet_val"],
                                               task.accuracy[networks]).statistic)
        pairs = front_pairs(run, task, layer_ops, hardware)
        accuracy = np.array([task.accuracy[n] for n, _ in pairs])
        cost = np.array([task.cost[n, a] for n, a in pairs])
        rows.append({"setting": setting(run), "seed": run.seed, "pairs": len(pairs),
                     "within": sum(front_gap(front, a, c).within()
                                   for a, c in zip(accuracy, cost)),
                     "hv_ratio": hypervolume(accuracy, cost, front.normalizer) / front.hypervolume,
                     "wall_s": run.wall_s, "kendall_tau": tau,
                     # one training (recorded, one seed) of each distinct network of the front:
                     # what checking the front's accuracies would add to the run
                     "train_s": float(task.train_s[sorted({n for n, _ in pairs})].sum())})
    return rows


def _by_setting(rows: list[dict]) -> dict[str, list[dict]]:
    """``rows`` grouped by their ``setting``, in order of first appearance."""
    groups = {}
    for row in rows:
        groups.setdefault(row["setting"], []).append(row)
    return groups


def _leave_one_seed_out(val_accuracy: np.ndarray, task):
    """Per seed s of ``val_accuracy`` [N, S]: ``(s, seed s's accuracy, the other seeds' mean,
    the true front of that mean)``, the ceiling's judge."""
    for seed in range(val_accuracy.shape[1]):
        truth = np.delete(val_accuracy, seed, axis=1).mean(axis=1)
        yield seed, val_accuracy[:, seed], truth, true_front(dataclasses.replace(task,
                                                                                 accuracy=truth))


def one_seed_fronts(val_accuracy: np.ndarray, task) -> list[dict]:
    """Per seed s of ``val_accuracy`` [N, S]: the front of (seed s's accuracy, ``task``'s cheapest
    cost per network), cheapest first, and how many of its pairs are within epsilon of the true
    front of the other seeds' mean accuracy (module docstring)."""
    cheapest = task.cost.min(axis=1)
    rows = []
    for seed, accuracy, truth, front in _leave_one_seed_out(val_accuracy, task):
        on_front = front_indices(accuracy, cheapest)
        rows.append({"seed": seed, "pairs": len(on_front),
                     "within": sum(front_gap(front, truth[n], cheapest[n]).within()
                                   for n in on_front)})
    return rows


def one_seed_picks(val_accuracy: np.ndarray, task, budgets) -> tuple[int, int]:
    """The same ceiling for a single pick: per seed s of ``val_accuracy`` [N, S] and per cost in
    ``budgets`` (the runs' derived pairs' costs), the network seed s rates most accurate (the
    cheapest of a tie) among those whose cheapest pair costs no more, judged like a run's pair
    against the true front of the other seeds' mean; ``(within epsilon, picks)``."""
    cheapest = task.cost.min(axis=1)
    within = picks = 0
    for _, accuracy, truth, front in _leave_one_seed_out(val_accuracy, task):
        order = np.lexsort((cheapest, -accuracy))     # most accurate first, then cheapest
        for budget in budgets:
            pick = order[cheapest[order] <= budget][0]
            within += front_gap(front, truth[pick], cheapest[pick]).within()
            picks += 1
    return within, picks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joint-runs", required=True, help="folder of finished joint searches")
    parser.add_argument("--table", default="quickstart_digits")
    parser.add_argument("--metric", default="edp_pj_s")
    parser.add_argument("--prices", default=None,
                        help="prices cache (default bench_builds/<table>/prices.npz)")
    parser.add_argument("--out", default="experiments/results")
    args = parser.parse_args(argv)
    objectives = {field: name for name, field in OBJECTIVE_METRICS.items()}
    if args.metric not in objectives:
        parser.error(f"--metric must be one of {sorted(objectives)}, got {args.metric!r}")
    runs = load_runs(args.joint_runs, objectives[args.metric])
    if not runs:
        parser.error(f"--joint-runs {args.joint_runs!r} holds no finished "
                     f"{objectives[args.metric]} runs")
    table = load(args.table)
    prices = table_prices(table, args.prices or f"bench_builds/{args.table}/prices.npz")
    task = problem(table, prices, args.metric)
    front = true_front(task)
    rows = gap_rows(runs, task, get_space(table.recipe.space), prices.hardware, front)
    exhaustive_s = task.exhaustive_budget_s()

    print(f"{'setting':10s} {'runs':>4s} {'within eps':>10s} {'gain (pts)':>10s} "
          f"{'cost ratio':>10s} {'wall s':>7s}   (medians; eps: < 0.5 pts gain, > 0.9 ratio)")
    for name, group in _by_setting(rows).items():
        print(f"{name:10s} {len(group):4d} {sum(r['within'] for r in group):>6d}/{len(group):<3d} "
              f"{np.median([r['accuracy_gain_points'] for r in group]):10.2f} "
              f"{np.median([r['cost_ratio'] for r in group]):10.2f} "
              f"{np.median([r['wall_s'] for r in group]):7.1f}"
              + (f"   below the best pair within the target: median "
                 f"{np.median([r['target_gap_points'] for r in group]):.2f} points, mean "
                 f"{np.mean([r['target_gap_points'] for r in group]):.2f}"
                 if group[0]["target_gap_points"] is not None else ""))
    for kind, values in sweep_hypervolumes(rows, task, front).items():
        ratios = [v for _, v, _ in values]
        walls = [w for _, _, w in values]
        print(f"{kind} sweep: median hypervolume ratio {np.median(ratios):.3f} over "
              f"{len(values)} seeds (min {min(ratios):.3f}, max {max(ratios):.3f}), median budget "
              f"{np.median(walls):.0f} s = {np.median(walls) / exhaustive_s:.4f} x exhaustive")
    fronts = front_rows(runs, task, get_space(table.recipe.space), prices.hardware, front,
                        args.joint_runs)
    for name, group in _by_setting(fronts).items():
        ratios, walls = [r["hv_ratio"] for r in group], [r["wall_s"] for r in group]
        taus = [r["kendall_tau"] for r in group]
        checked = [(r["wall_s"] + r["train_s"]) / exhaustive_s for r in group]
        print(f"{name} one-shot fronts: median hypervolume ratio {np.median(ratios):.3f} over "
              f"{len(group)} seeds (min {min(ratios):.3f}, max {max(ratios):.3f}), "
              f"{np.median([r['pairs'] for r in group]):.0f} pairs (median), "
              f"{sum(r['within'] for r in group)}/{sum(r['pairs'] for r in group)} within eps, "
              f"median budget {np.median(walls):.0f} s = {np.median(walls) / exhaustive_s:.4f} "
              f"x exhaustive ({np.median(checked):.4f} x with one training of each pair's "
              f"network); supernet ranking Kendall tau {min(taus):.2f}-{max(taus):.2f} "
              "against the table")
    if fronts and table.val_accuracy.shape[1] > 1:
        ceiling = one_seed_fronts(table.val_accuracy, task)
        taus = one_seed_ceiling(table.val_accuracy)
        print(f"ceiling: the front of one full training of every network (one table seed, judged "
              f"against the other seeds' mean): {sum(r['within'] for r in ceiling)}/"
              f"{sum(r['pairs'] for r in ceiling)} pairs within eps over "
              f"{len(ceiling)} seeds; ranking Kendall tau "
              f"{min(taus):.2f}-{max(taus):.2f}; a network's val accuracy varies by a median "
              f"{100 * np.median(table.val_sd):.2f} points (sd) between seeds, its "
              f"{table.val_accuracy.shape[1]}-seed mean by "
              f"{100 * np.median(table.val_sd) / np.sqrt(table.val_accuracy.shape[1]):.2f}")
        for name, group in _by_setting(rows).items():
            budgets = [r["cost"] for r in group]
            within, picks = one_seed_picks(table.val_accuracy, task, budgets)
            print(f"ceiling for {name}'s single pairs: one table seed's most accurate network at no "
                  f"more cost than each run's pair is within eps in {within}/{picks} "
                  f"({len(budgets)} runs x {table.val_accuracy.shape[1]} seeds)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"joint_front_gap_{table.recipe.space}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"-> {path}")
    if fronts:
        path = out / f"joint_one_shot_fronts_{table.recipe.space}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FRONT_COLUMNS)
            writer.writeheader()
            writer.writerows(fronts)
        print(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
