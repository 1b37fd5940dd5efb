"""``dianjax plot RUN_DIR``: training curves and choice probabilities of a search run, as PNG files.

Reads ``metrics.jsonl`` (scalars, ``op_probs`` as [layer][op] lists and ``hw_probs`` as
{knob: [choice probabilities]}) and the labels in ``run_info.json`` (``op_names``, ``hw_choices``).
Writes ``curves.png``, ``op_probs.png`` and ``hw_probs.png`` into the run directory.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dianjax.metrics_log import read_metrics  # noqa: E402


def _grid(count: int, width: float = 3.2, height: float = 2.2):
    cols = min(count, 4)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_curves(records: list[dict], path: Path) -> None:
    """One panel per scalar metric against the step."""
    names = sorted({k for r in records for k, v in r.items()
                    if k != "step" and isinstance(v, (int, float))})
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), (int, float))]
        ax.plot(*zip(*points), lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _stack_panels(steps, series: dict[str, list[list[float]]], labels: dict[str, list[str]],
                  path: Path, title: str) -> None:
    """A stacked-area panel per entry of ``series`` (each a [time][choice] probability list)."""
    fig, axes = _grid(len(series))
    for ax, (name, probs) in zip(axes, series.items()):
        columns = list(zip(*probs))
        names = labels.get(name) or [str(i) for i in range(len(columns))]
        ax.stackplot(steps, columns, labels=names)
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=min(len(names), 10), fontsize=7)
    fig.suptitle(title, y=1.0, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draws every plot the run's logs allow; returns the written paths."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    if not records:
        raise ValueError(f"no metrics in {run_dir}: expected {run_dir / 'metrics.jsonl'}")
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    written = [run_dir / "curves.png"]
    plot_curves(records, written[0])
    op_records = [r for r in records if "op_probs" in r]
    if op_records:
        layers = len(op_records[0]["op_probs"])
        series = {f"layer {i}": [r["op_probs"][i] for r in op_records] for i in range(layers)}
        op_names = info.get("op_names")
        _stack_panels([r["step"] for r in op_records], series,
                      {name: op_names for name in series} if op_names else {},
                      run_dir / "op_probs.png", "operation probabilities per searchable layer")
        written.append(run_dir / "op_probs.png")
    hw_records = [r for r in records if "hw_probs" in r]
    if hw_records:
        knobs = list(hw_records[0]["hw_probs"])
        series = {k: [r["hw_probs"][k] for r in hw_records] for k in knobs}
        labels = {k: [str(v) for v in vals] for k, vals in info.get("hw_choices", {}).items()}
        _stack_panels([r["step"] for r in hw_records], series, labels,
                      run_dir / "hw_probs.png", "hardware choice probabilities")
        written.append(run_dir / "hw_probs.png")
    return written


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a search run directory (holds metrics.jsonl)")
    args = parser.parse_args(argv)
    try:
        for path in plot_run(args.run_dir):
            print(f"wrote {path}")
    except ValueError as error:
        print(f"error: {error}")
        return 2
    return 0
