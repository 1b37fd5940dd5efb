"""The DIAN-style joint search (``dianjax search``) as a benchmark strategy.

Unlike the other strategies the joint search never queries pairs one by one: a search run costs its
measured wall time (supernet training, the relaxed cost model, the final simulation, on the machine
that builds the comparison) and yields one pair, its derived network and accelerator. The pair is
then scored like every other strategy's: by the table's accuracy of the derived network (retrained,
not the supernet's proxy) and its exact cost.

:func:`run_searches` runs (or reads back) one search per (objective, lam or cost target, seed) of
the quickstart config and records each run's wall time next to its ``result.json``; :func:`joint`
replays the runs of one comparison seed, a lam or target sweep in the given order, charging each
run's wall time through :meth:`dianjax.bench.oracle.Oracle.record`. A run also yields its one-shot
front (:mod:`dianjax.search.front`: every network scored on the run's supernet, each on its exactly
best accelerator, the non-dominated pairs by the search's own estimates): ``joint_front`` in the
comparison replays those pairs, all charged the run's wall time, which includes making the front.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dianjax.bench.oracle import Oracle, Problem

RUN_FILE = "bench_run.json"  # next to result.json: the run's measured wall time


class SearchRun(NamedTuple):
    """One finished joint search: its settings, derived pair (as op names and accelerator knob
    values) and measured wall time; ``target`` is the run's cost target (0: a lam run);
    ``front`` the pairs of its one-shot front (:mod:`dianjax.search.front`), if it made one."""

    objective: str
    lam: float
    seed: int
    ops: tuple[str, ...]
    accelerator: dict
    wall_s: float
    target: float = 0.0
    front: tuple = ()   # the run's one-shot front: (ops, accelerator) per pair, cheapest first


def run_searches(out_dir: str | Path, objectives: Sequence[str], lams: Sequence[float],
                 seeds: Sequence[int], config: str = "quickstart",
                 overrides: Sequence[str] = (), log=print,
                 targets: Sequence[float] = ()) -> list[SearchRun]:
    """Runs every (objective, lam, seed) and (objective, target, seed) search of ``config`` not
    finished under ``out_dir``: a lam run weighs the cost by ``cost.lam``; a target run asks for
    the most accurate pair with ``cost.target_<objective>`` at most the target (``cost.lam=0``).

    A finished run (``result.json`` and :data:`RUN_FILE`) is read back; an interrupted one resumes
    from its checkpoint, and then its wall time counts only the resumed part (said in the log).
    Returns the runs per objective, lam runs (in ``lams`` order) then target runs (in ``targets``
    order), each over ``seeds``.
    """
    from dianjax.config import load_config
    from dianjax.search.loop import run_search

    runs = []
    for objective in objectives:
        sweep = [(f"lam{lam:g}", float(lam), 0.0, [f"cost.lam={float(lam)!r}"]) for lam in lams]
        sweep += [(f"target{target:g}", 0.0, float(target),
                   ["cost.lam=0.0", f"cost.target_{objective}={float(target)!r}"])
                  for target in targets]
        for folder, lam, target, setting in sweep:
            for seed in seeds:
                workdir = Path(out_dir) / objective / folder / f"seed{seed}"
                record = workdir / RUN_FILE
                if not record.exists():
                    resumed = (workdir / "checkpoints").exists()
                    cfg = load_config(config, [*overrides, f"cost.objective={objective!r}",
                                               *setting, f"seed={int(seed)}"])
                    start = time.perf_counter()
                    run_search(cfg, workdir)
                    wall = time.perf_counter() - start
                    record.write_text(json.dumps({"wall_s": wall, "resumed": resumed}) + "\n")
                    log(f"joint {objective} {folder} seed={seed}: {wall:.1f} s"
                        + (" (resumed: wall time of the resumed part only)" if resumed else ""))
                result = json.loads((workdir / "result.json").read_text())
                runs.append(SearchRun(objective, lam, int(seed),
                                      tuple(result["network"]["ops"]),
                                      result["hardware"]["accelerator"],
                                      json.loads(record.read_text())["wall_s"], target,
                                      _front(result)))
    return runs


def _front(result: dict) -> tuple:
    pairs = (result.get("front") or {}).get("pairs", [])
    return tuple((tuple(pair["ops"]), pair["hardware"]["accelerator"]) for pair in pairs)


def setting(run: SearchRun) -> str:
    """The run's sweep setting as its folder names it: ``lam<lam>`` or ``target<target>``."""
    return f"target{run.target:g}" if run.target > 0 else f"lam{run.lam:g}"


