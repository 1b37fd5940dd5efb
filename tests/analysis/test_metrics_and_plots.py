"""Metrics log (truncation on resume) and the run plots."""

import json

import pytest

from dianjax.analysis import plots
from dianjax.metrics_log import MetricsWriter, read_metrics

HW_CHOICES = {"rows": [8, 16], "dataflow": ["ws", "os", "is"],
              "dram_bandwidth_words_per_cycle": [4.0, 8.0],
              "fold_order": ["col_outer", "row_outer"]}


def _write_run(run_dir, steps):
    with MetricsWriter(run_dir) as writer:
        for step in steps:
            writer.write(step, {"task_loss": 1.0 / step, "hw_cost": 0.5,
                                "latency_s": 10.0 ** -step, "energy_pj": 1e6 + step,
                                "mystery": float(step),
                                "op_probs": [[0.5, 0.5], [0.9, 0.1]],
                                "hw_probs": {"rows": [0.2, 0.8], "dataflow": [0.3, 0.3, 0.4],
                                             "dram_bandwidth_words_per_cycle": [0.6, 0.4],
                                             "fold_order": [1.0, 0.0]}})
    (run_dir / "run_info.json").write_text(json.dumps(
        {"op_names": ["a", "b"], "hw_choices": HW_CHOICES}))


def _panels(fig):
    return {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}


def test_resume_truncates_records_after_checkpoint(tmp_path):
    _write_run(tmp_path, [1, 2, 3, 4])
    with MetricsWriter(tmp_path, resume_step=2) as writer:
        writer.write(3, {"task_loss": 9.0})
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[-1]["task_loss"] == 9.0
    assert (tmp_path / "tb").is_dir()


def test_plot_run_writes_pngs(tmp_path):
    _write_run(tmp_path, [1, 2, 3])
    paths = plots.plot_run(tmp_path)
    assert [p.name for p in paths] == ["curves.png", "op_probs.png", "hw_probs.png"]
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_each_hw_panel_has_its_own_choices_as_legend(tmp_path):
    _write_run(tmp_path, [1, 2, 3])
    panels = _panels(plots.run_figures(tmp_path)["hw_probs.png"])
    assert set(panels) == {"rows (PEs)", "dataflow", "DRAM bandwidth (words/cycle)",
                           "fold order (share of mapping slots)"}
    labels = {"rows": ["8", "16"], "dataflow": ["ws", "os", "is"],
              "dram_bandwidth_words_per_cycle": ["4", "8"],
              "fold_order": ["col_outer", "row_outer"]}
    for knob, texts in labels.items():
        legend = panels[plots.KNOB_TITLES[knob]].get_legend()
        assert [t.get_text() for t in legend.get_texts()] == texts


@pytest.mark.parametrize("name", ["op_probs.png", "hw_probs.png"])
def test_legends_cover_no_title_and_no_panel(tmp_path, name):
    _write_run(tmp_path, [1, 2, 3])
    fig = plots.run_figures(tmp_path)[name]
    fig.canvas.draw()
    axes = list(_panels(fig).values())
    legends = fig.legends + [ax.get_legend() for ax in axes if ax.get_legend()]
    assert legends
    covered = ([ax.get_window_extent() for ax in axes]
               + [ax.title.get_window_extent() for ax in axes]
               + [fig._suptitle.get_window_extent()])
    for legend in legends:
        box = legend.get_window_extent()
        assert not any(box.fully_overlaps(other) for other in covered)


def test_curve_panels_carry_units_and_log_scale_for_wide_costs(tmp_path):
    _write_run(tmp_path, [1, 2, 3])
    panels = _panels(plots.run_figures(tmp_path)["curves.png"])
    units = {name: ax.get_ylabel() for name, ax in panels.items()}
    assert units == {"task_loss": "nats", "hw_cost": "normalized", "latency_s": "s",
                     "energy_pj": "pJ", "mystery": ""}
    scales = {name: ax.get_yscale() for name, ax in panels.items()}
    assert scales["latency_s"] == "log"  # spans a factor 100
    assert scales["energy_pj"] == scales["hw_cost"] == "linear"


def test_plot_without_metrics_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="no metrics in"):
        plots.plot_run(tmp_path)
