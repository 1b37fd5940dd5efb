"""``dianjax bench``: build, merge and inspect benchmark tables.

  dianjax bench build --table quickstart_digits [--jobs 2] [--shard K/N] [--out bench_builds]
  dianjax bench merge --table quickstart_digits [--out bench_builds] [--to FILE]
  dianjax bench status --table quickstart_digits [--out bench_builds]
  dianjax bench price --table quickstart_digits [--prices bench_builds/<table>/prices.npz]
  dianjax bench rank --table quickstart_digits [--plot FILE] [--seed 0] [--pairs P]

``build`` trains the networks of the table not yet in its shard files (resumable: rerun the same
command after a crash). ``--shard K/N`` builds one of N shards (one task of a SLURM array:
``--shard $((SLURM_ARRAY_TASK_ID + 1))/$SLURM_ARRAY_TASK_COUNT``); ``--jobs J`` starts J local
single-threaded workers, one shard each. ``merge`` writes the finished table (by default into the
package, ``dianjax/bench/data/<table>.json``, where :func:`dianjax.bench.load` finds it).
``status`` prints how far a build is and how well the finished rows separate networks. ``price``
prices every (network, accelerator) pair of the merged table exactly (:mod:`dianjax.bench.prices`,
cached in ``--prices``) and stores the true Pareto fronts in the table
(:mod:`dianjax.bench.fronts`). ``rank`` runs the rank-similarity study on the priced table
(:mod:`dianjax.bench.rank_similarity`: Spearman on every pair of accelerators, Kendall on sampled
pairs, latency and energy), prints it, stores its summaries in the table and draws the histograms
(default ``<out>/<table>/rank_similarity.png``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_OUT = "bench_builds"
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _parser(prog: str | None) -> argparse.ArgumentParser:
    from dianjax.bench.recipe import TABLES

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("build", "train the table's networks (resumable)"),
                        ("merge", "write the finished table from its shard files"),
                        ("status", "progress and separability of a build"),
                        ("price", "price every pair exactly; store the true fronts in the table"),
                        ("rank", "rank similarity of networks across accelerators (priced "
                                 "table)")):
        sub = commands.add_parser(name, help=help_)
        sub.add_argument("--table", default="quickstart_digits", choices=sorted(TABLES),
                         help="which table (default quickstart_digits)")
        sub.add_argument("--out", default=DEFAULT_OUT,
                         help=f"folder of the shard files (default {DEFAULT_OUT})")
        if name == "build":
            sub.add_argument("--shard", default="1/1", help="K/N: build shard K of N (default 1/1)")
            sub.add_argument("--jobs", type=int, default=1,
                             help="local single-threaded workers, one shard each (default 1)")
            sub.add_argument("--data-dir", default=None, help="tfds data dir (CIFAR-10)")
            sub.add_argument("--seed-mode", default=None, choices=("sequential", "vmap"),
                             help="seeds in turn or side by side (default: by backend)")
            sub.add_argument("--limit", type=int, default=None,
                             help="stop after this many networks (per worker)")
        if name in ("merge", "price", "rank"):
            sub.add_argument("--to", default=None,
                             help="table file (default: the package's bundled table)")
        if name in ("price", "rank"):
            sub.add_argument("--prices", default=None,
                             help="prices cache (default <out>/<table>/prices.npz)")
        if name == "rank":
            sub.add_argument("--plot", default=None,
                             help="histogram file (default <out>/<table>/rank_similarity.png)")
            sub.add_argument("--seed", type=int, default=0,
                             help="draws the sampled pairs (default 0)")
            sub.add_argument("--pairs", type=int, default=None,
                             help="Spearman on this many sampled pairs of accelerators (default: "
                                  "every pair)")
    return parser


def _build(args) -> int:
    from dianjax.bench.build import build_shard
    from dianjax.bench.networks import parse_shard

    index, count = parse_shard(args.shard)
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    if args.jobs == 1:
        paths = build_shard(args.table, args.out, (index, count), data_dir=args.data_dir,
                            seed_mode=args.seed_mode, limit=args.limit)
        print(f"shard {index}/{count} of {args.table}: {', '.join(str(p) for p in paths)}")
        return _status(args)
    if (index, count) != (1, 1):
        raise ValueError("--jobs > 1 splits the whole table into --jobs shards; give either "
                         "--jobs or --shard, not both")
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA}"}
    workers = []
    for job in range(1, args.jobs + 1):
        command = [sys.executable, "-m", "dianjax.cli", "bench", "build", "--table", args.table,
                   "--out", args.out, "--shard", f"{job}/{args.jobs}"]
        for flag, value in (("--data-dir", args.data_dir), ("--seed-mode", args.seed_mode),
                            ("--limit", args.limit)):
            if value is not None:
                command += [flag, str(value)]
        workers.append(subprocess.Popen(command, env=env))
    codes = [worker.wait() for worker in workers]
    if any(codes):
        print(f"error: workers exited with {codes}; rerun the same command to resume",
              file=sys.stderr)
        return 1
    return _status(args)


def _merge(args) -> int:
    from dianjax.bench.build import merge

    table = merge(args.out, args.table)
    target = _table_file(args)
    table.save(target)
    print(f"{args.table}: {table.num_networks} networks x {table.val_accuracy.shape[1]} seeds "
          f"-> {target}")
    return 0


def _table_file(args) -> Path:
    import importlib.resources

    from dianjax.bench.table import DATA_PACKAGE

    return (Path(args.to) if args.to else
            Path(str(importlib.resources.files(DATA_PACKAGE))) / f"{args.table}.json")


def _table_and_prices(args):
    from dianjax.bench.fronts import table_prices
    from dianjax.bench.table import load

    path = _table_file(args)
    if not path.is_file():
        raise ValueError(f"no table file {path}: merge the build first (dianjax bench merge "
                         f"--table {args.table})")
    table = load(path)
    return path, table, table_prices(table, args.prices or Path(args.out) / args.table /
                                     "prices.npz")


def _price(args) -> int:
    from dianjax.bench.fronts import hardware_section

    path, table, prices = _table_and_prices(args)
    section = hardware_section(table, prices)
    table.with_hardware(section).save(path)
    for metric, points in section["fronts"].items():
        print(f"true front (val accuracy, {metric}): {len(points)} pairs")
    print(f"price_s {section['price_s'] * 1e3:.2f} ms per priced pair -> {path}")
    return 0


RANK_METRICS = ("latency_s", "energy_pj")  # area does not depend on the network


def _rank(args) -> int:
    import numpy as np

    from dianjax.bench.rank_similarity import plot_rank_study, rank_correlations

    path, table, prices = _table_and_prices(args)
    if table.hardware is None:
        raise ValueError(f"table {path} has no hardware section: run dianjax bench price --table "
                         f"{args.table} first")
    rng = np.random.default_rng(args.seed)
    studies = {metric: rank_correlations(prices.metric(metric), args.pairs, rng)
               for metric in RANK_METRICS}
    plot = Path(args.plot) if args.plot else Path(args.out) / args.table / "rank_similarity.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot_rank_study(studies, plot)
    summaries = {}
    for metric, study in studies.items():
        summaries[metric] = {"spearman": study.spearman_summary._asdict(),
                             "kendall_tau_b": study.kendall_summary._asdict()}
        for name, summary in (("Spearman rho", study.spearman_summary),
                              ("Kendall tau-b", study.kendall_summary)):
            print(f"{metric:10s} {name:13s} median {summary.median:.4f} (quartiles "
                  f"{summary.q25:.4f}-{summary.q75:.4f}, 5th percentile {summary.p05:.4f}, "
                  f"{summary.share_above_0_9:.1%} above 0.9; {summary.pairs:,} pairs)")
    table.with_hardware({**table.hardware, "rank_similarity": {
        "seed": args.seed, "sampled_pairs": args.pairs, **summaries}}).save(path)
    print(f"-> {plot}, summaries in {path}")
    return 0


def _status(args) -> int:
    import numpy as np

    from dianjax.bench.build import collect, num_networks
    from dianjax.bench.table import separability

    meta, rows = collect(args.out, args.table)
    done, total = len(rows), num_networks(args.table)
    print(f"{args.table}: {done}/{total} networks built ({meta['machine']})")
    if len(rows) >= 2:
        ordered = [rows[n] for n in sorted(rows)]
        wall = np.array([r["wall_s"] for r in ordered])
        print(f"  wall per network: median {np.median(wall):.1f} s, total {wall.sum() / 3600:.2f} "
              f"h of worker time; remaining at that rate ~"
              f"{np.median(wall) * (total - done) / 3600:.2f} worker-h")
        for split in ("val", "test"):
            s = separability([r[f"{split}_accuracy"] for r in ordered])
            print(f"  {split}: means {s['range']:.4f} range, between-network sd "
                  f"{s['between_network_sd']:.4f}; seed sd {s['median_seed_sd']:.4f} -> sd of a "
                  f"{s['seeds']}-seed mean {s['seed_sd_of_mean']:.4f}; ratio {s['ratio']:.1f} "
                  f"({'separable' if s['ratio'] >= 3 else 'NOT separable'}: bar 3)")
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from dianjax.cli import report_error

    args = _parser(prog).parse_args(argv)
    try:
        return {"build": _build, "merge": _merge, "status": _status, "price": _price,
                "rank": _rank}[args.command](args)
    except ValueError as error:
        return report_error(error)
