"""Pair space: op subsets, hardware grid, area limit, round trips, sim and training oracles."""

import math

import numpy as np
import pytest

from dianjax import refine
from dianjax.config import load_config
from dianjax.nas.search_space import get_space
from dianjax.refine import acquisition, surrogate
from dianjax.refine.pair_space import PairSpace, combine_oracles, simulator_oracle, training_oracle
from sim import Accelerator, EnergyTable, simulate_network
from sim.systolic.energy import accelerator_area_mm2

HARDWARE = (("rows", (16, 8, 32)), ("cols", (8, 16)), ("dataflow", ("ws", "os", "is")))


@pytest.fixture(scope="module")
def pairs():
    return PairSpace(get_space("quickstart"), HARDWARE, max_area_mm2=1.65)


def test_dimensions_follow_both_spaces(pairs):
    space = pairs.design_space
    mask = pairs.search_space.op_mask()
    for layer, row in enumerate(mask):
        dim = space.dimensions[layer]
        assert dim.kind == "nominal" and dim.values == pairs.search_space.op_names
        assert dim.allowed == tuple(np.flatnonzero(row))
    rows, cols, dataflow = space.dimensions[pairs.num_layers:]
    assert (rows.name, rows.kind, rows.values) == ("rows", "ordinal", (8, 16, 32))
    assert (dataflow.kind, dataflow.values) == ("nominal", ("ws", "os", "is"))
    designs = list(space.enumerate())
    areas = {accelerator_area_mm2(pairs.accelerator(d), EnergyTable()) for d in designs}
    assert max(areas) <= 1.65 < accelerator_area_mm2(Accelerator(rows=32, cols=16), EnergyTable())
    assert len(designs) < space.num_combinations


def test_design_of_round_trips(pairs):
    rng = np.random.default_rng(0)
    for design in pairs.design_space.sample(rng, 20):
        network, accelerator = pairs.network(design), pairs.accelerator(design)
        assert pairs.design_of(network.op_names, accelerator) == design


@pytest.mark.parametrize("ops, accelerator, match", [
    (None, Accelerator(rows=16, cols=8, dataflow="os", clock_mhz=700.0),
     r"accelerator.clock_mhz=700.0 differs from the base accelerator's 500.0"),
    (None, Accelerator(rows=64, cols=8), r"accelerator.rows must be one of \[8, 16, 32\], got 64"),
    (None, Accelerator(rows=32, cols=16), r"fails the space's validity predicate"),
    (("skip",) * 4, Accelerator(rows=8, cols=8), r"not an available op"),
])
def test_design_of_rejects_pairs_outside_the_space(pairs, ops, accelerator, match):
    ops = ops or ("mb_k3_e1",) * 4
    with pytest.raises(ValueError, match=match):
        pairs.design_of(ops, accelerator)


@pytest.mark.parametrize("choices, match", [
    ((), r"hardware_choices must name at least one Accelerator field"),
    ((("lanes", (1, 2)),), r"hardware_choices field must be one of"),
    ((("rows", (8, 0)),), r"Accelerator.rows must be a positive integer, got 0"),
    ((("dataflow", ("ws", "rs")),), r"dataflow must be one of"),
])
def test_bad_pair_spaces(choices, match):
    with pytest.raises(ValueError, match=match):
        PairSpace(get_space("quickstart"), choices)


def test_simulator_oracle_is_sim(pairs):
    design = pairs.design_space.sample(np.random.default_rng(1), 1)[0]
    metrics = simulator_oracle(pairs)(design)
    report = simulate_network(pairs.network(design).network(), pairs.accelerator(design))
    assert metrics["latency_s"] == report.latency_s and metrics["energy_pj"] == report.energy_pj
    assert metrics["area_mm2"] == report.area_mm2
    assert metrics["log2_edp"] == pytest.approx(math.log2(report.energy_pj * report.latency_s))


def test_refine_on_pairs_with_the_simulator(pairs, tmp_path):
    def accuracy_proxy(design):  # a cheap deterministic stand-in for training
        return {"accuracy": 0.9 - 0.01 * sum(design[:pairs.num_layers])}

    oracle = combine_oracles(simulator_oracle(pairs), accuracy_proxy)
    seed = pairs.design_of(("mb_k3_e3",) * 4, Accelerator(rows=16, cols=8, dataflow="os"))
    config = refine.RefineConfig(
        objectives=(refine.Objective("accuracy", 1.0), refine.Objective("log2_edp", -0.01)),
        budget=2, num_random_seeds=2,
        surrogate=surrogate.SurrogateConfig(hidden_sizes=(8,), num_members=2, num_steps=20),
        acquisition=acquisition.AcquisitionConfig(num_starts=2, num_steps=2))
    result = refine.run_refine(pairs.design_space, oracle, [seed], config, tmp_path, progress=False)
    assert [r.design for r in result.records][0] == seed and len(result.records) == 5
    assert all(pairs.design_space.contains(r.design) for r in result.records)
    with pytest.raises(ValueError, match=r"metric\(s\) \['accuracy'\] returned by two oracles"):
        combine_oracles(accuracy_proxy, accuracy_proxy)(seed)


def test_training_oracle_trains_once_per_network(pairs, tmp_path):
    config = load_config("train_derived", ["num_epochs=1", "eval_every_epochs=1"])
    oracle = training_oracle(pairs, config, tmp_path)
    design = pairs.design_of(("mb_k3_e1",) * 4, Accelerator(rows=8, cols=8))
    accuracy = oracle(design)["accuracy"]
    assert 0 <= accuracy <= 1
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name == "train-0-0-0-0"
    other_hardware = pairs.design_of(("mb_k3_e1",) * 4, Accelerator(rows=16, cols=8, dataflow="is"))
    assert oracle(other_hardware) == {"accuracy": accuracy}
    assert list(tmp_path.iterdir()) == [run_dir]
    with pytest.raises(ValueError, match=r"is not the pair space's search space"):
        training_oracle(PairSpace(get_space("quickstart", num_classes=4), HARDWARE),
                        config, tmp_path)
