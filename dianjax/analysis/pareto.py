"""Accuracy-vs-cost Pareto fronts of co-search results: collection, 2-D hypervolume, tables, plots.

A *point* is a (network, accelerator) pair measured by its accuracy (a fraction in [0, 1],
maximized) and a hardware cost (simulated EDP in pJ s unless said otherwise, minimized). The
*front* of a set of points is its non-dominated subset and its hypervolume the area it dominates
up to a reference point (:mod:`dianjax.analysis.front`). Methods are compared at one common
reference point (:func:`common_reference`: accuracy 0 and the worst cost seen over every method's
points times 1.1), so a larger hypervolume is a better front.

Where a benchmark table (:mod:`dianjax.bench`) covers the search's dataset, space, hardware space and
batch, :func:`benchmark_front` gives the fixed alternative: every row scored by its network's
retrained accuracy (``table_val``: the table's search_val accuracy, mean over seeds) and
:func:`fixed_hypervolume_table` measures each method's hypervolume as a ratio to the true front's
in the true front's own normalization (:mod:`dianjax.bench.quality`: accuracy and log cost scaled
by the true front's ideal and nadir, reference (1.1, 1.1)), which no added method moves.

Rows: :func:`result_row` flattens a search's ``result.json`` (:mod:`dianjax.search.result`) into one
flat dict with the keys :data:`ROW_COLUMNS`, the unit of every table, CSV file and plot here.
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import ml_collections
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dianjax.analysis.front import Reference, front_indices, hypervolume_2d
from dianjax.checkpoints import check_same_config
from dianjax.config import apply_override
from dianjax.cost.objectives import Metrics
from dianjax.search.loop import run_search
from dianjax.search.result import COMPARED_METRICS, RESULT_FILE, accelerator_label
from sim import checks

TABLE_ACCURACY = "table_val"  # the benchmark table's search_val accuracy of the row's network
ACCURACY_KEYS = ("supernet_val", "supernet_test", "derived_test", TABLE_ACCURACY)
LAM_MODES = ("joint", "fixed_hw")  # modes whose op logits see lam (dianjax.search.steps.phase_at)
_SIMULATED = Metrics._fields   # the simulated figures of result.json that rows carry
_COST_LABELS = {"latency_s": "latency (s)", "energy_pj": "energy (pJ)", "area_mm2": "area (mm^2)",
                "edp_pj_s": "EDP (pJ s)", "edap_pj_s_mm2": "EDAP (pJ s mm^2)"}
ROW_COLUMNS = ("run", "method", "objective", "lam", "seed", "ops", "accelerator", *ACCURACY_KEYS,
               *_SIMULATED, *(f"err_{key}" for key in COMPARED_METRICS), "search_wall_s")


def result_row(result: Mapping, run: str) -> dict:
    """One flat row (keys :data:`ROW_COLUMNS`) of a ``result.json``; absent figures are None.

    ``lam`` is None for the modes whose op logits never see it (no_hw_loss, decoupled, fixed_net).
    """
    accuracy = result["accuracy"]
    simulated = result["simulated"]
    checks.not_renamed("result.simulated", simulated)
    errors = result.get("relative_error", {})
    row = {"run": run, "method": result["mode"], "objective": result["objective"],
           "lam": float(result["lam"]) if result["mode"] in LAM_MODES else None,
           "seed": int(result["seed"]), "ops": " ".join(result["network"]["ops"]),
           "accelerator": accelerator_label(result["hardware"]["accelerator"]),
           **{key: accuracy.get(key) for key in ACCURACY_KEYS if key != TABLE_ACCURACY},
           TABLE_ACCURACY: None,  # set by add_table_accuracy
           **{key: float(simulated[key]) for key in _SIMULATED},
           **{f"err_{key}": errors.get(key) for key in COMPARED_METRICS},
           "search_wall_s": result.get("search_wall_s")}
    return row


def collect_results(root: str | Path) -> list[dict]:
    """Rows of every ``result.json`` below ``root``, sorted by ``run`` (its directory under root).

    Raises:
      ValueError: if a ``result.json`` is not JSON or lacks a field a row needs (the file named).
    """
    root = Path(root)
    rows = []
    for path in sorted(root.rglob(RESULT_FILE)):
        try:
            rows.append(result_row(json.loads(path.read_text()),
                                   path.parent.relative_to(root).as_posix()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path} is not a search result.json ({type(error).__name__}: "
                             f"{error})") from None
    return rows


def run_or_load(config: ml_collections.ConfigDict, run_dir: str | Path) -> dict:
    """The result of the search of ``config`` in ``run_dir``: read back if finished, else run.

    An unfinished run resumes from its last checkpoint (:func:`dianjax.search.loop.run_search`).

    Raises:
      ValueError: if ``run_dir`` holds a search of a different config
        (:func:`dianjax.checkpoints.check_same_config`).
    """
    run_dir = Path(run_dir)
    result_path = run_dir / RESULT_FILE
    if result_path.is_file():
        check_same_config(config, run_dir)
        return json.loads(result_path.read_text())
    return run_search(config, run_dir)


def with_values(config: ml_collections.ConfigDict, values: Mapping[str, object]
                ) -> ml_collections.ConfigDict:
    """A deep copy of ``config`` with dotted keys set (``{"search.mode": "joint"}``), type-checked.

    Raises:
      ValueError: on an unknown key or a value of the wrong type
        (:func:`dianjax.config.apply_override`).
    """
    config = copy.deepcopy(config)
    for key, value in values.items():
        apply_override(config, f"{key}={value!r}")
    return config


def common_reference(costs: Iterable[float], margin: float = 1.1,
                     accuracy: float = 0.0) -> Reference:
    """Accuracy ``accuracy`` and the worst (largest) cost seen times ``margin``."""
    costs = np.asarray(list(costs), np.float64)
    if not costs.size:
        raise ValueError("common_reference needs at least one cost, got none")
    if not margin >= 1:
        raise ValueError(f"common_reference margin must be >= 1, got {margin!r}")
    return Reference(float(accuracy), float(costs.max() * margin))


def _measured(rows: Iterable[Mapping], accuracy_key: str, cost_key: str) -> list[Mapping]:
    if accuracy_key not in ACCURACY_KEYS:
        raise ValueError(f"accuracy_key must be one of {list(ACCURACY_KEYS)}, got {accuracy_key!r}")
    return [row for row in rows if row.get(accuracy_key) is not None
            and row.get(cost_key) is not None]


def hypervolume_table(rows: Sequence[Mapping], accuracy_key: str, cost_key: str = "edp_pj_s",
                      group_key: str = "method",
                      reference: Reference | None = None) -> tuple[list[dict], Reference]:
    """Per group (e.g. method): points, front size and hypervolume at one common reference.

    Rows without ``accuracy_key`` (e.g. ``derived_test`` of a run without final training) are left
    out of the front and counted in ``unmeasured``.

    Returns:
      ``(table, reference)``; each table row has ``group_key``, ``points``, ``unmeasured``,
      ``front``, ``hypervolume`` (the area as a fraction of the box between the reference and the
      ideal point (accuracy 1, cost 0)) and ``hypervolume_log`` (accuracy x decades of cost).
    """
    measured = _measured(rows, accuracy_key, cost_key)
    if not measured:
        raise ValueError(f"no row has both {accuracy_key!r} and {cost_key!r}")
    if reference is None:
        reference = common_reference(row[cost_key] for row in measured)
    box = (1.0 - reference.accuracy) * reference.cost
    table = []
    for group in dict.fromkeys(row[group_key] for row in rows):
        members = [row for row in rows if row[group_key] == group]
        points = [row for row in measured if row[group_key] == group]
        accuracy = [row[accuracy_key] for row in points]
        cost = [row[cost_key] for row in points]
        table.append({group_key: group, "points": len(points),
                      "unmeasured": len(members) - len(points),
                      "front": len(front_indices(accuracy, cost)),
                      "hypervolume": hypervolume_2d(accuracy, cost, reference) / box,
                      "hypervolume_log": hypervolume_2d(accuracy, cost, reference, log_cost=True)})
    return table, reference


class BenchmarkFront(NamedTuple):
    """A benchmark table's true front of (val accuracy, a cost) and its normalization."""

    table: object            # dianjax.bench.BenchTable
    metric: str
    normalizer: object       # dianjax.bench.quality.Normalizer
    hypervolume: float       # the true front's, normalized


