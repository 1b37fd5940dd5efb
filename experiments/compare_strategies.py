"""Every co-search strategy on the exact benchmark, at equal budget, against the true front.

Command:  python experiments/compare_strategies.py [--table quickstart_digits] [--metric edp_pj_s]
              [--seeds 10] [--methods rl_combined,...] [--out experiments/results]
              [--joint-runs runs/bench_joint --lams 0.1,1,3 --targets 16,4,64]
Needs:    the bundled table (``dianjax bench build`` + ``dianjax bench merge``) and, for the Optuna
          samplers, ``pip install -e '.[baselines]'`` (without it they are skipped, said so).

Each method is a :mod:`dianjax.bench.strategies` function querying one
:class:`~dianjax.bench.oracle.Oracle` (the table's search_val accuracy, mean over seeds, and the
exact cost of the pair), charged on one axis: the network's training time the first time a network
is queried, the cost model's measured time per newly priced pair, and the method's own compute
between queries (measured here with ``time.perf_counter``: a surrogate's fit, a sampler's proposal
count as they would in a real search). Run each process pinned to one core (``taskset -c K``):
the table's training times are one-core times (built with one worker per core). Budget checkpoints
are fractions of what exhaustive enumeration costs (:data:`BUDGET_FRACTIONS`); at each, the found
set (every pair evaluated within it) is scored against the true front
(:mod:`dianjax.bench.quality`: hypervolume ratio in the true front's normalization, cost on a log
axis, one fixed reference point; IGD), and each run's budget to reach 90 / 95 / 99 % of the true
hypervolume is recorded.

``joint`` (with ``--joint-runs DIR``) is the DIAN-style ``dianjax search`` on the quickstart
config: one search per (lam, seed) with the objective of ``--metric`` and one per (cost target,
seed) (``cost.target_<objective>``, lam 0), run here (resumable) or read back from DIR; comparison
seed s replays the searches of seed s, the lams then the targets in the given order, each charged
its measured wall time and scored by the table's accuracy of its derived network
(:mod:`dianjax.bench.strategies.joint`). ``joint_front`` replays the same runs' one-shot fronts
(:mod:`dianjax.search.front`): every pair of a run's front, the whole front charged the run's wall
time once (which includes scoring the networks and pricing them).

Each finished (method, seed) run is kept under ``--parts`` and read back instead of rerun, so the
comparison resumes, and methods can be split across processes (``--methods``) before one last
call with every method writes the outputs.

Writes ``compare_<space>.csv`` (method, seed, budget_s, budget_fraction, hv_ratio, igd, pairs,
networks), ``compare_<space>_reach.csv`` (method, seed, budget to 90/95/99 %, own compute s),
``compare_<space>_hv.png`` (median hv ratio vs budget with quartile bands, per method) and
``compare_<space>_front.png`` (the true front and each method's found front, seed 0, at the middle
budget), and prints the tables of median hv ratios and budgets to reach.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from dianjax.bench.oracle import Query

BUDGET_FRACTIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)  # of exhaustive enumeration
REACH = (0.90, 0.95, 0.99)
REPLAYED = ("joint", "joint_front")  # methods replaying finished search runs (never kept as parts)
FRONT_PLOT_FRACTION = 0.05  # the budget of the found-fronts plot (a joint lam sweep fits in it)


def run_method(problem, front, method: str, seed: int, budgets_s, strategies, clock=None
               ) -> dict:
    """One run of ``method`` (a name of ``strategies``, a dict name -> ``run(oracle, rng, seed)``)
    as a record: ``rows`` (its scores at every budget), ``reach`` (its budget to reach each of
    REACH and its own compute) and, for seed 0, ``history`` (its queries, for the front plot).
    ``clock`` charges the method's own compute time (:class:`~dianjax.bench.oracle.Oracle`)."""
    from dianjax.bench.oracle import Oracle
    from dianjax.bench.quality import budget_to_reach, score_history

    oracle = Oracle(problem, max(budgets_s), clock=clock)
    strategies[method](oracle, np.random.default_rng([seed, 0xBE4C]), seed)
    scores = score_history(oracle.history, front, budgets_s)
    reach = {f"budget_to_{round(100 * fraction)}pct_s": budget_to_reach(oracle.history, front,
                                                                        fraction)
             for fraction in REACH}
    return {"rows": [{"method": method, "seed": seed, "budget_s": s.budget_s,
                      "budget_fraction": fraction, "hv_ratio": s.hv_ratio, "igd": s.igd,
                      "pairs": s.num_pairs, "networks": s.num_networks}
                     for s, fraction in zip(scores, BUDGET_FRACTIONS)],
            "reach": {"method": method, "seed": seed, **reach, "strategy_s": oracle.strategy_s},
            "history": [list(q) for q in oracle.history] if seed == 0 else None}


