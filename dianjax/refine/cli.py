"""``dianjax refine --from RUN_DIR``: refine the pairs of a joint search with few expensive queries.

The last stage of the pipeline (BOSHCODE, Tuli et al., 2023, on the space of the search): read a
finished ``dianjax search`` run directory (``config.json``, ``result.json``), build the
:class:`~dianjax.refine.pair_space.PairSpace` of the same supernet space and the same accelerator
choices (``word_bits`` / ``clock_mhz`` of the search's hardware space; the search's
``cost.max_area_mm2`` as a hard limit if it is > 0), and run :func:`dianjax.refine.loop.run_refine`:

1. seeds: the search's derived pair, then its ``top_k`` most probable pairs (``candidates`` of
   ``result.json``; duplicates and pairs outside the pair space skipped), then
   ``num_random_seeds`` random valid pairs;
2. ``budget`` rounds of surrogate fit + acquisition + query.

A query measures a pair with the exact simulator (batch ``cost.batch`` of the search, sim's default
mapping for every layer: fold orders are not part of the pair space, so the search's pair may
simulate differently here than in its ``result.json``, which uses the searched fold orders) and,
if the ``accuracy`` objective has a non-zero weight, with the network's validation accuracy:
``config.accuracy_source`` "table" looks it up in the benchmark table of the search's dataset and
space (``dianjax.bench``: every network trained from scratch with a full recipe, mean over seeds,
on the table recipe's ``search_val`` split; :func:`dianjax.refine.pair_space.table_oracle`);
"train" trains the derived network from scratch with the short ``config.train`` schedule on the
search's ``search_train`` split and evaluates it on its ``search_val`` split (the search's
``data.val_fraction`` and ``data.split_seed``; :func:`dianjax.refine.pair_space.training_oracle`), a
proxy of the fully trained accuracy; "auto" (default) is "table" where a table is bundled. Pairs are
chosen on validation accuracy only; the test split is used once, at the end: the best pair's test
accuracy from the table, or its network trained with the short schedule on the whole training split
and tested (``best_test.json``).

Everything lives in the refine workdir (default ``RUN_DIR/refine``): ``refine_config.json``, the
resumable query log ``queries.jsonl``, ``trainings/``, and ``best.json``, ``pareto.json``,
``refine.png`` (and ``best_test.json``, ``best_test/`` when accuracy is an objective). Rerunning the
same command continues the log; a larger ``--budget`` extends it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import ml_collections

from dianjax import refine
from dianjax.checkpoints import CONFIG_FILE, check_same_config, write_config
from dianjax.refine.acquisition import AcquisitionConfig
from dianjax.refine.encoding import Design
from dianjax.refine.pair_space import (SIMULATOR_METRICS, Oracle, PairSpace, combine_oracles,
                                       simulator_oracle, table_oracle, training_oracle)
from dianjax.refine.surrogate import SurrogateConfig
from dianjax.search.config import SearchSetup, make_setup
from dianjax.train import SCHEDULE_FIELDS, validate_schedule
from sim import checks
from sim.systolic.architecture import Accelerator
from sim.systolic.energy import accelerator_area_mm2

RESULT_FILE = "result.json"           # written by dianjax search when it finishes
REFINE_CONFIG_FILE = "refine_config.json"
TRAININGS_DIR = "trainings"
BEST_TEST_DIR = "best_test"
BEST_TEST_FILE = "best_test.json"
ACCURACY = "accuracy"
OBJECTIVE_METRICS = (ACCURACY, *SIMULATOR_METRICS)
CONFIG_KEYS = ("seed", "budget", "top_k", "num_random_seeds", "objectives", "accuracy_source",
               "train", "surrogate", "acquisition")
ACCURACY_SOURCES = ("auto", "table", "train")


class SearchRun(NamedTuple):
    """A finished search: its directory, validated setup (config inside) and ``result.json``."""

    run_dir: Path
    setup: SearchSetup
    result: dict


class SeedPairs(NamedTuple):
    """The search's pairs to query first, and why any of them was left out."""

    designs: tuple[Design, ...]
    labels: tuple[str, ...]      # "derived" or "candidate <rank>", one per design
    skipped: tuple[str, ...]     # "<label>: <reason>"


