"""The joint search end to end on the embedded digits: validation, phases, loss, lam, resume."""

import dataclasses
import itertools
import json

import jax
import numpy as np
import pytest

from dianjax import cost
from dianjax.config import load_config
from dianjax.cost.best_design import best_design
from dianjax.nas.supernet import DerivedNetwork
from dianjax.search.config import MODES, make_setup
from dianjax.search.loop import main, run_search
from dianjax.search.result import (DECIDED_PROBABILITY, decision, derive_hardware, summary_table,
                                   top_choices)
from dianjax.search.steps import (WARMUP, Phase, init_state, initial_logits, make_optimizers,
                                  phase_at)
from sim import Accelerator, EnergyTable, Network, simulate_network


def tiny_config(**overrides):
    config = load_config("quickstart", [
        "search.warmup_steps=40", "search.steps=16", "data.batch_size=32", "search.weight_lr=0.3",
        "search.temperature_final=1.0", "log_every_steps=4", "search.front_networks=0",
        "checkpoint_every_steps=10", *(f"{k}={v}" for k, v in overrides.items())])
    return config


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """An uninterrupted tiny run without cost on the op logits (lam = 0)."""
    workdir = tmp_path_factory.mktemp("baseline")
    return workdir, run_search(tiny_config(**{"cost.lam": 0.0}), workdir)


@pytest.mark.parametrize("override, message", [
    ("search.mode='bogus'", "search.mode"),
    ("cost.objective='speed'", "cost.objective"),
    ("cost.lam=-1.0", "cost.lam"),
    ("cost.estimator='leg'", "cost.estimator must be one of"),
    ("search.derive_hardware='best'", "search.derive_hardware must be one of"),
    ("search.mode='fixed_net'", "search.fixed_ops"),
    ("search.fixed_ops=('mb_k3_e1', 'skip', 'bogus', 'skip')", None),
    ("hardware.rows=(0, 8)", "rows"),
    ("data.dataset='cifar10'", "config.space"),
    ("cost.objective='weighted'", "cost.weights"),
    ("search.temperature_final=0.0", "search.temperature_final"),
    ("data.workers=-3", "config.data.workers must be an integer >= 0 or -1"),
    ("final_train.dataset='mnist'", "config.final_train.dataset must be one of"),
    ("final_train.dataset='cifar10'", "config.final_train.dataset='cifar10' has 32x32x3"),
    ("cost.target_edp=-1.0", "cost.target_edp"),
    ("cost.target_lr=-0.1", "cost.target_lr"),
])
def test_bad_configs_fail_before_any_work(override, message):
    config = tiny_config()
    if override.startswith("search.fixed_ops"):
        config = tiny_config(**{"search.mode": "'fixed_net'"})
        message = "search.fixed_ops"
    from dianjax.config import apply_override
    apply_override(config, override)
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        make_setup(config)


def test_targets_need_the_joint_mode_and_an_enumerable_space():
    config = tiny_config(**{"cost.target_latency": 1e-5, "search.mode": "'no_hw_loss'"})
    with pytest.raises(ValueError, match=r"config\.cost\.target_latency need config\.search\.mode"):
        make_setup(config)
    config = tiny_config(**{"cost.target_edp": 10.0, "hardware.rows": tuple(range(1, 400))})
    with pytest.raises(ValueError, match=r"config\.cost\.target_edp need a hardware space"):
        make_setup(config)


