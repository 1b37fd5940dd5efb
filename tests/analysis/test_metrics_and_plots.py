"""Metrics log (truncation on resume) and the run plots."""

import json

import pytest

from dianjax.analysis import plots
from dianjax.metrics_log import MetricsWriter, read_metrics


def _write_run(run_dir, steps):
    with MetricsWriter(run_dir) as writer:
        for step in steps:
            writer.write(step, {"task_loss": 1.0 / step, "hw_cost": 0.5,
                                "op_probs": [[0.5, 0.5], [0.9, 0.1]],
                                "hw_probs": {"rows": [0.2, 0.8], "dataflow": [0.3, 0.3, 0.4]}})


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
    (tmp_path / "run_info.json").write_text(json.dumps(
        {"op_names": ["a", "b"], "hw_choices": {"rows": [8, 16], "dataflow": ["ws", "os", "is"]}}))
    paths = plots.plot_run(tmp_path)
    assert [p.name for p in paths] == ["curves.png", "op_probs.png", "hw_probs.png"]
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_plot_without_metrics_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="no metrics in"):
        plots.plot_run(tmp_path)