def oracle_strategies() -> dict:
    """The oracle-querying strategies as ``run(oracle, rng, seed)``."""
    from dianjax.bench.strategies import STRATEGIES

    return {name: (lambda oracle, rng, seed, run=run: run(oracle, rng))
            for name, run in STRATEGIES.items()}


def joint_strategy(runs, problem, space, hardware, front: bool = False):
    """``run(oracle, rng, seed)`` replaying the joint searches of that seed, in the order of
    ``runs`` (run_searches: the lams, then the targets): each run's derived pair charged its wall
    time, or with ``front`` each run's one-shot front, charged its wall time once."""
    from dianjax.bench.networks import layer_options
    from dianjax.bench.strategies.joint import front_pairs, joint, pair_of

    layer_ops = [[space.op_names[k] for k in options] for options in layer_options(space)]
    by_seed = {}
    for run in sorted(runs, key=lambda r: r.seed):   # stable: each seed's sweep in order
        if front and not run.front:
            raise ValueError(f"joint run (seed {run.seed}, lam {run.lam:g}, target "
                             f"{run.target:g}) has no one-shot front: its search made "
                             "none (search.front_networks=0, a mode other than joint, or a front "
                             "skipped: see its result.json)")
        pairs = front_pairs(run, problem, layer_ops, hardware) if front else \
            [pair_of(run, problem, layer_ops, hardware)]
        by_seed.setdefault(run.seed, []).extend(
            (network, accelerator, run.wall_s if i == 0 else 0.0)
            for i, (network, accelerator) in enumerate(pairs))

    def run(oracle, rng, seed):
        if seed not in by_seed:
            raise ValueError(f"no joint search runs of seed {seed}; have {sorted(by_seed)}")
        joint(oracle, rng, pairs=by_seed[seed])
    return run


