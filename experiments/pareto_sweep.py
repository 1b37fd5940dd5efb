"""Accuracy-vs-EDP Pareto sweep of the joint co-search and its baselines, compared by hypervolume.

Command:  python experiments/pareto_sweep.py [--config quickstart] [--config.key=value ...]
              [--out runs/pareto_sweep] [--methods joint,fixed_hw,decoupled,no_hw_loss,random]
              [--lams 0,0.1,0.3,1,3,10] [--objectives edp,latency,energy] [--seeds 0]
              [--random-pairs 16] [--accuracy table_val|supernet_val|supernet_test|derived_test]
          With ``--config cifar10`` it is the paper-style sweep for one GPU (each run is a full
          CIFAR-10 search and, since that config enables it, a from-scratch training).
Measured: the default grid on quickstart (42 searches of 51-72 s, median 54 s, and 16 random
pairs) took about 45 minutes on a shared 2-core CPU; hypervolume (supernet_val vs EDP) joint 0.891,
fixed_hw 0.874, random 0.766, no_hw_loss 0.606, decoupled 0.601 (the last two have one run per
objective, so three points each).

Every method searches the config's network space and hardware space and every pair is measured by
the same exact simulator (``sim.simulate_network``), so the fronts are comparable:

- ``joint``: the differentiable co-search of DIAN (op and hardware logits on one loss,
  task loss + lam * normalized hardware cost), one run per (lam, objective, seed).
- ``fixed_hw``: hardware-aware NAS on one fixed accelerator (``config.search.fixed_hardware``), as
  FBNet (Wu et al., CVPR 2019) and ProxylessNAS (Cai et al., ICLR 2019) search for a given target
  device; one run per (lam, objective, seed).
- ``decoupled``: NAS for accuracy first, then hardware search for the derived network: the
  two-stage approach that Codesign-NAS (Abdelfattah et al., DAC 2020) and semi-decoupled co-design
  (Lu et al., 2021) compare against; one run per (objective, seed): lam never enters.
- ``no_hw_loss``: accuracy-only NAS while the hardware logits follow the cost of the network being
  found (the "without hardware loss" ablation of DIAN); one run per (objective, seed).
- ``random``: random search, the baseline NAS methods must beat (Li & Talwalkar, UAI 2019):
  ``--random-pairs`` pairs per seed, drawn uniformly from the same spaces (an available op per
  layer, a choice per accelerator knob, a fold order per mapping slot). Accuracy is measured by
  weight sharing, exactly as for the searched pairs' ``supernet_val`` / ``supernet_test``: the
  supernet of that seed's ``no_hw_loss`` run (first objective; its op logits saw no hardware cost,
  so its weights are not tuned to cheap ops) with the pair's ops one-hot and its batch-norm
  statistics re-estimated on the train part (``dianjax.search.paths.PathEvaluator``), the
  procedure of the searched pairs. Random pairs are not trained from scratch, so they have no
  ``derived_test``.

The front is drawn and the hypervolume computed for ``--accuracy`` against the simulated EDP
(pJ s). Default: ``table_val`` where a benchmark table covers the config (``dianjax.bench``: same
dataset, space and hardware space, batch 1; the quickstart on digits once its table is bundled),
else ``derived_test`` if ``config.final_train.enabled``, else ``supernet_val``. ``table_val`` is
each pair's network's retrained accuracy (the table's search_val accuracy, full recipe, mean over
seeds), so every method is judged by the same accuracy and not by a supernet of its own; with it
the sweep also prints ``hv_ratio``: the hypervolume of each method's points as a ratio to the true
front's, in the true front's fixed normalization (accuracy and log EDP scaled by the true front's
ideal and nadir, reference (1.1, 1.1); :func:`dianjax.analysis.pareto.fixed_hypervolume_table`),
which adding a method never moves. The older figures stay as a second table: one reference point
for the methods shown (accuracy 0 and the worst EDP of all points x 1.1,
:func:`dianjax.analysis.pareto.common_reference`), ``hypervolume`` the dominated area as a fraction
of the box between that reference and the ideal point (accuracy 1, EDP 0), ``hypervolume_log`` with
EDP in decades.

Resuming: every run lives in ``OUT/runs/<method>/<objective>/[lam<lam>/]seed<seed>``; a finished run
(``result.json``) is read back, an interrupted one resumes from its checkpoint; random pairs are
cached in ``OUT/random/seed<seed>.json``. The table covers every ``result.json`` under ``OUT/runs``,
so a later call with more lams, objectives or seeds extends the same sweep (keep the other config
values the same). Writes ``summary.csv`` and ``summary.json`` (every run), ``hypervolume.csv``,
``hv_ratio.csv`` (with a benchmark table) and ``pareto.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import tqdm

from dianjax import compile_cache, data, parallel
from dianjax.analysis import pareto
from dianjax.checkpoints import restore_latest
from dianjax.cli import report_error
from dianjax.config import load_config, split_config_args
from dianjax.cost.hardware_space import HardwareDesign
from dianjax.nas.supernet import DerivedNetwork
from dianjax.search.config import OBJECTIVES, SearchSetup, make_setup
from dianjax.search.paths import EvalSet, PathEvaluator
from dianjax.search.result import simulated_figures
from dianjax.search.steps import SearchState, init_state, make_optimizers

SEARCH_METHODS = ("joint", "fixed_hw", "decoupled", "no_hw_loss")
METHODS = (*SEARCH_METHODS, "random")
RANDOM_SUPERNET = "no_hw_loss"  # whose supernet weights measure the random pairs' accuracy
DEFAULT_LAMS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
DEFAULT_OBJECTIVES = ("edp", "latency", "energy")
TABLE_COLUMNS = ("method", "objective", "lam", "seed", "ops", "accelerator")
FIGURE_COLUMNS = ("latency_s", "energy_pj", "area_mm2", "edp_pj_s", "err_edp_pj_s",
                  "search_wall_s")


class Run(NamedTuple):
    """One search of the sweep; ``lam`` is None for the methods whose op logits never see it."""

    method: str
    objective: str
    lam: float | None
    seed: int

    @property
    def name(self) -> str:
        lam = "" if self.lam is None else f"lam{self.lam:g}/"
        return f"{self.method}/{self.objective}/{lam}seed{self.seed}"

    def config(self, base: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
        values = {"search.mode": self.method, "cost.objective": self.objective, "seed": self.seed}
        if self.lam is not None:
            values["cost.lam"] = self.lam
        return pareto.with_values(base, values)


def plan_runs(methods: Sequence[str], objectives: Sequence[str], lams: Sequence[float],
              seeds: Sequence[int]) -> list[Run]:
    """The searches of a sweep, seed-major; lam is swept only where it enters (joint, fixed_hw)."""
    runs = []
    for seed in seeds:
        for method in (m for m in SEARCH_METHODS if m in methods):
            for objective in objectives:
                if method in pareto.LAM_MODES:
                    runs += [Run(method, objective, float(lam), seed) for lam in lams]
                else:
                    runs.append(Run(method, objective, None, seed))
    return runs


def restore_state(setup: SearchSetup, run_dir: Path) -> SearchState:
    """The final search state of a finished run, from its last checkpoint."""
    mesh = parallel.make_mesh()
    optimizers = make_optimizers(setup)
    init_key, _ = jax.random.split(jax.random.key(setup.config.seed))
    sharding = parallel.replicated_sharding(mesh)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                            jax.eval_shape(lambda key: init_state(setup, optimizers, key),
                                           init_key))
    with ocp.CheckpointManager(run_dir.absolute() / "checkpoints") as manager:
        state, step = restore_latest(manager, abstract)
    if step != setup.total_steps:
        raise ValueError(f"{run_dir} has no final checkpoint (latest step {step}, the search "
                         f"has {setup.total_steps}); finish the run first")
    return state


def random_pairs(setup: SearchSetup, count: int,
                 rng: np.random.Generator) -> list[tuple[DerivedNetwork, HardwareDesign]]:
    """``count`` uniform pairs: an available op per layer, a choice per knob and mapping slot."""
    mask = setup.space.op_mask()
    slots = setup.table.mapping_slots
    pairs = []
    for _ in range(count):
        ops = tuple(int(rng.choice(np.flatnonzero(row))) for row in mask)
        knobs = {knob: int(rng.integers(len(getattr(setup.hardware, knob))))
                 for knob in setup.hardware.knobs}
        choices = setup.hardware.mapping_choices
        orders = {slot: choices[int(rng.integers(len(choices)))] for slot in slots}
        pairs.append((DerivedNetwork(setup.space, ops),
                      HardwareDesign(setup.hardware.accelerator(knobs), orders)))
    return pairs


def random_rows(config: ml_collections.ConfigDict, supernet_dir: Path, count: int,
                seed: int) -> list[dict]:
    """Rows (:data:`dianjax.analysis.pareto.ROW_COLUMNS`) of ``count`` random pairs drawn from
    ``seed``.

    Accuracy: the supernet of the finished run in ``supernet_dir`` (its config ``config``) with the
    pair's ops one-hot and batch-norm statistics re-estimated on the train part of the train split,
    on the val part and on the test split, as :func:`dianjax.search.result.finalize` measures a
    searched pair; hardware: the exact simulator.
    """
    setup = make_setup(config)
    state = restore_state(setup, supernet_dir)
    mesh = parallel.make_mesh()
    dcfg = config.data
    train_data = data.load(dcfg.dataset, "search_train", dcfg.data_dir or None, dcfg.val_fraction,
                           dcfg.split_seed)
    splits = {"supernet_val": data.load(dcfg.dataset, "search_val", dcfg.data_dir or None,
                                        dcfg.val_fraction, dcfg.split_seed),
              "supernet_test": data.load(dcfg.dataset, "test", dcfg.data_dir or None)}
    evaluator = PathEvaluator(setup, state, train_data, mesh)
    eval_sets = {key: EvalSet(setup, dataset, mesh) for key, dataset in splits.items()}
    rows = []
    pairs = random_pairs(setup, count, np.random.default_rng(seed))
    for index, (network, design) in enumerate(tqdm.tqdm(pairs, desc=f"random pairs, seed {seed}",
                                                        unit="pair", disable=None)):
        sim_network = network.network(batch=config.cost.batch)
        figures = simulated_figures(sim_network, design, setup.table, setup.energy_table)
        row = dict.fromkeys(pareto.ROW_COLUMNS)
        row.update(run=f"random/seed{seed}/pair{index}", method="random", seed=seed,
                   ops=" ".join(network.op_names),
                   accelerator=pareto.accelerator_label(design.accelerator.to_dict()),
                   **{key: figures[key] for key in ("latency_s", "energy_pj", "area_mm2",
                                                    "edp_pj_s", "edap_pj_s_mm2")})
        batch_stats = evaluator.batch_stats(network.op_indices)
        for key, examples in eval_sets.items():
            row[key] = evaluator.accuracy(network.op_indices, examples, batch_stats)
        rows.append(row)
    return rows


def random_rows_cached(config: ml_collections.ConfigDict, supernet_dir: Path, count: int,
                       seed: int, path: Path) -> list[dict]:
    """:func:`random_rows`, read back from ``path`` if it holds the same request."""
    request = {"supernet_run": str(supernet_dir), "count": count, "seed": seed}
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached["request"] == request:
            return cached["rows"]
    rows = random_rows(config, supernet_dir, count, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"request": request, "rows": rows}, indent=1) + "\n")
    return rows


def _list(text: str, cast: Callable, flag: str, allowed: Sequence | None = None) -> list:
    try:
        values = [cast(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ValueError(f"{flag} must be a comma-separated list of {cast.__name__}, "
                         f"got {text!r}") from None
    if not values:
        raise ValueError(f"{flag} must name at least one value, got {text!r}")
    for value in values:
        if allowed is not None and value not in allowed:
            raise ValueError(f"{flag}: {value!r} is not allowed; allowed: {list(allowed)}")
    return list(dict.fromkeys(values))


def _parse(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/pareto_sweep", help="the sweep's directory")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"subset of {METHODS}")
    parser.add_argument("--objectives", default=",".join(DEFAULT_OBJECTIVES),
                        help=f"subset of {OBJECTIVES}")
    parser.add_argument("--lams", default=",".join(f"{lam:g}" for lam in DEFAULT_LAMS),
                        help="lam values of joint and fixed_hw (>= 0)")
    parser.add_argument("--seeds", default=None, help="search seeds (default: config.seed)")
    parser.add_argument("--random-pairs", type=int, default=16,
                        help="random (network, accelerator) pairs per seed")
    parser.add_argument("--accuracy", choices=pareto.ACCURACY_KEYS, default=None,
                        help="accuracy of the front (default: table_val where a benchmark table "
                             "covers the config, else derived_test with final training, else "
                             "supernet_val)")
    spec, overrides, rest = split_config_args(list(argv))
    args = parser.parse_args(rest)
    config = load_config(spec or "quickstart", overrides)
    args.methods = _list(args.methods, str, "--methods", METHODS)
    args.objectives = _list(args.objectives, str, "--objectives", OBJECTIVES)
    args.lams = _list(args.lams, float, "--lams")
    if any(lam < 0 for lam in args.lams):
        raise ValueError(f"--lams must be >= 0, got {args.lams}")
    args.seeds = (_list(args.seeds, int, "--seeds") if args.seeds is not None
                  else [config.seed])
    if any(seed < 0 for seed in args.seeds):
        raise ValueError(f"--seeds must be >= 0, got {args.seeds}")
    if args.random_pairs < 1:
        raise ValueError(f"--random-pairs must be >= 1, got {args.random_pairs}")
    if "random" in args.methods and RANDOM_SUPERNET not in args.methods:
        raise ValueError(f"--methods: random measures its pairs on the supernet of the "
                         f"{RANDOM_SUPERNET} run; add {RANDOM_SUPERNET} (got {args.methods})")
    if args.accuracy == "derived_test" and not config.final_train.enabled:
        raise ValueError("--accuracy derived_test needs the final training: set "
                         "--config.final_train.enabled=True")
    args.front, why = pareto.benchmark_front(make_setup(config))
    if args.accuracy == pareto.TABLE_ACCURACY and args.front is None:
        raise ValueError(f"--accuracy {pareto.TABLE_ACCURACY} needs a benchmark table: {why}")
    args.accuracy = args.accuracy or (
        pareto.TABLE_ACCURACY if args.front is not None else
        "derived_test" if config.final_train.enabled else "supernet_val")
    return config, args


def main(argv: list[str] | None = None) -> int:
    """Runs (or resumes) the sweep, prints the run and hypervolume tables, writes the summaries."""
    compile_cache.enable(compile_cache.default_dir())
    try:
        config, args = _parse(sys.argv[1:] if argv is None else argv)
        runs = plan_runs(args.methods, args.objectives, args.lams, args.seeds)
        configs = {run: run.config(config) for run in runs}
        for run_config in configs.values():
            make_setup(run_config)  # every run's config is valid before the first one starts
    except ValueError as error:
        return report_error(error)
    out = Path(args.out)
    for run in tqdm.tqdm(runs, desc="runs", unit="run", disable=None):
        pareto.run_or_load(configs[run], out / "runs" / run.name)
    rows = sorted(pareto.collect_results(out / "runs"), key=lambda row: (
        row["method"], row["objective"], -1.0 if row["lam"] is None else row["lam"], row["seed"]))
    if "random" in args.methods:
        for seed in args.seeds:
            supernet = Run(RANDOM_SUPERNET, args.objectives[0], None, seed)
            rows += random_rows_cached(configs[supernet], out / "runs" / supernet.name,
                                       args.random_pairs, seed, out / "random" / f"seed{seed}.json")
    if args.front is not None:
        rows = pareto.add_table_accuracy(rows, args.front.table)
    table, reference = pareto.hypervolume_table(rows, args.accuracy)
    print(pareto.format_table(rows, (*TABLE_COLUMNS, args.accuracy, *FIGURE_COLUMNS)))
    fixed = None
    if args.front is not None:
        fixed = pareto.fixed_hypervolume_table(rows, args.front)
        print(f"\nhypervolume ratio to the true front of benchmark table "
              f"{args.front.table.name!r} (val accuracy vs EDP; the front's fixed normalization, "
              f"log EDP, reference (1.1, 1.1)):")
        print(pareto.format_table(fixed, ("method", "points", "hv_ratio")))
        pareto.write_csv(fixed, out / "hv_ratio.csv", list(fixed[0]))
    print(f"\nhypervolume of accuracy ({args.accuracy}) vs simulated EDP, reference point: "
          f"accuracy {reference.accuracy:g}, EDP {reference.cost:.4g} pJ s")
    print(pareto.format_table(table, ("method", "points", "unmeasured", "front", "hypervolume",
                                      "hypervolume_log")))
    pareto.write_csv(rows, out / "summary.csv", pareto.ROW_COLUMNS)
    pareto.write_csv(table, out / "hypervolume.csv", list(table[0]))
    (out / "summary.json").write_text(json.dumps(
        {"accuracy": args.accuracy, "reference": reference._asdict(), "hypervolume": table,
         "hv_ratio": fixed, "runs": rows}, indent=1) + "\n")
    pareto.plot_fronts(rows, out / "pareto.png", args.accuracy,
                       title=f"{config.data.dataset}: accuracy vs simulated EDP")
    print(f"-> {out / 'summary.csv'}, {out / 'hypervolume.csv'}, {out / 'pareto.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