def benchmark_front(setup, metric: str = "edp_pj_s") -> tuple[BenchmarkFront | None, str]:
    """The bundled table's true front for a search setup, or None and why none applies.

    It applies when a table is bundled for the setup's dataset and space, was priced (``dianjax
    bench price``) on the setup's hardware space, and the setup prices batch 1 (as the table).
    """
    from dianjax.bench import load
    from dianjax.bench.quality import Normalizer, hypervolume
    from dianjax.bench.table import table_for

    config = setup.config
    name = table_for(config.data.dataset, config.space)
    if name is None:
        return None, f"no benchmark table for {config.data.dataset} x {config.space}"
    table = load(name)
    if table.hardware is None:
        return None, f"table {name!r} is not priced (dianjax bench price --table {name})"
    if table.hardware["hardware_space"] != setup.hardware.to_dict() or config.cost.batch != 1:
        return None, f"the config's hardware space or cost.batch differs from table {name!r}'s"
    points = table.hardware["fronts"][metric]
    accuracy = np.array([p["val_mean"] for p in points])
    cost = np.array([p[metric] for p in points])
    normalizer = Normalizer.of_front(accuracy, cost)
    return BenchmarkFront(table, metric, normalizer,
                          hypervolume(accuracy, cost, normalizer)), f"table {name!r}"


