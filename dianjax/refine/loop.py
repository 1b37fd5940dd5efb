"""The refinement query loop: few expensive oracle queries, guided by the heteroscedastic surrogate.

The loop (BOSHCODE's, Tuli et al., 2023) over a :class:`~dianjax.refine.encoding.DesignSpace`:

1. query the seed designs (the caller's, e.g. the joint search's top-k pairs, then
   ``num_random_seeds`` random valid designs drawn from ``seed``);
2. for each of ``budget`` rounds: fit a fresh ensemble on every result so far, let
   :func:`dianjax.refine.acquisition.propose` pick one new valid design, query the oracle, record.

The oracle is any ``Callable[[design], Mapping[str, float]]``: a cheap deterministic function in tests
and benchmarks, the simulator and a short training run in production. The objectives named in the
config are read from its result; the utility maximized is ``sum(weight * value)``, and the sign of
each weight says whether that objective is maximized (> 0) or minimized (< 0) on the Pareto front.

Every result is appended (and flushed) to a JSON-lines log whose first line is a header holding the
space and the config. Re-running with the same log replays it without querying again and continues;
round ``i`` draws its PRNG key as ``fold_in(key(seed), i)`` and its data are the logged results, so
an interrupted and resumed run ends in the same state as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
import tqdm
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dianjax.analysis.front import pareto_front
from dianjax.refine import acquisition, surrogate
from dianjax.refine.encoding import Design, DesignSpace
from sim import checks

Oracle = Callable[[Design], Mapping[str, float]]
SEED_MOVE = "seed"
LOG_NAME = "queries.jsonl"
_LOG_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Objective:
    """One oracle output the surrogate models, and its weight in the utility (sign = direction)."""

    name: str
    weight: float

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Objective.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.weight, (int, float)) or not math.isfinite(self.weight) or (
                self.weight == 0):
            raise ValueError(f"Objective({self.name!r}).weight must be a finite non-zero number "
                             f"(> 0: maximized, < 0: minimized), got {self.weight!r}")


@dataclasses.dataclass(frozen=True)
class RefineConfig:
    """Settings of one refinement run.

    Attributes:
      objectives: what the surrogate predicts and how the utility weighs it.
      budget: queries after the seeds.
      seed: seeds the random seed designs and every round's PRNG key.
      num_random_seeds: random valid designs queried after the caller's seed designs.
      surrogate: the ensemble's architecture and schedule.
      acquisition: how a round proposes a design.
    """

    objectives: tuple[Objective, ...]
    budget: int = 20
    seed: int = 0
    num_random_seeds: int = 8
    surrogate: surrogate.SurrogateConfig = surrogate.SurrogateConfig()
    acquisition: acquisition.AcquisitionConfig = acquisition.AcquisitionConfig()

    def __post_init__(self):
        owner = "RefineConfig"
        objectives = tuple(self.objectives)
        if not objectives or not all(isinstance(o, Objective) for o in objectives):
            raise ValueError(f"{owner}.objectives must be a non-empty sequence of Objective, "
                             f"got {self.objectives!r}")
        names = [o.name for o in objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"{owner}.objectives must have unique names, got {names}")
        object.__setattr__(self, "objectives", objectives)
        checks.non_negative_int(owner, "budget", self.budget)
        checks.non_negative_int(owner, "seed", self.seed)
        checks.non_negative_int(owner, "num_random_seeds", self.num_random_seeds)

    @property
    def weights(self) -> np.ndarray:
        return np.array([o.weight for o in self.objectives], np.float32)

    def utility(self, metrics: Mapping[str, float]) -> float:
        """``sum(weight * metrics[name])`` over the objectives."""
        return float(sum(o.weight * metrics[o.name] for o in self.objectives))

    def to_dict(self) -> dict:
        """Everything but the budget (a run may be resumed with a larger budget)."""
        data = dataclasses.asdict(self)
        del data["budget"]
        return json.loads(json.dumps(data))


class Record(NamedTuple):
    """One oracle query: its position, design, oracle outputs, utility and how it was chosen."""

    index: int
    design: Design
    metrics: dict[str, float]
    utility: float
    move: str               # "seed" or one of acquisition.MOVES
    score: float | None     # the move's score at the design (None for seeds)

    def to_json(self, space: DesignSpace) -> dict:
        return {"kind": "query", "index": self.index, "design": list(self.design),
                "values": space.values(self.design), "metrics": self.metrics,
                "utility": self.utility, "move": self.move, "score": self.score}


class RefineResult(NamedTuple):
    """Every query, the one of highest utility and the Pareto-optimal ones (in query order)."""

    records: tuple[Record, ...]
    best: Record
    pareto: tuple[Record, ...]


def _header(space: DesignSpace, config: RefineConfig, seed_designs: Sequence[Design]) -> dict:
    return {"kind": "header", "version": _LOG_VERSION, "space": space.to_dict(),
            "config": config.to_dict(), "seed_designs": [list(d) for d in seed_designs]}


def read_log(path: str | Path) -> tuple[dict | None, list[dict]]:
    """The header and query entries of a log; a torn last line (crash mid-write) is dropped.

    Raises:
      ValueError: if a complete line is not JSON or the entries are out of order.
    """
    path = Path(path)
    if not path.exists():
        return None, []
    text = path.read_text()
    lines = text.split("\n")
    if lines and lines[-1] and not text.endswith("\n"):
        lines = lines[:-1]  # torn write: the last line never got its newline
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number} is not a JSON line ({error})") from None
    if not entries:
        return None, []
    header, queries = entries[0], entries[1:]
    if header.get("kind") != "header":
        raise ValueError(f"{path}:1 must be the header line, got kind {header.get('kind')!r}")
    for position, entry in enumerate(queries):
        if entry.get("kind") != "query" or entry.get("index") != position:
            raise ValueError(f"{path}:{position + 2} must be query index {position}, got "
                             f"kind {entry.get('kind')!r} index {entry.get('index')!r}")
    return header, queries


def _open_log(path: Path, header: dict) -> list[Record]:
    """Checks an existing log against ``header`` (or starts one) and returns its records."""
    old_header, entries = read_log(path)
    if old_header is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(header) + "\n")
        return []
    differing = sorted(k for k in set(header) | set(old_header) if header.get(k) != old_header.get(k))
    if differing:
        raise ValueError(f"{path} was written by a different run: its {differing} differ from this "
                         "run's; resume with the same space, config and seeds, or use a new log")
    good = "".join(json.dumps(e) + "\n" for e in [old_header, *entries])
    if path.read_text() != good:
        path.write_text(good)  # drop a torn last line before appending
    return [Record(e["index"], tuple(e["design"]), {k: float(v) for k, v in e["metrics"].items()},
                   float(e["utility"]), e["move"], e["score"]) for e in entries]


def _append(path: Path, line: dict) -> None:
    with path.open("a") as log:
        log.write(json.dumps(line) + "\n")
        log.flush()
        os.fsync(log.fileno())


def _query(oracle: Oracle, design: Design, config: RefineConfig) -> dict[str, float]:
    result = oracle(design)
    if not isinstance(result, Mapping):
        raise ValueError(f"oracle must return a mapping of metric name -> number, got "
                         f"{type(result).__name__} for design {design}")
    missing = [o.name for o in config.objectives if o.name not in result]
    if missing:
        raise ValueError(f"oracle result for design {design} lacks objective(s) {missing}; "
                         f"it returned {sorted(result)}")
    metrics = {}
    for name, value in result.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
                math.isfinite(value)):
            raise ValueError(f"oracle metric {name!r} for design {design} must be a finite number, "
                             f"got {value!r}")
        metrics[str(name)] = float(value)
    return metrics


def seed_designs_of(space: DesignSpace, seed_designs: Sequence[Sequence[int]],
                    config: RefineConfig) -> tuple[list[Design], list[Design]]:
    """The caller's designs (validated, de-duplicated), and ``num_random_seeds`` random new ones."""
    designs = list(dict.fromkeys(space.canonical(d) for d in seed_designs))
    rng = np.random.default_rng([config.seed, len(designs)])
    return designs, space.sample(rng, config.num_random_seeds, exclude=set(designs))