def load_search_run(run_dir: str | Path) -> SearchRun:
    """Reads and validates a search run directory.

    Raises:
      ValueError: if the directory, its ``config.json`` or its ``result.json`` is missing, or either
        file lacks what refinement reads.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"--from {str(run_dir)!r}: no such directory; give the --workdir of a "
                         "`dianjax search` run")
    config_path, result_path = run_dir / CONFIG_FILE, run_dir / RESULT_FILE
    if not config_path.is_file():
        raise ValueError(f"--from {str(run_dir)!r} is not a search run directory: it has no "
                         f"{CONFIG_FILE}; give the --workdir of a `dianjax search` run")
    if not result_path.is_file():
        raise ValueError(f"--from {str(run_dir)!r} has no {RESULT_FILE}: run `dianjax search` "
                         "first, or it was interrupted: rerun it with the same --workdir to finish")
    try:
        setup = make_setup(ml_collections.ConfigDict(json.loads(config_path.read_text())))
    except (KeyError, AttributeError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path} is not a dianjax search config ({type(error).__name__}: "
                         f"{error})") from None
    try:
        result = json.loads(result_path.read_text())
        derived = result["network"]["ops"], result["hardware"]["accelerator"]
        candidates = [(c["ops"], c["accelerator"]) for c in result["candidates"]]
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{result_path} is not a dianjax search result: it must hold network.ops, "
                         f"hardware.accelerator and candidates[].ops/.accelerator "
                         f"({type(error).__name__}: {error})") from None
    for label, (ops, accelerator) in zip(["network"] + ["candidate"] * len(candidates),
                                         [derived, *candidates]):
        if not isinstance(ops, list) or not isinstance(accelerator, dict):
            raise ValueError(f"{result_path}: a {label}'s ops must be a list of op names and its "
                             f"accelerator an object, got {ops!r} and {accelerator!r}")
    return SearchRun(run_dir, setup, result)


def pair_space_of(run: SearchRun) -> PairSpace:
    """The pair space of the search: its supernet space x its accelerator choices (+ area limit)."""
    hardware = run.setup.hardware
    max_area_mm2 = run.setup.config.cost.max_area_mm2
    return PairSpace(run.setup.space, hardware.choices(), hardware.base_accelerator(),
                     max_area_mm2 if max_area_mm2 > 0 else None)


def seed_pairs(run: SearchRun, pair_space: PairSpace, top_k: int) -> SeedPairs:
    """The derived pair, then the ``top_k`` most probable pairs; duplicates and invalid ones out."""
    entries = [("derived", run.result["network"]["ops"], run.result["hardware"]["accelerator"])]
    entries += [(f"candidate {rank}", c["ops"], c["accelerator"])
                for rank, c in enumerate(run.result["candidates"][:top_k])]
    designs, labels, skipped = [], [], []
    for label, ops, accelerator in entries:
        try:
            accelerator = Accelerator.from_dict(accelerator)
            area_mm2 = accelerator_area_mm2(accelerator, pair_space.energy_table)
            if pair_space.max_area_mm2 is not None and area_mm2 > pair_space.max_area_mm2:
                raise ValueError(f"accelerator area {area_mm2:.4g} mm2 exceeds the search's "
                                 f"cost.max_area_mm2={pair_space.max_area_mm2:g}")
            design = pair_space.design_of(ops, accelerator)
        except ValueError as error:
            skipped.append(f"{label}: {error}")
            continue
        if design in designs:
            skipped.append(f"{label}: same pair as {labels[designs.index(design)]}")
            continue
        designs.append(design)
        labels.append(label)
    return SeedPairs(tuple(designs), tuple(labels), tuple(skipped))


def refine_config_of(config: ml_collections.ConfigDict) -> refine.RefineConfig:
    """Validates a ``configs/refine.py`` config (every field) and builds the loop's settings."""
    checks.known_keys("config", config, CONFIG_KEYS)
    missing = sorted(set(CONFIG_KEYS) - set(config))
    if missing:
        raise ValueError(f"config lacks field(s) {missing}; start from configs/refine.py")
    checks.non_negative_int("config", "seed", config.seed)
    checks.positive_int("config", "budget", config.budget)
    checks.non_negative_int("config", "top_k", config.top_k)
    checks.non_negative_int("config", "num_random_seeds", config.num_random_seeds)
    checks.one_of("config", "accuracy_source", config.accuracy_source, ACCURACY_SOURCES)
    checks.known_keys("config.objectives", config.objectives, OBJECTIVE_METRICS)
    for name, weight in config.objectives.items():
        checks.number_in("config", f"objectives.{name}", weight, -float("inf"),
                          high_open=True)
    objectives = tuple(refine.Objective(name, float(weight))
                       for name, weight in config.objectives.items() if weight != 0)
    if not objectives:
        raise ValueError(f"config.objectives must give a non-zero weight to at least one of "
                         f"{list(OBJECTIVE_METRICS)}, got all zero")
    checks.known_keys("config.train", config.train, SCHEDULE_FIELDS)
    validate_schedule(config.train, "config.train")
    parts = {}
    for name, cls in (("surrogate", SurrogateConfig), ("acquisition", AcquisitionConfig)):
        try:
            checks.known_keys(f"config.{name}", config[name], cls.__dataclass_fields__)
            parts[name] = cls(**config[name])
        except (ValueError, TypeError) as error:
            raise ValueError(f"config.{name}: {error}") from None
    return refine.RefineConfig(objectives=objectives, budget=config.budget, seed=config.seed,
                               num_random_seeds=config.num_random_seeds, **parts)


