"""Per-step metrics of a run: a JSON-lines file (``metrics.jsonl``) and TensorBoard event files.

A resumed run truncates both logs to the checkpointed step first, so that records written after the
last checkpoint by an interrupted run are not duplicated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tensorboardX import SummaryWriter

METRICS_FILE = "metrics.jsonl"


def _jsonable(value):
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array.tolist()


class MetricsWriter:
    """Appends ``{"step": s, **metrics}`` records; scalars also go to TensorBoard under ``tb/``.

    ``enabled=False`` writes nothing (the processes other than process 0 of a multi-host run).
    """

    def __init__(self, workdir: str | Path, resume_step: int = 0, enabled: bool = True):
        self.path = Path(workdir) / METRICS_FILE
        self.enabled = enabled
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_metrics(self.path) if r["step"] <= resume_step] if resume_step else []
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._file = self.path.open("a")
        self._tb = SummaryWriter(str(Path(workdir) / "tb"),
                                 purge_step=resume_step + 1 if resume_step else None)

    def write(self, step: int, metrics: Mapping[str, object]) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), **{k: _jsonable(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        for name, value in record.items():
            if name != "step" and isinstance(value, (int, float)):
                self._tb.add_scalar(name, value, step)

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        self._tb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_metrics(path: str | Path) -> list[dict]:
    """All records of a metrics file (an empty list if it does not exist)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
