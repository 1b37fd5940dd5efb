"""Rows of the quickstart_digits table reproduce: retrained with the table's recipe (seed 0 only, to
keep it short), a network lands within the row's recorded seed noise of its recorded accuracy.

Reads the bundled table when it is complete, else the committed rows of the build in progress
(``bench_builds/``): the rows the table will hold.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dianjax.bench import build, recipe
from dianjax.bench.table import bundled_tables, load
from dianjax.bench.trainer import SeedTrainer

ROOT = Path(__file__).resolve().parents[2]
TABLE = "quickstart_digits"


def _rows() -> list[dict]:
    if TABLE in bundled_tables():
        table = load(TABLE)
        return [table.row(n) | {"op_indices": table.networks[n].tolist()}
                for n in range(table.num_networks)]
    return list(build.iter_rows(ROOT / "bench_builds", TABLE))


@pytest.mark.slow
def test_retraining_rows_reproduces_their_recorded_accuracy():
    rows = _rows()
    assert len(rows) >= 2, "the table (or its committed build) has fewer than two rows"
    chosen = [rows[0], rows[len(rows) // 2]]
    trainer = SeedTrainer(dataclasses.replace(recipe.get_recipe(TABLE), seeds=(0,)))
    num_val = len(trainer.val.labels)
    for row in chosen:
        result = trainer.train_network(row["op_indices"])
        recorded = np.asarray(row["val_accuracy"])
        tolerance = 3 * recorded.std(ddof=1) + 2 / num_val
        assert abs(result.val_accuracy[0] - recorded[0]) <= tolerance, (row["ops"], result)
        assert result.num_params == row["num_params"] and result.macs == row["macs"]