def uses_training(config: refine.RefineConfig) -> bool:
    """Whether the objectives need the (expensive) training oracle."""
    return any(o.name == ACCURACY for o in config.objectives)


def training_config(run: SearchRun, config: ml_collections.ConfigDict,
                    eval_split: str = "val") -> ml_collections.ConfigDict:
    """The ``dianjax train`` config of the accuracy oracle: the search's data and train/val
    partition, a short schedule, evaluation on ``eval_split``."""
    from dianjax.config import load_config

    search = run.setup.config
    train_config = load_config("train_derived")
    train_config.update(dict(dataset=search.data.dataset, data_dir=search.data.data_dir,
                             space=search.space, seed=config.seed, eval_split=eval_split,
                             val_fraction=search.data.val_fraction,
                             split_seed=search.data.split_seed,
                             eval_every_epochs=config.train.num_epochs, **config.train))
    return train_config


def accuracy_table(run: SearchRun, config: ml_collections.ConfigDict):
    """The benchmark table that scores accuracy (``config.accuracy_source`` "table", or "auto" when
    one is bundled for the search's dataset and space), else None (short trainings score it).

    Raises:
      ValueError: for "table" when no table is bundled for the search's dataset and space.
    """
    from dianjax import bench
    from dianjax.bench.table import bundled_tables, table_for

    dataset, space = run.setup.config.data.dataset, run.setup.config.space
    name = table_for(dataset, space) if config.accuracy_source != "train" else None
    if config.accuracy_source == "table" and name is None:
        raise ValueError(f"config.accuracy_source='table': no benchmark table is bundled for "
                         f"dataset {dataset!r} x space {space!r} (bundled: "
                         f"{list(bundled_tables())}); use 'train' or 'auto'")
    return bench.load(name) if name is not None else None


def oracle_of(run: SearchRun, pair_space: PairSpace, config: ml_collections.ConfigDict,
              refine_config: refine.RefineConfig, workdir: Path) -> Oracle:
    """The simulator oracle, combined with an accuracy oracle if ``accuracy`` is an objective: the
    benchmark table's validation accuracy where :func:`accuracy_table` finds one, else a short
    training per network."""
    oracle = simulator_oracle(pair_space, batch=run.setup.config.cost.batch)
    if not uses_training(refine_config):
        return oracle
    table = accuracy_table(run, config)
    if table is not None:
        return combine_oracles(oracle, table_oracle(pair_space, table))
    trainer = training_oracle(pair_space, training_config(run, config), workdir / TRAININGS_DIR)
    return combine_oracles(oracle, trainer)


