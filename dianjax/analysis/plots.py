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

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dianjax.cli import report_error
from dianjax.metrics_log import read_metrics

# Units of the logged scalars (runs before 2026-12-02 logged latency_ms, energy_uj and edp).
UNITS = {
    "latency_s": "s", "latency_ms": "ms", "energy_pj": "pJ", "energy_uj": "µJ",
    "area_mm2": "mm²", "edp_pj_s": "pJ·s", "edap_pj_s_mm2": "pJ·s·mm²", "edp": "pJ·s",
    "edap": "pJ·s·mm²", "hw_cost": "normalized",
    "train_accuracy": "fraction", "val_accuracy": "fraction",
    "train_loss": "nats", "val_loss": "nats", "task_loss": "nats", "loss": "nats + λ·hw_cost",
    "arch_entropy": "nats", "temperature": "dimensionless",
}
# Positive cost metrics, drawn on a log scale when they span more than a factor 10.
COSTS = {"latency_s", "latency_ms", "energy_pj", "energy_uj", "area_mm2", "edp_pj_s",
         "edap_pj_s_mm2", "edp", "edap", "hw_cost"}
# Panel titles of the hardware knobs (with units); run_info.json holds the choice values.
KNOB_TITLES = {
    "rows": "rows (PEs)", "cols": "cols (PEs)", "dataflow": "dataflow",
    "ifmap_sram_kb": "ifmap SRAM (KiB)", "filter_sram_kb": "filter SRAM (KiB)",
    "ofmap_sram_kb": "ofmap SRAM (KiB)",
    "dram_bandwidth_words_per_cycle": "DRAM bandwidth (words/cycle)",
    "dram_bandwidth": "DRAM bandwidth (words/cycle)",
    "fold_order": "fold order (share of mapping slots)",
    "adc_bits": "ADC bits", "cell_bits": "bits per cell", "dac_bits": "DAC bits",
    "columns_per_adc": "columns per ADC",
    "crossbar_size": "crossbar size (share of mapping slots)",
}


def _grid(count: int, cols: int, width: float, height: float) -> tuple[Figure, list]:
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)  # so that fig.canvas.draw() lays the figure out before it is saved
    axes = fig.subplots(rows, cols, squeeze=False).flat
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, list(axes[:count])


def _choice_label(value) -> str:
    return format(value, "g") if isinstance(value, (int, float)) else str(value)


def curves_figure(records: list[dict]) -> Figure:
    """One panel per scalar metric against the step, its unit on the y axis."""
    names = sorted({k for r in records for k, v in r.items()
                    if k != "step" and isinstance(v, (int, float))})
    fig, axes = _grid(len(names), cols=4, width=3.4, height=2.4)
    for ax, name in zip(axes, names):
        steps, values = zip(*[(r["step"], r[name]) for r in records
                              if isinstance(r.get(name), (int, float))])
        ax.plot(steps, values, lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if name in UNITS:
            ax.set_ylabel(UNITS[name], fontsize=8)
        if name in COSTS and min(values) > 0 and max(values) > 10 * min(values):
            ax.set_yscale("log")
        ax.tick_params(labelsize=7)
    return fig


def _stack(ax, steps, probs: list[list[float]], title: str, labels: list[str]) -> None:
    """A stacked-area panel of a [time][choice] probability list."""
    ax.stackplot(steps, list(zip(*probs)), labels=labels)
    ax.set_ylim(0, 1)
    ax.set_xlabel("step", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def op_probs_figure(records: list[dict], op_names: list[str] | None) -> Figure:
    """A panel per searchable layer; one figure legend beside them, as all layers share the ops."""
    steps = [r["step"] for r in records]
    layers = len(records[0]["op_probs"])
    labels = op_names or [str(i) for i in range(len(records[0]["op_probs"][0]))]
    fig, axes = _grid(layers, cols=min(layers, 4), width=3.0, height=2.2)
    for i, ax in enumerate(axes):
        _stack(ax, steps, [r["op_probs"][i] for r in records], f"layer {i}", labels)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=7,
               title="operation", title_fontsize=8)
    fig.suptitle("operation probabilities per searchable layer", fontsize=10)
    return fig


def hw_probs_figure(records: list[dict], hw_choices: dict[str, list]) -> Figure:
    """A panel per hardware knob, each with its own legend of that knob's choices beside it."""
    steps = [r["step"] for r in records]
    knobs = list(records[0]["hw_probs"])
    fig, axes = _grid(len(knobs), cols=min(len(knobs), 4), width=3.6, height=2.2)
    for ax, knob in zip(axes, knobs):
        probs = [r["hw_probs"][knob] for r in records]
        labels = ([_choice_label(v) for v in hw_choices[knob]] if knob in hw_choices
                  else [str(i) for i in range(len(probs[0]))])
        _stack(ax, steps, probs, KNOB_TITLES.get(knob, knob), labels)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, borderaxespad=0)
    fig.suptitle("hardware choice probabilities", fontsize=10)
    return fig


def run_figures(run_dir: str | Path) -> dict[str, Figure]:
    """Every figure the run's logs allow, by file name (unsaved, for inspection or saving)."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    if not records:
        raise ValueError(f"no metrics in {run_dir}: expected {run_dir / 'metrics.jsonl'}")
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    figures = {"curves.png": curves_figure(records)}
    op_records = [r for r in records if "op_probs" in r]
    if op_records:
        figures["op_probs.png"] = op_probs_figure(op_records, info.get("op_names"))
    hw_records = [r for r in records if "hw_probs" in r]
    if hw_records:
        figures["hw_probs.png"] = hw_probs_figure(hw_records, info.get("hw_choices", {}))
    return figures


def plot_run(run_dir: str | Path) -> list[Path]:
    """Draws every plot the run's logs allow; returns the written paths."""
    written = []
    for name, fig in run_figures(run_dir).items():
        written.append(Path(run_dir) / name)
        fig.savefig(written[-1], dpi=110)
    return written


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a search run directory (holds metrics.jsonl)")
    args = parser.parse_args(argv)
    try:
        for path in plot_run(args.run_dir):
            print(f"wrote {path}")
    except ValueError as error:
        return report_error(error)
    return 0