def iterate_refine(space: DesignSpace, oracle: Oracle, seed_designs: Sequence[Sequence[int]],
                   config: RefineConfig, log_path: str | Path,
                   progress: bool = False) -> Iterator[Record]:
    """Runs (or resumes) the loop, yielding every record in query order.

    Records already in the log at ``log_path`` are replayed without calling the oracle.

    Args:
      space: the design space.
      oracle: ``design -> {metric: value}``; must return every objective of ``config``.
      seed_designs: designs to query first (e.g. the joint search's top-k pairs).
      config: objectives, budget, seed, surrogate and acquisition settings.
      log_path: the JSON-lines log to append to (created if missing).
      progress: show a progress bar over all queries.

    Raises:
      ValueError: on invalid seed designs, a log of another run, a bad oracle result, or a space
        with fewer admissible designs than seeds plus budget.
    """
    given, random = seed_designs_of(space, seed_designs, config)
    seeds = given + random
    if len(seeds) < 2:
        raise ValueError(f"refine needs at least 2 seed designs to fit the surrogate, got "
                         f"{len(seeds)}; raise RefineConfig.num_random_seeds")
    log_path = Path(log_path)
    records = _open_log(log_path, _header(space, config, given))
    total = len(seeds) + config.budget
    base_key = jax.random.key(config.seed)
    with tqdm.tqdm(total=total, disable=not progress, desc="refine", unit="query") as bar:
        for index in range(total):
            if index < len(records):
                bar.update()
                yield records[index]
                continue
            if index < len(seeds):
                design, move, score = seeds[index], SEED_MOVE, None
            else:
                design, move, score = _propose(space, records, config,
                                               jax.random.fold_in(base_key, index))
            metrics = _query(oracle, design, config)
            record = Record(index, design, metrics, config.utility(metrics), move, score)
            _append(log_path, record.to_json(space))
            records.append(record)
            bar.update()
            bar.set_postfix(best=max(r.utility for r in records))
            yield record