class Refinement(NamedTuple):
    """A refinement ready to run: every input checked, the oracle built, nothing queried yet."""

    run: SearchRun
    pair_space: PairSpace
    seeds: SeedPairs
    oracle: Oracle
    config: refine.RefineConfig
    workdir: Path


def prepare(run_dir: str | Path, config: ml_collections.ConfigDict,
            workdir: str | Path | None = None) -> Refinement:
    """Checks the config, the search run and the workdir, and builds the pair space and oracle.

    Args:
      run_dir: a finished ``dianjax search`` run directory.
      config: a ``configs/refine.py`` config.
      workdir: where the log and outputs go (default ``run_dir/refine``); one holding a refinement
        of another run or config is refused.

    Raises:
      ValueError: on a bad config or run directory, or a workdir of another refinement.
    """
    refine_config = refine_config_of(config)
    run = load_search_run(run_dir)
    workdir = Path(workdir) if workdir is not None else run.run_dir / "refine"
    pair_space = pair_space_of(run)
    seeds = seed_pairs(run, pair_space, config.top_k)
    oracle = oracle_of(run, pair_space, config, refine_config, workdir)
    saved = {"from": str(run.run_dir.absolute()),
             "config": {k: v for k, v in json.loads(config.to_json()).items() if k != "budget"}}
    check_same_config(saved, workdir, REFINE_CONFIG_FILE)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(saved, workdir, REFINE_CONFIG_FILE)
    return Refinement(run, pair_space, seeds, oracle, refine_config, workdir)


def run_refinement(refinement: Refinement, progress: bool = True) -> refine.RefineResult:
    """Runs (or resumes) the query loop; writes ``best.json``, ``pareto.json``, ``refine.png``."""
    return refine.run_refine(refinement.pair_space.design_space, refinement.oracle,
                             refinement.seeds.designs, refinement.config, refinement.workdir,
                             progress=progress)


def confirm_on_test(refinement: Refinement, config: ml_collections.ConfigDict,
                    best: refine.Record) -> dict:
    """The best pair's test accuracy, once: its benchmark table's test accuracy (mean over the
    table's seeds) where validation accuracy came from the table, else its network trained on the
    whole training split with the short schedule and tested.

    The refinement chose it on validation accuracy; this is the figure to report. Written to
    ``best_test.json`` (a training lives in ``best_test/``; a rerun reads it back).
    """
    table = accuracy_table(refinement.run, config)
    if table is not None:
        oracle = table_oracle(refinement.pair_space, table, split="test")
        source = {"source": f"benchmark table {table.name!r}",
                  "num_epochs": table.recipe.num_epochs, "num_seeds": table.val_accuracy.shape[1]}
    else:
        oracle = training_oracle(refinement.pair_space,
                                 training_config(refinement.run, config, eval_split="test"),
                                 refinement.workdir / BEST_TEST_DIR)
        source = {"source": "training on the whole train split",
                  "num_epochs": config.train.num_epochs, "num_seeds": 1}
    result = {"ops": list(refinement.pair_space.network(best.design).op_names),
              "query": best.index, "val_accuracy": best.metrics[ACCURACY],
              "test_accuracy": oracle(best.design)["accuracy"], **source}
    (refinement.workdir / BEST_TEST_FILE).write_text(json.dumps(result, indent=1) + "\n")
    return result