def add_table_accuracy(rows: Sequence[Mapping], table) -> list[dict]:
    """``rows`` with :data:`TABLE_ACCURACY` set from ``table`` (None where its ops are not a row)."""
    result = []
    for row in rows:
        try:
            value = float(table.val_mean[table.index(row["ops"].split())])
        except ValueError:
            value = None
        result.append({**row, TABLE_ACCURACY: value})
    return result


def fixed_hypervolume_table(rows: Sequence[Mapping], front: BenchmarkFront,
                            group_key: str = "method") -> list[dict]:
    """Per group: points and the hypervolume ratio to the true front of ``front`` (its fixed
    normalization; rows scored by :data:`TABLE_ACCURACY` and ``front.metric``)."""
    from dianjax.bench.quality import hypervolume

    measured = _measured(rows, TABLE_ACCURACY, front.metric)
    table = []
    for group in dict.fromkeys(row[group_key] for row in rows):
        points = [row for row in measured if row[group_key] == group]
        value = hypervolume([r[TABLE_ACCURACY] for r in points],
                            [r[front.metric] for r in points], front.normalizer)
        table.append({group_key: group, "points": len(points),
                      "hv_ratio": value / front.hypervolume})
    return table


def mean_rows(rows: Sequence[Mapping], group_key: str, columns: Sequence[str]) -> list[dict]:
    """Per group: ``runs`` and the mean and standard deviation (``<column>_std``) of each column."""
    table = []
    for group in dict.fromkeys(row[group_key] for row in rows):
        members = [row for row in rows if row[group_key] == group]
        entry = {group_key: group, "runs": len(members)}
        for column in columns:
            values = [row[column] for row in members if row.get(column) is not None]
            entry[column] = float(np.mean(values)) if values else None
            entry[f"{column}_std"] = float(np.std(values)) if values else None
        table.append(entry)
    return table


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows: Sequence[Mapping], columns: Sequence[str]) -> str:
    """A plain-text table of ``columns`` (floats to 4 significant digits, None as ``-``)."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)])
              for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths)),
             "  ".join("-" * width for width in widths)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(lines)


def write_csv(rows: Sequence[Mapping], path: str | Path, columns: Sequence[str]) -> None:
    """``columns`` of ``rows`` as CSV with a header (None as an empty cell)."""
    with Path(path).open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])


def plot_fronts(rows: Sequence[Mapping], path: str | Path, accuracy_key: str,
                cost_key: str = "edp_pj_s", group_key: str = "method", title: str = "") -> None:
    """Accuracy against cost (log axis), every point per group and each group's front as steps."""
    measured = _measured(rows, accuracy_key, cost_key)
    if not measured:
        raise ValueError(f"no row has both {accuracy_key!r} and {cost_key!r} to plot")
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for color, group in enumerate(dict.fromkeys(row[group_key] for row in measured)):
        points = [row for row in measured if row[group_key] == group]
        accuracy = np.array([row[accuracy_key] for row in points])
        cost = np.array([row[cost_key] for row in points])
        axes.scatter(cost, accuracy, s=18, alpha=0.5, color=f"C{color}")
        front = front_indices(accuracy, cost)
        front = front[np.argsort(cost[front], kind="stable")]
        axes.step(cost[front], accuracy[front], where="post", marker="o", color=f"C{color}",
                  label=f"{group} ({len(front)}/{len(points)} on front)")
    axes.set_xscale("log")
    axes.set(xlabel=f"simulated {_COST_LABELS.get(cost_key, cost_key)}",
             ylabel=f"accuracy ({accuracy_key})",
             title=title or f"accuracy vs {cost_key}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path, dpi=120)