def _propose(space: DesignSpace, records: Sequence[Record], config: RefineConfig,
             key: jax.Array) -> acquisition.Proposal:
    fit_key, propose_key = jax.random.split(key)
    designs = [r.design for r in records]
    y = np.array([[r.metrics[o.name] for o in config.objectives] for r in records])
    ensemble = surrogate.fit(config.surrogate, space.encode_many(designs), y, fit_key)
    return acquisition.propose(space, config.surrogate, ensemble, config.weights, designs,
                               np.array([r.utility for r in records]), propose_key,
                               config.acquisition)


def summarize(records: Sequence[Record], config: RefineConfig) -> RefineResult:
    """The best record (first of the highest utility) and the Pareto front over the objectives."""
    if not records:
        raise ValueError("summarize: no records")
    records = tuple(records)
    best = max(records, key=lambda r: r.utility)
    values = np.array([[r.metrics[o.name] for o in config.objectives] for r in records])
    front = pareto_front(values, [o.weight > 0 for o in config.objectives])
    return RefineResult(records, best, tuple(records[i] for i in front))


def write_outputs(result: RefineResult, space: DesignSpace, config: RefineConfig,
                  workdir: str | Path) -> None:
    """Writes ``best.json``, ``pareto.json`` and ``refine.png`` (convergence and objective scatter)."""
    workdir = Path(workdir)
    (workdir / "best.json").write_text(json.dumps(result.best.to_json(space), indent=1) + "\n")
    (workdir / "pareto.json").write_text(
        json.dumps([r.to_json(space) for r in result.pareto], indent=1) + "\n")
    plot_refine(result, config, workdir / "refine.png")


def plot_refine(result: RefineResult, config: RefineConfig, path: str | Path) -> None:
    """Best utility against queries; with >= 2 objectives also the first two, front highlighted."""
    two = len(config.objectives) >= 2
    figure = Figure(figsize=(10 if two else 5, 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2 if two else 1, squeeze=False)[0]
    utilities = np.array([r.utility for r in result.records])
    num_seeds = sum(r.move == SEED_MOVE for r in result.records)
    queries = np.arange(1, len(utilities) + 1)
    axes[0].plot(queries, np.maximum.accumulate(utilities), label="best so far")
    axes[0].scatter(queries, utilities, s=8, c="gray", label="queried")
    axes[0].axvline(num_seeds + 0.5, ls=":", c="k", label="end of seeds")
    axes[0].set(xlabel="queries", ylabel="utility", title="refinement")
    axes[0].legend()
    if two:
        first, second = (o.name for o in config.objectives[:2])
        axes[1].scatter([r.metrics[first] for r in result.records],
                        [r.metrics[second] for r in result.records], s=10, c="gray", label="queried")
        front = sorted(result.pareto, key=lambda r: r.metrics[first])
        axes[1].plot([r.metrics[first] for r in front], [r.metrics[second] for r in front], "o-",
                     c="C1", label="Pareto front")
        axes[1].scatter([result.best.metrics[first]], [result.best.metrics[second]], marker="*",
                        s=200, c="C3", label="best utility", zorder=3)
        axes[1].set(xlabel=first, ylabel=second, title="objectives")
        axes[1].legend()
    figure.savefig(path, dpi=120)


def run_refine(space: DesignSpace, oracle: Oracle, seed_designs: Sequence[Sequence[int]],
               config: RefineConfig, workdir: str | Path, progress: bool = True) -> RefineResult:
    """Runs (or resumes) the loop with its log in ``workdir/queries.jsonl``, then writes the outputs."""
    workdir = Path(workdir)
    records = list(iterate_refine(space, oracle, seed_designs, config, workdir / LOG_NAME,
                                  progress=progress))
    result = summarize(records, config)
    write_outputs(result, space, config, workdir)
    return result