def compare(problem, methods, seeds, out: Path, name: str, log=print,
            strategies: dict | None = None, clock=None, parts: Path | None = None
            ) -> list[dict]:
    """Runs every method and seed on ``problem``; writes the CSVs and plots; returns the rows.

    With ``parts`` (a folder), each finished (method, seed) run is saved there as JSON and read
    back instead of rerun: an interrupted comparison resumes, and several processes (each given
    some of the methods) can fill one folder before a last call with every method writes the
    outputs. The replayed joint methods (:data:`REPLAYED`) are not kept there: their search runs
    are their record, and a part would outlive a change of ``--joint-runs``. ``seeds`` is a count (seeds ``0..seeds-1``) or the seeds themselves.
    """
    from dianjax.bench.quality import true_front

    strategies = oracle_strategies() if strategies is None else strategies
    front = true_front(problem)
    exhaustive_s = problem.exhaustive_budget_s()
    budgets = [fraction * exhaustive_s for fraction in BUDGET_FRACTIONS]
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(seed) for seed in seeds]
    rows, reach_rows, found = [], [], {}
    for method in methods:
        start, ran = time.perf_counter(), 0
        for seed in seeds:
            part = None if parts is None or method in REPLAYED else \
                Path(parts) / f"{method}.seed{seed}.json"
            if part is not None and part.exists():
                record = json.loads(part.read_text())
            else:
                record = run_method(problem, front, method, seed, budgets, strategies, clock)
                ran += 1
                if part is not None:  # written whole, then renamed: a crash leaves no half file
                    part.parent.mkdir(parents=True, exist_ok=True)
                    partial = part.with_suffix(".partial")
                    partial.write_text(json.dumps(record))
                    partial.replace(part)
            rows += record["rows"]
            reach_rows.append(record["reach"])
            if record["history"] is not None:
                found[method] = [Query(*q) for q in record["history"]]
        log(f"{method}: {len(seeds)} seeds ({ran} run now) in {time.perf_counter() - start:.1f} s")
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / f"compare_{name}.csv", rows)
    _write_csv(out / f"compare_{name}_reach.csv", reach_rows)
    _plot_hv(rows, methods, out / f"compare_{name}_hv.png", problem.metric)
    _plot_fronts(front, found, FRONT_PLOT_FRACTION * exhaustive_s, FRONT_PLOT_FRACTION,
                 out / f"compare_{name}_front.png", problem.metric, methods)
    log(format_table(rows, methods))
    log(format_reach(reach_rows, methods, exhaustive_s))
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def format_table(rows: list[dict], methods, fractions=(0.005, 0.02, 0.05, 0.1)) -> str:
    """Median [quartiles] hv ratio per method at some budget fractions (a Markdown table)."""
    lines = ["| method | " + " | ".join(f"hv ratio at {f:g} x exhaustive" for f in fractions)
             + " |", "|---" * (len(fractions) + 1) + "|"]
    for method in methods:
        cells = []
        for fraction in fractions:
            values = [r["hv_ratio"] for r in rows
                      if r["method"] == method and np.isclose(r["budget_fraction"], fraction)]
            q25, q50, q75 = np.percentile(values, [25, 50, 75])
            cells.append(f"{q50:.3f} [{q25:.3f}, {q75:.3f}]")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_reach(reach_rows: list[dict], methods, exhaustive_s: float) -> str:
    """Median budget (as a fraction of exhaustive enumeration's) to reach each of REACH of the true
    hypervolume per method, with how many seeds reached it within the largest budget."""
    lines = ["| method | " + " | ".join(f"budget to {round(100 * f)} %" for f in REACH)
             + " | own compute (median s) |", "|---" * (len(REACH) + 2) + "|"]
    for method in methods:
        rows = [r for r in reach_rows if r["method"] == method]
        cells = []
        for fraction in REACH:
            values = np.array([r[f"budget_to_{round(100 * fraction)}pct_s"] for r in rows])
            reached = int(np.isfinite(values).sum())
            median = np.median(values) / exhaustive_s
            cells.append(("not reached" if not np.isfinite(median) else f"{median:.4f}")
                         + f" ({reached}/{len(rows)})")
        own = np.median([r["strategy_s"] for r in rows])
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {own:.1f} |")
    return "\n".join(lines)


def _colour(methods, method: str) -> str:
    """The matplotlib colour of ``method``: its place in ``methods``, the same in both plots."""
    palette = [f"C{i}" for i in range(10)] + ["black", "goldenrod", "navy", "lime"]
    return palette[list(methods).index(method) % len(palette)]


def _plot_hv(rows, methods, path: Path, metric: str) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.subplots()
    for method in methods:
        fractions = sorted({r["budget_fraction"] for r in rows if r["method"] == method})
        stats = np.array([np.percentile([r["hv_ratio"] for r in rows if r["method"] == method
                                         and r["budget_fraction"] == f], [25, 50, 75])
                          for f in fractions])
        color = _colour(methods, method)
        ax.plot(fractions, stats[:, 1], marker="o", label=method, color=color)
        ax.fill_between(fractions, stats[:, 0], stats[:, 2], alpha=0.15, color=color)
    ax.set_xscale("log")
    ax.set_xlabel("budget (fraction of exhaustive enumeration's)")
    ax.set_ylabel(f"hypervolume ratio (val accuracy vs log {metric})")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    figure.savefig(path)


