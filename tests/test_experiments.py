"""The experiment scripts on tiny quickstart searches: plans, baselines, tables, resume."""

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dianjax import data
from dianjax.analysis import pareto
from dianjax.config import load_config
from dianjax.nas.search_space import get_space
from dianjax.search.config import MODES, make_setup
from sim import simulate_network

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
# four logit steps, no warm-up: one compiled search step per run (compile time dominates)
TINY = ["--config.search.warmup_steps=0", "--config.search.steps=4",
        "--config.data.batch_size=32", "--config.log_every_steps=2",
        "--config.checkpoint_every_steps=4", "--config.search.front_networks=0"]


def _script(name):
    spec = importlib.util.spec_from_file_location(f"experiments_{name}", EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sweep = _script("pareto_sweep")
ablations = _script("ablations")
cosearch = _script("cifar10_cosearch")


def test_plan_sweeps_lam_only_where_it_enters():
    runs = sweep.plan_runs(["random", "no_hw_loss", "joint", "decoupled"], ["edp", "latency"],
                           [0.0, 1.0, 3.0], [0, 1])
    assert len(runs) == 2 * (2 * 3 + 2 + 2)
    assert len({run.name for run in runs}) == len(runs)
    assert {run.method for run in runs} == {"joint", "no_hw_loss", "decoupled"}
    assert all((run.lam is None) == (run.method not in pareto.LAM_MODES) for run in runs)
    config = runs[0].config(load_config("quickstart"))
    assert runs[0] == sweep.Run("joint", "edp", 0.0, 0) and runs[0].name == "joint/edp/lam0/seed0"
    assert (config.search.mode, config.cost.objective, config.cost.lam, config.seed) == (
        "joint", "edp", 0.0, 0)


@pytest.mark.parametrize("args, message", [
    (["--methods", "joint,bogus"], "'bogus' is not allowed"),
    (["--objectives", "speed"], "'speed' is not allowed"),
    (["--lams", "1,-2"], "--lams must be >= 0"),
    (["--lams", "a"], "--lams must be a comma-separated list of float"),
    (["--methods", "joint,random"], "add no_hw_loss"),
    (["--accuracy", "derived_test"], "final_train.enabled"),
    (["--config.cost.bogus=1"], "cost.bogus"),
    (["--config.search.fixed_hardware.rows=12"], "fixed_hardware.rows=12"),
])
def test_sweep_rejects_bad_arguments_before_any_run(args, message, tmp_path, capsys):
    assert sweep.main([*args, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_random_pairs_are_uniform_valid_and_reproducible():
    setup = make_setup(load_config("quickstart"))
    pairs = sweep.random_pairs(setup, 40, np.random.default_rng(3))
    again = sweep.random_pairs(setup, 40, np.random.default_rng(3))
    assert [(n.op_indices, d.accelerator) for n, d in pairs] == [
        (n.op_indices, d.accelerator) for n, d in again]
    mask = setup.space.op_mask()
    for network, design in pairs:
        assert all(mask[layer, k] for layer, k in enumerate(network.op_indices))
        setup.hardware.indices(design.accelerator)  # raises if off the grid
        assert set(design.fold_orders) == set(setup.table.mapping_slots)
    used = {knob: {getattr(d.accelerator, knob) for _, d in pairs} for knob in ("rows", "dataflow")}
    assert used["rows"] == set(setup.hardware.rows) and used["dataflow"] == set(
        setup.hardware.dataflow)
    assert len({n.op_indices for n, _ in pairs}) > 20


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One tiny search (no_hw_loss) and two random pairs: the only search the scripts' tests run."""
    out = tmp_path_factory.mktemp("sweep")
    args = [*TINY, "--methods", "no_hw_loss,random", "--objectives", "edp",
            "--random-pairs", "2", "--accuracy", "supernet_val", "--out", str(out)]
    assert sweep.main(args) == 0
    return out, args


def test_sweep_writes_runs_tables_and_front(swept, capsys):
    out, _ = swept
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["runs"]
    assert [row["run"] for row in rows] == [
        "no_hw_loss/edp/seed0", "random/seed0/pair0", "random/seed0/pair1"]
    assert summary["accuracy"] == "supernet_val"
    # the fixed-normalization table comes exactly where a priced benchmark table covers the config
    front, _ = pareto.benchmark_front(make_setup(load_config("quickstart")))
    assert (summary["hv_ratio"] is not None) == (front is not None)
    assert summary["reference"]["cost"] == pytest.approx(1.1 * max(row["edp_pj_s"] for row in rows))
    table = {entry["method"]: entry for entry in summary["hypervolume"]}
    assert list(table) == ["no_hw_loss", "random"]
    assert table["no_hw_loss"]["points"] == 1 and table["random"]["points"] == 2
    for entry in table.values():
        accuracy = [r["supernet_val"] for r in rows if r["method"] == entry["method"]]
        edp = [r["edp_pj_s"] for r in rows if r["method"] == entry["method"]]
        assert entry["hypervolume"] == pytest.approx(pareto.hypervolume_2d(
            accuracy, edp, pareto.Reference(**summary["reference"])) / summary["reference"]["cost"])
    with (out / "hypervolume.csv").open() as file:
        assert [r["method"] for r in csv.DictReader(file)] == ["no_hw_loss", "random"]
    with (out / "summary.csv").open() as file:
        assert len(list(csv.DictReader(file))) == 3
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_random_pairs_are_measured_by_supernet_and_simulator(swept):
    out, _ = swept
    rows = json.loads((out / "random" / "seed0.json").read_text())["rows"]
    setup = make_setup(load_config("quickstart"))
    for row in rows:
        assert 0.0 <= row["supernet_val"] <= 1.0 and 0.0 <= row["supernet_test"] <= 1.0
        assert row["derived_test"] is None and row["lam"] is None
    pairs = sweep.random_pairs(setup, 2, np.random.default_rng(0))
    for row, (network, design) in zip(rows, pairs):
        sim_network = network.network()
        report = simulate_network(sim_network, design.accelerator,
                                  design.mappings(sim_network, setup.table))
        assert row["ops"] == " ".join(network.op_names)
        assert row["edp_pj_s"] == report.energy_pj * report.latency_s


def test_sweep_rerun_reads_finished_runs_back(swept, capsys):
    out, args = swept
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("result.json")}
    cache = (out / "random" / "seed0.json").stat().st_mtime_ns
    before = (out / "summary.json").read_text()
    assert sweep.main(args) == 0
    assert {path: path.stat().st_mtime_ns for path in out.rglob("result.json")} == stamps
    assert (out / "random" / "seed0.json").stat().st_mtime_ns == cache
    assert (out / "summary.json").read_text() == before
    assert "hypervolume of accuracy (supernet_val)" in capsys.readouterr().out


def test_run_or_load_refuses_a_finished_run_of_another_config(swept):
    out, _ = swept
    config = sweep.Run("no_hw_loss", "edp", None, 0).config(load_config("quickstart"))
    with pytest.raises(ValueError, match="different config"):
        pareto.run_or_load(config, out / "runs" / "no_hw_loss" / "edp" / "seed0")


@pytest.mark.parametrize("space, expected", [("quickstart", "mb_k3_e3"), ("cifar", "mb_k3_e6")])
def test_fixed_net_default_is_mobilenet_v2_block(space, expected):
    network = get_space(space)
    assert ablations.mobilenet_v2_ops(network) == (expected,) * network.num_layers
    config = ablations.mode_config(load_config("quickstart"), "fixed_net", 4)
    assert config.search.fixed_ops == ("mb_k3_e3",) * 4 and config.seed == 4
    make_setup(config)


def test_ablation_modes_share_the_config_but_the_mode_and_seed():
    base = load_config("quickstart")
    configs = {mode: ablations.mode_config(base, mode, 1) for mode in MODES}
    for mode, config in configs.items():
        assert (config.search.mode, config.seed) == (mode, 1)
        changed = pareto.with_values(config, {"search.mode": "joint", "seed": 0,
                                              "search.fixed_ops": ()})
        assert changed.to_dict() == base.to_dict()
    accelerator = make_setup(configs["fixed_hw"]).fixed_design().accelerator
    assert pareto.accelerator_label(accelerator.to_dict()) == "16x16 ws 64/64/64KiB bw16"


def _copy_sweep_run(swept, destination):
    """The sweep's finished no_hw_loss run, copied to ``destination`` (its config is the same)."""
    out, _ = swept
    shutil.copytree(out / "runs" / "no_hw_loss" / "edp" / "seed0", destination)
    return (destination / "result.json").stat().st_mtime_ns


def test_ablations_table(swept, tmp_path, capsys):
    assert ablations.main(["--modes", "joint,bogus", "--out", str(tmp_path)]) == 2
    stamp = _copy_sweep_run(swept, tmp_path / "runs" / "no_hw_loss" / "seed0")
    assert ablations.main([*TINY, "--modes", "no_hw_loss", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "runs" / "no_hw_loss" / "seed0" / "result.json").stat().st_mtime_ns == stamp
    text = capsys.readouterr().out
    (row,) = json.loads((tmp_path / "ablations.json").read_text())["runs"]
    assert row["method"] == "no_hw_loss" and row["run"] == "no_hw_loss/seed0"
    assert row["ops"] in text and row["accelerator"] in text and f"{row['edp_pj_s']:.4g}" in text
    assert row["err_edp_pj_s"] is not None and row["search_wall_s"] > 0
    with (tmp_path / "ablations.csv").open() as file:
        assert [r["run"] for r in csv.DictReader(file)] == ["no_hw_loss/seed0"]
    assert (tmp_path / "ablations.png").read_bytes()[:4] == b"\x89PNG"


def test_cifar10_refuses_on_cpu_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    assert cosearch.main(["--out", str(out)]) == 2
    text = capsys.readouterr().err
    assert "--force" in text and "9750 search steps" in text and "200 epochs" in text
    assert not out.exists()


def test_cifar10_unprepared_data_names_the_command(tmp_path):
    with pytest.raises(data.DatasetNotPreparedError, match="tfds build"):
        cosearch.main(["--force", f"--config.data.data_dir={tmp_path}", "--out",
                       str(tmp_path / "run")])


def test_cosearch_summarizes_its_run(swept, tmp_path, capsys):
    out = tmp_path / "run"
    stamp = _copy_sweep_run(swept, out)
    args = ["--config", "quickstart", *TINY, "--config.search.mode=no_hw_loss",
            "--config.final_train.enabled=False", "--force", "--out", str(out)]
    assert cosearch.main(args) == 0
    assert (out / "result.json").stat().st_mtime_ns == stamp
    result = json.loads((out / "result.json").read_text())
    with (out / "summary.csv").open() as file:
        (row,) = csv.DictReader(file)
    assert row["ops"] == " ".join(result["network"]["ops"])
    assert float(row["edp_pj_s"]) == result["simulated"]["edp_pj_s"]
    assert json.loads((out / "summary.json").read_text())["row"]["method"] == "no_hw_loss"
    assert all((out / name).read_bytes()[:4] == b"\x89PNG"
               for name in ("curves.png", "op_probs.png", "hw_probs.png"))
    assert "supernet_val" in capsys.readouterr().out


def test_crossbar_tradeoff_workload_matches_the_model_it_runs():
    tradeoff = _script("crossbar_tradeoff")
    import jax
    import jax.numpy as jnp
    variables = tradeoff.ResNetDigits().init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    kernels = {"/".join(str(getattr(k, "key", k)) for k in path): leaf.size for path, leaf in
               jax.tree_util.tree_leaves_with_path(variables["params"]) if path[-1].key == "kernel"}
    network = tradeoff.network()
    # every sim layer holds the weights of one kernel of the Flax model, and no more
    assert sorted(layer.filter_words for layer in network) == sorted(kernels.values())
    # ... and the MACs of the model (conv outputs x window), 8x8 digits, batch 1
    assert network.macs == 8 * 8 * (1 + 16 + 16) * 9 * 16 + 4 * 4 * (16 + 32) * 9 * 32 \
        + 4 * 4 * 16 * 32 + 32 * 10


def test_crossbar_tradeoff_runs_and_hardware_changes_accuracy(tmp_path, capsys):
    tradeoff = _script("crossbar_tradeoff")
    rows = tradeoff.main(["--out", str(tmp_path), "--sizes", "16,128", "--adc", "lossless,4",
                          "--chips", "2", "--steps", "150", "--sigma", "0.0"])
    assert [(r["crossbar_size"], r["adc_bits_used"]) for r in rows] == [
        (16, 6), (128, 9), (16, 4), (128, 4)]
    by = {(r["crossbar_size"], r["adc_bits_used"]): r for r in rows}
    for row in rows:   # EDAP is sim's, of the same network on the same design
        report = simulate_network(tradeoff.network(), tradeoff.designs(
            [row["crossbar_size"]], [int(row["adc"]) if row["adc"] != "lossless" else row["adc"]])[0])
        assert row["edap_pj_s_mm2"] == report.edap_pj_s_mm2
    # without device noise a lossless ADC reads every sum exactly: the 8-bit quantized network;
    # 4 bits over a 128-row crossbar's full scale lose far more than over a 16-row one
    assert by[(16, 6)]["noisy_acc_mean"] > 0.8 and by[(128, 9)]["noisy_acc_mean"] > 0.8
    assert by[(128, 4)]["noisy_acc_mean"] < by[(16, 4)]["noisy_acc_mean"] - 0.1
    assert by[(16, 6)]["noisy_acc_sd"] == 0.0   # sigma 0: every chip is the same
    saved = json.loads((tmp_path / "tradeoff.json").read_text())
    assert saved["designs"] == rows and (tmp_path / "tradeoff.png").stat().st_size > 0
    assert "noisy acc" in capsys.readouterr().out