def load_runs(out_dir: str | Path, objective: str) -> list[SearchRun]:
    """Every finished run of ``objective`` under ``out_dir`` (:func:`run_searches`' layout), read
    back without running anything; sorted by setting and seed."""
    runs = []
    for record in sorted(Path(out_dir, objective).glob(f"*/seed*/{RUN_FILE}")):
        result = json.loads((record.parent / "result.json").read_text())
        targets = (result.get("target") or {}).get("targets", {})
        runs.append(SearchRun(objective, float(result["lam"]), int(result["seed"]),
                              tuple(result["network"]["ops"]), result["hardware"]["accelerator"],
                              json.loads(record.read_text())["wall_s"],
                              float(next(iter(targets.values()), 0.0)), _front(result)))
    return sorted(runs, key=lambda r: (r.target > 0, r.lam, r.target, r.seed))


def pair_of(run: SearchRun, problem: Problem, layer_ops: Sequence[Sequence[str]],
            hardware) -> tuple[int, int]:
    """The (network, accelerator) indices of ``problem`` of a run's derived pair.

    Args:
      layer_ops: per layer, the op names of that layer's choices in the problem's order.
      hardware: the problem's :class:`~dianjax.cost.hardware_space.HardwareSpace`.
    """
    return pair_index(run.ops, run.accelerator, problem, layer_ops, hardware)


def front_pairs(run: SearchRun, problem: Problem, layer_ops: Sequence[Sequence[str]],
                hardware) -> list[tuple[int, int]]:
    """:func:`pair_of` of every pair of the run's one-shot front, cheapest first."""
    return [pair_index(ops, accelerator, problem, layer_ops, hardware)
            for ops, accelerator in run.front]


def pair_index(ops: Sequence[str], accelerator: dict, problem: Problem,
               layer_ops: Sequence[Sequence[str]], hardware) -> tuple[int, int]:
    """The (network, accelerator) indices of ``problem`` of op names and accelerator knob values
    (:func:`pair_of`'s arguments)."""
    if len(ops) != len(layer_ops):
        raise ValueError(f"run has {len(ops)} layers, the problem {len(layer_ops)}")
    decisions = []
    for layer, (op, names) in enumerate(zip(ops, layer_ops)):
        if op not in names:
            raise ValueError(f"run op {op!r} at layer {layer} is not a choice there: {list(names)}")
        decisions.append(list(names).index(op))
    indices = []
    for knob, choices in hardware.choices():
        value = accelerator[knob]
        if value not in choices:
            raise ValueError(f"run accelerator {knob}={value!r} is not in the benchmark's hardware "
                             f"space: {list(choices)}")
        indices.append(list(choices).index(value))
    return problem.network_index(decisions), problem.accelerator_index(indices)


def joint(oracle: Oracle, rng: np.random.Generator, *, pairs: Sequence[tuple[int, int, float]]
          ) -> None:
    """Replays search runs: each ``(network, accelerator, wall_s)`` of ``pairs`` (one comparison
    seed's lam sweep, in order) is recorded at the charge of its wall time, until exhausted. A
    run's one-shot front is its pairs with the run's wall time on the first and 0 on the others
    (they all arrive when the run ends)."""
    del rng  # the runs carry their own seeds
    for network, accelerator, wall_s in pairs:
        if oracle.exhausted:
            return
        oracle.record(network, accelerator, wall_s)