def _plot_fronts(front, found: dict, budget_s: float, fraction: float, path: Path,
                 metric: str, methods) -> None:
    from matplotlib.figure import Figure

    from dianjax.analysis.front import front_indices

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.subplots()
    order = np.argsort(front.cost)
    ax.step(front.cost[order], front.accuracy[order], where="post", color="k", linewidth=2,
            label="true front")
    for method, history in found.items():
        queries = [q for q in history if q.spent_s <= budget_s]
        if not queries:
            continue
        accuracy = np.array([q.accuracy for q in queries])
        cost = np.array([q.cost for q in queries])
        keep = front_indices(accuracy, cost)
        ax.scatter(cost[keep], accuracy[keep], s=14, label=method, color=_colour(methods, method))
    ax.set_xscale("log")
    ax.set_xlabel(metric)
    ax.set_ylabel("search_val accuracy (table mean over seeds)")
    ax.set_title(f"found fronts, seed 0, budget {fraction:g} x exhaustive")
    ax.legend(fontsize=7)
    figure.savefig(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="quickstart_digits")
    parser.add_argument("--metric", default="edp_pj_s")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only-seeds", default=None,
                        help="comma-separated seeds to run (default 0..seeds-1): a second process "
                             "filling --parts")
    parser.add_argument("--methods", default=None, help="comma-separated (default: all)")
    parser.add_argument("--prices", default=None,
                        help="prices cache (default bench_builds/<table>/prices.npz)")
    parser.add_argument("--out", default="experiments/results")
    parser.add_argument("--joint-runs", default=None,
                        help="folder of the joint searches (run here if missing); adds 'joint' "
                             "(each run's derived pair) and 'joint_front' (each run's one-shot "
                             "front)")
    parser.add_argument("--lams", default="0.1,1,3", help="lams of the joint searches ('' none)")
    parser.add_argument("--joint-override", action="append", default=[], metavar="KEY=VALUE",
                        help="config override of every joint search (repeatable), e.g. "
                             "search.steps=150")
    parser.add_argument("--targets", default="",
                        help="cost targets of the joint searches (metric units; run after the "
                             "lams, in this order), e.g. 16,4,64,8,32")
    parser.add_argument("--parts", default=None,
                        help="folder of finished (method, seed) runs, read back instead of rerun "
                             "(default runs/compare/<table>)")
    args = parser.parse_args(argv)
    from dianjax.bench import load
    from dianjax.bench.fronts import problem, table_prices
    from dianjax.cli import report_error
    from dianjax.cost.objectives import OBJECTIVE_METRICS
    from dianjax.nas.search_space import get_space
    from sim import checks

    strategies = oracle_strategies()
    names = (["joint", "joint_front"] if args.joint_runs else []) + list(strategies)
    try:
        methods = names if args.methods is None else args.methods.split(",")
        for method in methods:
            checks.one_of("--methods", "method", method, names)
        checks.positive_int("--seeds", "seeds", args.seeds)
        seeds = range(args.seeds)
        if args.only_seeds is not None:
            seeds = args.only_seeds.split(",")
            for seed in seeds:
                if not seed.isdigit():
                    raise ValueError(f"--only-seeds must be comma-separated seeds >= 0, got "
                                     f"{args.only_seeds!r}")
        table = load(args.table)
        prices = table_prices(table, args.prices or f"bench_builds/{args.table}/prices.npz")
        task = problem(table, prices, args.metric)
        if {"joint", "joint_front"} & set(methods):
            from dianjax.bench.strategies.joint import run_searches

            objective = {m: o for o, m in OBJECTIVE_METRICS.items()}[args.metric]
            lams = [float(lam) for lam in args.lams.split(",") if lam]
            targets = [float(target) for target in args.targets.split(",") if target]
            runs = run_searches(args.joint_runs, [objective], lams, range(args.seeds),
                                targets=targets, overrides=args.joint_override)
            for name, front in (("joint", False), ("joint_front", True)):
                strategies[name] = joint_strategy(runs, task, get_space(table.recipe.space),
                                                  prices.hardware, front=front)
    except ValueError as error:
        return report_error(error)
    try:
        import optuna  # noqa: F401
    except ImportError:
        skipped = [m for m in methods if m.startswith("optuna")]
        methods = [m for m in methods if not m.startswith("optuna")]
        if skipped:
            print(f"skipping {skipped}: optuna is not installed (pip install -e '.[baselines]')")
    compare(task, methods, seeds, Path(args.out), table.recipe.space, strategies=strategies,
            clock=time.perf_counter, parts=Path(args.parts or f"runs/compare/{args.table}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
