"""The cost model is pinned to the engines' reference figures (tests/data/reference_figures.json,
see tests/sim/test_reference_figures.py): exact counts under 64-bit mode, energy, latency and area
to the last bits."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from dianjax import cost
from sim import FOLD_ORDERS, Accelerator, get_network

FIGURES = json.loads((Path(__file__).parents[1] / "data" / "reference_figures.json").read_text())
COUNTS = ("compute_cycles", "stall_cycles", "total_cycles", "macs")


@pytest.mark.parametrize("row", FIGURES["figures"],
                         ids=lambda row: f"{row['network']}-{row['accelerator_name']}")
def test_cost_model_equals_pinned_figures(row):
    network = get_network(row["network"])
    orders = np.full(len(network.layers), FOLD_ORDERS.index(row["fold_order"]), np.int32)
    with jax.enable_x64(True):
        totals = cost.network_cost(cost.evaluate(
            cost.layer_arrays(network),
            cost.accelerator_arrays(Accelerator.from_dict(row["accelerator"])), orders))
        totals = {field: float(value) for field, value in totals.items()}
    for field in COUNTS:
        assert totals[field] == row[field], field
    dram = sum(row[field] for field in ("ifmap_dram_reads", "filter_dram_reads",
                                        "ofmap_dram_reads", "ofmap_dram_writes"))
    assert totals["dram_words"] == dram
    for field in ("energy_pj", "latency_s", "area_mm2"):
        assert totals[field] == pytest.approx(row[field], rel=1e-12), field