def test_a_target_is_met_by_the_derived_pair(tmp_path):
    target = 12.0
    result = run_search(tiny_config(**{"cost.lam": 0.0, "cost.target_edp": target}), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert "multiplier_edp_pj_s" in records[-1] and "target_ratio_edp_pj_s" in records[-1]
    assert result["target"]["targets"] == {"edp_pj_s": target} and result["target"]["met"]
    assert result["simulated"]["edp_pj_s"] <= target * (1 + 1e-5)
    assert "target       edp_pj_s <= 12: met" in summary_table(result)


def test_fixed_hw_accelerator_must_be_in_the_space():
    config = tiny_config(**{"search.mode": "'fixed_hw'", "search.fixed_hardware.rows": 12})
    with pytest.raises(ValueError, match=r"fixed_hardware\.rows=12 .* allowed: \[8, 16, 32, 64\]"):
        make_setup(config)


def test_cli_names_unknown_keys(capsys):
    assert main(["--config.search.bogus=1"]) == 2
    assert "search.bogus" in capsys.readouterr().err


@pytest.mark.parametrize("mode", MODES)
def test_phases(mode):
    overrides = {"search.mode": repr(mode)}
    if mode == "fixed_net":
        overrides["search.fixed_ops"] = "('mb_k3_e1', 'skip', 'mb_k5_e1', 'mb_k3_e3')"
    setup = make_setup(tiny_config(**overrides))
    phases = [phase_at(setup, step) for step in range(setup.total_steps)]
    assert phases[:40] == [WARMUP] * 40
    expected = {"joint": [Phase(True, True, True, False)] * 16,
                "no_hw_loss": [Phase(True, True, False, False)] * 16,
                "fixed_hw": [Phase(True, False, True, False)] * 16,
                "fixed_net": [Phase(False, True, False, True)] * 16,
                "decoupled": [Phase(True, False, False, False)] * 8
                + [Phase(False, True, False, True)] * 8}[mode]
    assert phases[40:] == expected
    arch, hw = initial_logits(setup)
    if mode == "fixed_net":
        assert [setup.space.op_names[k] for k in np.argmax(arch, -1)] == list(
            setup.config.search.fixed_ops)
    if mode == "fixed_hw":
        design = setup.hardware.discretize(jax.tree.map(np.asarray, hw), setup.table)
        assert design.accelerator == setup.fixed_design().accelerator


@pytest.mark.parametrize("how", ["auto", "argmax", "fixed_hw"])
def test_derived_hardware(how):
    overrides = ({"search.mode": "'fixed_hw'"} if how == "fixed_hw"
                 else {"search.derive_hardware": repr(how)})
    setup = make_setup(tiny_config(**overrides))
    optimizers = make_optimizers(setup)
    state = init_state(setup, optimizers, jax.random.key(0))
    rows = state.hw_logits["rows"].at[-1].set(3.0)     # the argmax: the most rows
    state = state.replace(hw_logits={**state.hw_logits, "rows": rows})
    derived = DerivedNetwork.from_op_names(setup.space,
                                           ["mb_k3_e1", "skip", "mb_k5_e1", "mb_k3_e3"])
    network = derived.network(batch=1)
    reference = cost.reference_metrics(setup.table, setup.hardware)
    design, derivation = derive_hardware(setup, state, derived, reference, network)
    argmax = setup.hardware.discretize(jax.tree.map(np.asarray, state.hw_logits), setup.table)
    if how == "fixed_hw":
        assert design == setup.fixed_design() and derivation["method"].startswith("fixed")
    elif how == "argmax":
        assert design == argmax and derivation["method"].startswith("argmax")
    else:
        best = best_design(setup.cost_model, derived.op_indices, "edp", reference)
        assert design == best.design and derivation["score"] == best.score
        assert derivation["argmax_accelerator"] == argmax.accelerator.to_dict()
        assert argmax.accelerator.rows == setup.hardware.rows[-1] != design.accelerator.rows
        assert derivation["argmax_score_ratio"] > 1


def test_top_choices_is_exact():
    rng = np.random.default_rng(0)
    rows = [np.log(rng.dirichlet(np.ones(n))) for n in (3, 2, 4)]
    brute = sorted(((sum(r[i] for r, i in zip(rows, c)), c)
                    for c in itertools.product(*(range(len(r)) for r in rows))), reverse=True)
    beam = top_choices(rows, 5)
    assert [c for _, c in beam] == [c for _, c in brute[:5]]
    np.testing.assert_allclose([s for s, _ in beam], [s for s, _ in brute[:5]])


def test_result_is_validated_by_the_simulator(baseline):
    workdir, result = baseline
    saved = json.loads((workdir / "result.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert "front" not in saved and not (workdir / "front.png").exists()  # front_networks=0
    network = Network.from_dict(result["network"]["sim_network"])
    accelerator = Accelerator.from_dict(result["hardware"]["accelerator"])
    from dianjax.cost.hardware_space import HardwareDesign
    design = HardwareDesign.from_dict(result["hardware"])
    table = make_setup(tiny_config()).table
    report = simulate_network(network, accelerator, design.mappings(network, table))
    assert result["simulated"]["latency_s"] == report.latency_s
    assert result["simulated"]["energy_pj"] == report.energy_pj
    # float32 cost model (dianjax/cost/systolic.py): energy and area within 1e-6; latency and EDP
    # may also be off by one stall cycle per group (~1e-5).
    bounds = {"latency_s": 2e-5, "energy_pj": 1e-6, "area_mm2": 1e-6, "edp_pj_s": 2e-5}
    assert result["relative_error"].keys() == bounds.keys()
    for key, error in result["relative_error"].items():
        assert error < bounds[key], (key, error)
    assert 0.0 <= result["accuracy"]["supernet_val"] <= 1.0
    assert len(result["candidates"]) == 8
    picks = result["decision"]["picks"]
    assert [picks[f"layer {i}"]["pick"] for i in range(4)] == result["network"]["ops"]
    derivation = result["hardware_derivation"]
    assert derivation["method"].startswith("exact: best of")
    for knob in ("rows", "cols", "dataflow"):   # the logits' picks: the argmax accelerator
        assert picks[knob]["pick"] == str(derivation["argmax_accelerator"][knob])
    assert derivation["feasible"] and derivation["score"] <= derivation["argmax_score"]
    assert result["decision"]["decided"] == (not result["decision"]["undecided"])
    assert "decision" in summary_table(result)


_SUMMARY = {  # the fields summary_table reads, hand-written
    "mode": "joint", "objective": "edp", "lam": 1.0, "dataset": "digits", "space": "quickstart",
    "search_steps": 10, "search_wall_s": 1.0, "network": {"ops": ["x"] * 4, "macs": 1},
    "hardware": {"accelerator": {"rows": 8, "cols": 8, "dataflow": "os", "ifmap_sram_kb": 16,
                                 "filter_sram_kb": 16, "ofmap_sram_kb": 16,
                                 "dram_bandwidth_words_per_cycle": 4.0}},
    "accuracy": {}, "predicted": {}, "relative_error": {},
    "simulated": dict.fromkeys(("latency_s", "energy_pj", "area_mm2", "edp_pj_s"), 1.0)}


def test_decision_reports_each_picks_probability_and_says_when_undecided():
    ln = np.log
    sure = decision({"layer 0": (["a", "b", "c"], np.array([ln(0.9), ln(0.1), -np.inf])),
                     "rows": (["8", "16"], np.array([0.0, ln(9.0)]))})
    assert sure["decided"] and sure["undecided"] == []
    assert sure["picks"]["layer 0"] == pytest.approx(
        {"pick": "a", "probability": 0.9, "runner_up": "b", "runner_up_probability": 0.1})
    assert sure["picks"]["rows"]["pick"] == "16"
    assert sure["picks"]["rows"]["probability"] == pytest.approx(0.9)
    only = decision({"layer 1": (["a", "b"], np.array([-np.inf, 3.0]))})
    assert only["picks"]["layer 1"]["runner_up"] is None and only["decided"]
    # the figure: picked ops at 0.50 / 0.43 / 0.36 / 0.40 is an undecided search
    rows = {f"layer {i}": (["x", "y", "z"], ln(np.array([p, (1 - p) / 2, (1 - p) / 2])))
            for i, p in enumerate((0.50, 0.43, 0.36, 0.40))}
    rows["cols"] = (["8", "16"], ln(np.array([DECIDED_PROBABILITY + 0.01, 0.19])))
    undecided = decision(rows)
    assert not undecided["decided"]
    assert undecided["undecided"] == [f"layer {i}" for i in range(4)]
    line = summary_table({**_SUMMARY, "decision": undecided})
    assert "UNDECIDED (4 picks below 0.8: layer 0, layer 1, layer 2, layer 3" in line


def test_final_training_adds_the_derived_networks_test_accuracy(tmp_path):
    config = tiny_config(**{"search.warmup_steps": 2, "search.steps": 2,
                            "final_train.enabled": True, "final_train.num_epochs": 1})
    result = run_search(config, tmp_path)
    trained = json.loads((tmp_path / "final_train" / "train_result.json").read_text())
    assert trained["ops"] == result["network"]["ops"] and trained["eval_split"] == "test"
    assert result["final_train"] == trained
    assert result["accuracy"]["derived_test"] == trained["test_accuracy"]
    assert result["retrained"]["test_accuracy"] == trained["test_accuracy"]  # the headline
    assert trained["steps"] == 22  # one epoch of the 1437 training digits in full batches of 64


def test_loss_decreases(baseline):
    workdir, _ = baseline
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in records]
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
    assert {"op_probs", "hw_probs", "temperature", "arch_entropy", "hw_cost"} <= set(records[-1])


def test_resume_after_interruption_equals_uninterrupted_run(baseline, tmp_path):
    """Batches from 2 grain worker processes before the interruption, from a thread after it."""
    _, uninterrupted = baseline
    config = tiny_config(**{"cost.lam": 0.0, "data.workers": 2})
    assert run_search(config, tmp_path, stop_after=45) is None   # killed after step 45 ...
    config = tiny_config(**{"cost.lam": 0.0})
    resumed = run_search(config, tmp_path)                        # ... resumes from step 40
    assert resumed["resumed_from_step"] == 40
    for key in ("network", "hardware", "accuracy", "simulated", "predicted", "candidates"):
        assert resumed[key] == uninterrupted[key], key


def test_resume_refuses_a_different_config(baseline):
    workdir, _ = baseline
    with pytest.raises(ValueError, match="cost.lam"):
        run_search(tiny_config(**{"cost.lam": 2.0}), workdir)


def test_larger_lam_gives_a_cheaper_simulated_pair(baseline, tmp_path):
    _, free = baseline
    costly = run_search(tiny_config(**{"cost.lam": 20.0}), tmp_path)
    assert costly["simulated"]["edp_pj_s"] < free["simulated"]["edp_pj_s"]
    assert costly["network"]["macs"] < free["network"]["macs"]


@pytest.mark.parametrize("name", ["quickstart", "crossbar_quickstart", "nax_quickstart",
                                  "loopnest_quickstart",
                                  "cifar10", "cifar100", "imagenet", "nax_cifar10"])
def test_bundled_configs_are_valid(name):
    setup = make_setup(load_config(name))
    assert setup.total_steps > 0


def test_cli_refuses_a_bad_final_training_schedule_before_searching(capsys, tmp_path, monkeypatch):
    from dianjax.cli import main as dianjax_main

    monkeypatch.chdir(tmp_path)
    assert dianjax_main(["search", "--config", "quickstart",
                         "--config.final_train.label_smoothing=1.0"]) == 2
    captured = capsys.readouterr()
    assert "error: config.final_train.label_smoothing must be a number in [0, 1)" in captured.err
    assert captured.out == "" and not any(tmp_path.iterdir())


def test_energy_table_from_a_file_prices_search_and_result(tmp_path):
    """config.cost.energy_table: the relaxed cost, the derivation and the simulated result all use
    the loaded table (here DRAM at 3x the default energy)."""
    table = dataclasses.replace(EnergyTable(), dram_energy_pj_per_64bit=3900.0)
    table.save(tmp_path / "table.json")
    result = run_search(tiny_config(**{"cost.energy_table": repr(str(tmp_path / "table.json"))}),
                        tmp_path / "run")
    network = Network.from_dict(result["network"]["sim_network"])
    accelerator = Accelerator.from_dict(result["hardware"]["accelerator"])
    mine = simulate_network(network, accelerator, energy_table=table).energy
    default = simulate_network(network, accelerator).energy
    assert mine.dram_pj == pytest.approx(3 * default.dram_pj)
    assert result["simulated"]["energy_pj"] > default.total_pj
    assert abs(result["relative_error"]["energy_pj"]) < 1e-5   # cost model priced the same table


def test_bad_energy_table_fails_before_any_work(tmp_path):
    from dianjax.config import apply_override
    (tmp_path / "bad.json").write_text('{"dram_energy_pj": 1300.0}')
    for value, message in ((str(tmp_path / "missing.json"), r"is not a file; allowed: an "),
                           (str(tmp_path / "bad.json"), r"unknown field\(s\) \['dram_energy_pj'\]")):
        config = tiny_config()
        apply_override(config, f"cost.energy_table={value!r}")
        with pytest.raises(ValueError, match=message):
            make_setup(config)
