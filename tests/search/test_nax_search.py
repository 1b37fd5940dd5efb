"""The crossbar-aware (NAX) search (configs/nax_quickstart.py): the supernet on the sampled
crossbars, the derived pair validated by sim and measured on the full noise model; validation."""

import jax
import numpy as np
import pytest

from dianjax import cost
from dianjax.config import load_config
from dianjax.cost.hardware_space import HardwareDesign
from dianjax.search.config import make_setup
from dianjax.search.loop import run_search
from dianjax.search.result import summary_table
from dianjax.search.steps import WARMUP, init_state, logit_step, make_optimizers, phase_at
from sim import Network, simulate_network


def _config(*overrides):
    return load_config("nax_quickstart", [
        "search.warmup_steps=2", "search.steps=3", "data.batch_size=16", "log_every_steps=5",
        "checkpoint_every_steps=5", "analog.eval_samples=2", *overrides])


@pytest.fixture(scope="module")
def nax_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("nax")
    return workdir, run_search(_config(), workdir)


def test_the_derived_pair_is_priced_by_sim_and_measured_on_crossbars(nax_run):
    _, result = nax_run
    setup = make_setup(_config())
    design = HardwareDesign.from_dict(result["hardware"], template="crossbar")
    network = Network.from_dict(result["network"]["sim_network"])
    report = simulate_network(network, design.accelerator, design.mappings(network, setup.table))
    assert result["simulated"]["edap_pj_s_mm2"] == pytest.approx(report.edap_pj_s_mm2, rel=1e-12)
    assert result["hardware_derivation"]["method"].startswith("argmax of the hardware logits for")
    assert "columns_per_adc" in result["hardware_derivation"]["method"]
    for split in ("val", "test"):
        measured = result["accuracy"][f"supernet_{split}_crossbar"]
        assert len(measured["samples"]) == 2
        assert measured["mean"] == pytest.approx(np.mean(measured["samples"]))
        assert 0 <= measured["mean"] <= 1
    assert result["analog"]["conductance_sigma"] == 0.1
    assert "on crossbars supernet_test_crossbar" in summary_table(result)


def test_the_search_moves_the_hardware_logits_by_accuracy():
    """lam = 0: the cost no longer reaches any logit, yet the crossbar logits move (the task
    loss's gradient through the crossbar model)."""
    setup = make_setup(_config("cost.lam=0.0"))
    optimizers = make_optimizers(setup)
    state = init_state(setup, optimizers, jax.random.key(0))
    phase = phase_at(setup, setup.config.search.warmup_steps)
    assert phase != WARMUP
    rng = np.random.default_rng(0)
    batch = {"image": rng.normal(size=(16, 8, 8, 1)).astype(np.float32),
             "label": rng.integers(0, 10, 16).astype(np.int32)}
    reference = cost.reference_metrics(setup.table, setup.hardware, setup.energy_table)
    new, _ = logit_step(setup, optimizers, phase, state, batch, jax.random.key(1), 1.0, reference)
    moved = np.abs(np.asarray(new.hw_logits["crossbar_size"])
                   - np.asarray(state.hw_logits["crossbar_size"])).sum()
    assert moved > 0
    assert np.all(np.asarray(new.hw_logits["cell_bits"]) == np.asarray(state.hw_logits["cell_bits"]))


@pytest.mark.parametrize(("override", "message"), [
    ("hardware.cell_bits=(2, 4)", r"config.hardware.cell_bits must offer one choice"),
    ("search.remat=True", r"config.search.remat must be False with config.analog.enabled"),
    ("analog.eval_samples=1", r"config.analog.eval_samples must be >= 2"),
    ("analog.ir_drop=1.5", r"config.analog.ir_drop"),
    ("analog.conductance_sigma=-0.1", r"config.analog.conductance_sigma"),
])
def test_bad_analog_settings_are_named_before_any_work(override, message):
    with pytest.raises(ValueError, match=message):
        make_setup(_config(override))


def test_analog_needs_the_crossbar_template():
    config = load_config("quickstart", ["analog.enabled=True"])
    with pytest.raises(ValueError, match=r"config.hardware.template must be 'crossbar'"):
        make_setup(config)


def test_nax_baselines_retrain_the_pair_and_a_homogeneous_resnet(nax_run, tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "experiments" / "nax_baselines.py"
    spec = importlib.util.spec_from_file_location("nax_baselines", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    workdir, result = nax_run
    rows = script.main(["--out", str(tmp_path), "--search-dir", str(workdir), "--sizes", "16",
                        "--epochs", "1"])
    assert [row["pair"] for row in rows] == ["searched", "resnet_x16_adc8"]
    searched, baseline = rows
    assert searched["ops"] == result["network"]["ops"]
    # the search's own design is among those the experiment prices: never a higher EDAP
    assert searched["edap_pj_s_mm2"] <= result["simulated"]["edap_pj_s_mm2"] * (1 + 1e-12)
    assert baseline["ops"] == ["res_k3"] * 4 and baseline["crossbar_sizes"] == [16]
    setup = make_setup(_config())
    network = setup.table.network([setup.space.op_index("res_k3")] * 4)
    from sim import CrossbarAccelerator, CrossbarMapping
    edaps = [simulate_network(network, CrossbarAccelerator(
        crossbar_size=16, cell_bits=4, dac_bits=2, weight_bits=8, input_bits=8, adc_bits=8,
        columns_per_adc=columns), {layer.name: CrossbarMapping(16) for layer in network}
        ).edap_pj_s_mm2 for columns in setup.hardware.columns_per_adc]
    assert baseline["edap_pj_s_mm2"] == pytest.approx(min(edaps), rel=1e-12)
    for row in rows:
        assert 0 <= row["crossbar_test_accuracy"] <= 1 and row["crossbar_test_sd"] >= 0
    assert (tmp_path / "nax_baselines.png").stat().st_size > 0
    rerun = script.main(["--out", str(tmp_path), "--search-dir", str(workdir), "--sizes", "16",
                         "--epochs", "1"])
    assert rerun == rows   # finished trainings are read back