def _describe(pair_space: PairSpace, record: refine.Record) -> list[str]:
    ops = " ".join(pair_space.network(record.design).op_names)
    acc = pair_space.accelerator(record.design)
    metrics = record.metrics
    figures = [f"val accuracy {metrics[ACCURACY]:.4f}"] if ACCURACY in metrics else []
    figures += [f"latency {metrics['latency_s'] * 1e6:.4g} us",
                f"energy {metrics['energy_pj'] / 1e6:.4g} uJ",
                f"area {metrics['area_mm2']:.4g} mm2",
                f"EDP {metrics['edp_pj_s']:.4g} pJ s", f"utility {record.utility:.4g}"]
    return [f"    network      {ops}",
            f"    accelerator  {acc.rows}x{acc.cols} {acc.dataflow}, SRAM {acc.ifmap_sram_kb}/"
            f"{acc.filter_sram_kb}/{acc.ofmap_sram_kb} KiB, "
            f"DRAM {acc.dram_bandwidth_words_per_cycle} words/cycle",
            "    " + ", ".join(figures)]


def summary_table(result: refine.RefineResult, pair_space: PairSpace, seeds: SeedPairs,
                  config: refine.RefineConfig, new_queries: int) -> str:
    """A readable summary: objectives, queries, the search's pair, the best pair, the front size."""
    objectives = ", ".join(f"{'maximize' if o.weight > 0 else 'minimize'} {o.name} "
                           f"(weight {o.weight:g})" for o in config.objectives)
    num_seeds = sum(r.move == refine.SEED_MOVE for r in result.records)
    lines = [f"refine: {objectives}",
             f"  queries      {len(result.records)} ({num_seeds} seeds: {len(seeds.designs)} "
             f"from the search, {num_seeds - len(seeds.designs)} random; {new_queries} made by "
             "this run)"]
    if seeds.labels and seeds.labels[0] == "derived":
        lines += ["  search's pair (query 0)", *_describe(pair_space, result.records[0])]
    lines += [f"  best pair (query {result.best.index}, {result.best.move})",
              *_describe(pair_space, result.best),
              f"  Pareto front {len(result.pareto)} pair(s) over "
              f"{', '.join(o.name for o in config.objectives)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """``dianjax refine --from RUN_DIR [--budget N] [--config FILE] [--config.key=value ...]
    [--workdir DIR]``."""
    from dianjax.cli import run_with_config

    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.splitlines()[0],
        epilog="--config FILE|NAME (default configs/refine.py) and --config.key=value overrides "
               "set objectives, seeds, the training schedule, surrogate and acquisition")
    parser.add_argument("--from", dest="run_dir", required=True,
                        help="a finished `dianjax search` run directory (its --workdir)")
    parser.add_argument("--budget", type=int, default=None,
                        help="queries after the seeds (default: config.budget); a rerun with a "
                             "larger budget continues the log")
    parser.add_argument("--workdir", default=None,
                        help="where the query log and outputs go (default RUN_DIR/refine); an "
                             "existing one resumes")
    return run_with_config(parser, argv, "refine", _refine_command)


def _refine_command(args: argparse.Namespace, config: ml_collections.ConfigDict, _spec: str) -> int:
    if args.budget is not None:
        if args.budget < 1:
            raise ValueError(f"--budget must be a positive integer, got {args.budget}")
        config.budget = args.budget
    refinement = prepare(args.run_dir, config, args.workdir)
    for note in refinement.seeds.skipped:
        print(f"note: left out of the seeds: {note}")
    log_path = refinement.workdir / refine.LOG_NAME
    num_logged = len(refine.read_log(log_path)[1])
    result = run_refinement(refinement)
    tested = (confirm_on_test(refinement, config, result.best)
              if uses_training(refinement.config) else None)
    print(summary_table(result, refinement.pair_space, refinement.seeds, refinement.config,
                        len(result.records) - num_logged))
    workdir = refinement.workdir
    outputs = ["best.json", "pareto.json", "refine.png"]
    if tested is not None:
        print(f"  best pair's test accuracy {tested['test_accuracy']:.4f} ({tested['source']}, "
              f"{tested['num_epochs']} epochs, {tested['num_seeds']} seed(s); chosen on val "
              f"accuracy {tested['val_accuracy']:.4f})")
        outputs.append(BEST_TEST_FILE)
    print(f"-> {', '.join(str(workdir / name) for name in outputs)}  (log {log_path})")
    return 0
