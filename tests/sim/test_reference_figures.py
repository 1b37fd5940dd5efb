"""sim is pinned to reference figures computed once by the cycle-level engines.

``tests/data/reference_figures.json`` holds ResNet-20 and MobileNetV2 on three named accelerators:
cycles, stalls, SRAM and DRAM counts from :mod:`sim.systolic.engine` and
:mod:`sim.systolic.memory_engine`, energy, latency and area as sim priced those counts when they
were written (``python benchmarks/reference_figures.py --write tests/data/reference_figures.json``).
A change to the simulator or the energy table that moves any of them fails here until the figures
are deliberately recomputed; tests/cost/test_cost_reference_figures.py pins the cost model likewise.
"""

import json
from pathlib import Path

import pytest

from sim import Accelerator, Mapping, get_network, simulate_network

FIGURES = json.loads((Path(__file__).parents[1] / "data" / "reference_figures.json").read_text())
COUNTS = ("compute_cycles", "stall_cycles", "total_cycles", "macs", "ifmap_sram_reads",
          "filter_sram_reads", "ofmap_sram_writes", "ifmap_dram_reads", "filter_dram_reads",
          "ofmap_dram_reads", "ofmap_dram_writes")


def test_figures_cover_two_networks_on_three_accelerators():
    pairs = {(row["network"], row["accelerator_name"]) for row in FIGURES["figures"]}
    assert len(pairs) == 6
    assert {network for network, _ in pairs} == {"resnet20", "mobilenetv2"}


@pytest.mark.parametrize("row", FIGURES["figures"],
                         ids=lambda row: f"{row['network']}-{row['accelerator_name']}")
def test_sim_equals_pinned_figures(row):
    report = simulate_network(get_network(row["network"]),
                              Accelerator.from_dict(row["accelerator"]),
                              Mapping(row["fold_order"])).totals()
    assert {field: report[field] for field in COUNTS} == {field: row[field] for field in COUNTS}
    assert report["stall_cycles"] > 0          # the memory side is exercised
    for field in ("energy_pj", "latency_s", "area_mm2"):
        assert report[field] == pytest.approx(row[field], rel=1e-12), field
    for component, value in row["energy"].items():
        assert report["energy"][component] == pytest.approx(value, rel=1e-12), component
