"""``dianjax refine --from RUN_DIR``: errors before work, seeding from a search run, outputs, resume.

The run directory is written as a finished ``dianjax search`` writes it (``config.json`` from the
quickstart config, ``result.json`` with the derived pair and the candidates), without searching.
The query loops use the simulator-only objective (minimize log2 EDP), which needs no training.
"""

import json
import math

import numpy as np
import pytest

from dianjax import bench, data, refine
from dianjax.bench import table as bench_table
from dianjax.bench.recipe import get_recipe
from dianjax.bench.table import BenchTable
from dianjax.cli import main as dianjax_main
from dianjax.config import load_config
from dianjax.nas.search_space import get_space
from dianjax.nas.supernet import DerivedNetwork
from dianjax.refine import cli as refine_cli
from dianjax.refine.pair_space import SIMULATOR_METRICS
from sim import Accelerator, simulate_network

AREA_LIMIT_MM2 = 3.0
DERIVED_OPS = ["mb_k3_e3", "mb_k5_e1", "mb_k3_e3", "skip"]
SIM_ONLY = ["--config.objectives.accuracy=0.0", "--config.objectives.log2_edp=-1.0"]
TINY = ["--config.surrogate.hidden_sizes=(8,)", "--config.surrogate.num_members=2",
        "--config.surrogate.num_steps=20", "--config.acquisition.num_starts=2",
        "--config.acquisition.num_steps=2", "--config.acquisition.cg_iterations=3",
        "--config.acquisition.diversity_pool=16", "--config.num_random_seeds=2"]


def _accelerator(**knobs):
    return Accelerator(**{**dict(rows=16, cols=16, dataflow="ws", ifmap_sram_kb=64,
                                 filter_sram_kb=64, ofmap_sram_kb=64,
                                 dram_bandwidth_words_per_cycle=16.0),
                          **knobs}).to_dict()


# (ops, accelerator, why it is left out of the seeds or None): result.json's candidates, in order.
CANDIDATES = [
    (DERIVED_OPS, _accelerator(), "same pair as derived"),
    (DERIVED_OPS, _accelerator(rows=64, cols=64, ifmap_sram_kb=128),
     "accelerator area 7.682 mm2 exceeds the search's cost.max_area_mm2=3"),
    (DERIVED_OPS, _accelerator(dataflow="os"), None),
    (DERIVED_OPS, _accelerator(rows=12), "accelerator.rows must be one of [8, 16, 32, 64]"),
    (["mb_k3_e1", "mb_k3_e1", "skip", "mb_k3_e1"], _accelerator(), "not an available op"),
    (["mb_k5_e3"] * 4, _accelerator(cols=8, dram_bandwidth_words_per_cycle=4.0), None),
]


def _write_run(run_dir, candidates=CANDIDATES, with_result=True):
    config = load_config("quickstart", [f"cost.max_area_mm2={AREA_LIMIT_MM2}"])
    run_dir.mkdir()
    (run_dir / "config.json").write_text(config.to_json(indent=1))
    if with_result:
        result = {"network": {"ops": DERIVED_OPS},
                  "hardware": {"accelerator": _accelerator(), "fold_orders": {}},
                  "candidates": [{"log_prob": -float(rank), "ops": ops, "accelerator": acc}
                                 for rank, (ops, acc, _) in enumerate(candidates)]}
        (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


@pytest.fixture
def run_dir(tmp_path):
    return _write_run(tmp_path / "run")


def _queries(workdir):
    return refine.read_log(workdir / refine.LOG_NAME)[1]


def test_seeds_come_from_the_search_and_outputs_are_written(run_dir, capsys):
    assert dianjax_main(["refine", "--from", str(run_dir), "--budget", "2", *SIM_ONLY, *TINY]) == 0
    out = capsys.readouterr().out
    workdir = run_dir / "refine"
    queries = _queries(workdir)
    kept = [c for c in CANDIDATES if c[2] is None]
    assert len(queries) == 1 + len(kept) + 2 + 2
    assert [q["move"] for q in queries[:1 + len(kept) + 2]] == ["seed"] * (1 + len(kept) + 2)
    for query, (ops, accelerator) in zip(queries, [(DERIVED_OPS, _accelerator())]
                                         + [(ops, acc) for ops, acc, _ in kept]):
        values = query["values"]
        assert [values[f"layer{k}.op"] for k in range(4)] == ops
        assert {knob: values[knob] for knob in accelerator if knob in values} == {
            knob: value for knob, value in accelerator.items() if knob in values}
    for _, _, why in CANDIDATES:
        if why is not None:
            assert why in out
    assert not (workdir / refine_cli.TRAININGS_DIR).exists()

    network = DerivedNetwork.from_op_names(get_space("quickstart"), DERIVED_OPS).network(batch=1)
    report = simulate_network(network, Accelerator.from_dict(_accelerator()))
    assert set(queries[0]["metrics"]) == set(SIMULATOR_METRICS)
    assert queries[0]["metrics"]["latency_s"] == report.latency_s
    assert queries[0]["utility"] == pytest.approx(-math.log2(report.energy_pj * report.latency_s))

    best = json.loads((workdir / "best.json").read_text())
    assert best["utility"] == max(q["utility"] for q in queries)
    pareto = json.loads((workdir / "pareto.json").read_text())
    assert len(pareto) == 1 and pareto[0]["design"] == best["design"]  # one objective: the best
    assert (workdir / "refine.png").stat().st_size > 0
    assert "best pair" in out and "search's pair (query 0)" in out and f"{len(queries)} made by this run" in out


def test_pair_space_is_the_search_space(run_dir):
    run = refine_cli.load_search_run(run_dir)
    pairs = refine_cli.pair_space_of(run)
    assert pairs.search_space == run.setup.space
    assert pairs.hardware_choices == run.setup.hardware.choices()
    assert pairs.base_accelerator == run.setup.hardware.base_accelerator()
    assert pairs.max_area_mm2 == AREA_LIMIT_MM2
    config = json.loads((run_dir / "config.json").read_text())
    config["cost"]["max_area_mm2"] = 0.0
    (run_dir / "config.json").write_text(json.dumps(config))
    assert refine_cli.pair_space_of(refine_cli.load_search_run(run_dir)).max_area_mm2 is None


def test_resume_after_interruption_does_not_requery(run_dir, tmp_path, monkeypatch, capsys):
    args = ["refine", "--from", str(run_dir), "--budget", "2", *SIM_ONLY, *TINY]
    assert dianjax_main([*args, "--workdir", str(tmp_path / "whole")]) == 0
    calls = []
    real_oracle = refine_cli.simulator_oracle

    def counting_oracle(pair_space, batch, crash_after=None):
        oracle = real_oracle(pair_space, batch)

        def counted(design):
            if crash_after is not None and len(calls) >= crash_after:
                raise RuntimeError("interrupted")
            calls.append(design)
            return oracle(design)
        return counted

    monkeypatch.setattr(refine_cli, "simulator_oracle",
                        lambda pair_space, batch: counting_oracle(pair_space, batch, 5))
    with pytest.raises(RuntimeError, match="interrupted"):  # in the first proposal round
        dianjax_main([*args, "--workdir", str(tmp_path / "cut")])
    assert len(_queries(tmp_path / "cut")) == 5  # the seeds
    monkeypatch.setattr(refine_cli, "simulator_oracle", counting_oracle)
    calls.clear()
    capsys.readouterr()
    assert dianjax_main([*args, "--workdir", str(tmp_path / "cut")]) == 0
    assert len(calls) == 2 and "2 made by this run" in capsys.readouterr().out
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert (cut / refine.LOG_NAME).read_text() == (whole / refine.LOG_NAME).read_text()
    assert (cut / "best.json").read_text() == (whole / "best.json").read_text()

    calls.clear()  # a larger budget continues the finished run
    assert dianjax_main([*args[:3], "--budget", "3", *args[5:], "--workdir", str(cut)]) == 0
    assert len(calls) == 1 and len(_queries(cut)) == len(_queries(whole)) + 1


def test_a_workdir_of_other_settings_is_refused(run_dir):
    config = load_config("refine")
    refine_cli.prepare(run_dir, config)
    config.budget = 30  # may change
    refine_cli.prepare(run_dir, config)
    config.train.num_epochs = 2
    with pytest.raises(ValueError,
                       match=r"different config \(changed: \['config\.train\.num_epochs'\]\)"):
        refine_cli.prepare(run_dir, config)
    other = _write_run(run_dir.parent / "other")
    with pytest.raises(ValueError, match=r"changed: \['from'\]"):
        refine_cli.prepare(other, load_config("refine"), run_dir / "refine")


def test_accuracy_is_validated_on_the_search_split_and_the_best_is_tested_once(run_dir):
    config = load_config("refine", ["train.num_epochs=1", "accuracy_source=train"])
    refinement = refine_cli.prepare(run_dir, config)
    derived = refinement.seeds.designs[0]
    metrics = refinement.oracle(derived)
    assert set(metrics) == {"accuracy", *SIMULATOR_METRICS} and 0.1 < metrics["accuracy"] <= 1
    (training,) = (refinement.workdir / refine_cli.TRAININGS_DIR).iterdir()
    trained = json.loads((training / "train_result.json").read_text())
    assert (trained["dataset"], trained["ops"], trained["val_accuracy"]) == (
        "digits", DERIVED_OPS, metrics["accuracy"])
    assert "test_accuracy" not in trained  # selection never sees the test split
    search = refinement.run.setup.config.data  # the search's own train/val partition
    search_train = data.load("digits", "search_train", val_fraction=search.val_fraction,
                             split_seed=search.split_seed)
    assert trained["steps"] == search_train.steps_per_epoch(64)

    best = refine.Record(index=0, design=derived, metrics=metrics, utility=0.0,
                         move=refine.SEED_MOVE, score=None)
    tested = refine_cli.confirm_on_test(refinement, config, best)
    assert tested == json.loads((refinement.workdir / refine_cli.BEST_TEST_FILE).read_text())
    (final,) = (refinement.workdir / refine_cli.BEST_TEST_DIR).iterdir()
    final = json.loads((final / "train_result.json").read_text())
    assert final["eval_split"] == "test" and final["ops"] == DERIVED_OPS
    assert tested["test_accuracy"] == final["test_accuracy"] and tested["val_accuracy"] == (
        metrics["accuracy"])
    assert final["steps"] == data.load("digits", "train").steps_per_epoch(64)


@pytest.mark.parametrize("setup, argv, message", [
    ("none", [], "no such directory"),
    ("empty", [], "it has no config.json"),
    ("no_result", [], "run `dianjax search` first, or it was interrupted: rerun it with the same "
                      "--workdir to finish"),
    ("bad_result", [], "is not a dianjax search result"),
    ("run", ["--config.objectives.speed=1.0"], "unknown config key 'objectives.speed'"),
    ("run", ["--config.budgett=3"], "unknown config key 'budgett'"),
    ("run", ["--budget", "0"], "--budget must be a positive integer, got 0"),
    ("run", ["--config.budget=0"], "config.budget must be a positive integer, got 0"),
    ("run", ["--config.objectives.accuracy=0.0", "--config.objectives.log2_edp=0.0"],
     "config.objectives must give a non-zero weight"),
    ("run", ["--config.surrogate.num_members=0"],
     "config.surrogate: SurrogateConfig.num_members must be a positive integer, got 0"),
    ("run", ["--config.acquisition.method=adam"], "config.acquisition: AcquisitionConfig.method"),
    ("run", ["--config.train.label_smoothing=1.5"], "config.train.label_smoothing must be"),
    ("run", ["--config.accuracy_source=sim"], "config.accuracy_source must be one of"),
])
def test_errors_before_any_work(tmp_path, capsys, setup, argv, message):
    run_dir = tmp_path / "run"
    if setup == "empty":
        run_dir.mkdir()
    elif setup == "no_result":
        _write_run(run_dir, with_result=False)
    elif setup == "bad_result":
        _write_run(run_dir)
        (run_dir / "result.json").write_text(json.dumps({"network": {"ops": DERIVED_OPS}}))
    elif setup == "run":
        _write_run(run_dir)
    assert refine_cli.main(["--from", str(run_dir), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (run_dir / "refine").exists()


def _table_with(rows):
    """A benchmark table of the quickstart space holding ``rows``: (ops, val per seed, test per
    seed)."""
    space = get_space("quickstart")
    return BenchTable(
        name="fake_digits", recipe=get_recipe("quickstart_digits"), op_names=space.op_names,
        networks=np.array([[space.op_index(op) for op in ops] for ops, _, _ in rows]),
        num_params=np.ones(len(rows), int), macs=np.ones(len(rows), int),
        val_accuracy=np.array([val for _, val, _ in rows]),
        test_accuracy=np.array([test for _, _, test in rows]),
        wall_s=np.ones(len(rows)), machine="test")


def test_accuracy_comes_from_the_bundled_table_without_training(run_dir, monkeypatch):
    """Where a table is bundled for the search's dataset x space, validation accuracy is the table's
    mean over seeds (full training), and the best pair's test accuracy its test mean."""
    table = _table_with([(["mb_k3_e1"] * 4, [0.5, 0.5], [0.4, 0.4]),
                         (DERIVED_OPS, [0.90, 0.92], [0.95, 0.97])])
    monkeypatch.setattr(bench_table, "table_for", lambda dataset, space: (
        "fake_digits" if (dataset, space) == ("digits", "quickstart") else None))
    monkeypatch.setattr(bench, "load", lambda name: table)
    config = load_config("refine")
    refinement = refine_cli.prepare(run_dir, config)
    derived = refinement.seeds.designs[0]
    metrics = refinement.oracle(derived)
    assert metrics["accuracy"] == pytest.approx(0.91)
    best = refine.Record(index=0, design=derived, metrics=metrics, utility=0.0,
                         move=refine.SEED_MOVE, score=None)
    tested = refine_cli.confirm_on_test(refinement, config, best)
    assert tested["test_accuracy"] == pytest.approx(0.96) and "fake_digits" in tested["source"]
    assert (tested["num_seeds"], tested["num_epochs"]) == (2, table.recipe.num_epochs)
    assert not (refinement.workdir / refine_cli.TRAININGS_DIR).exists()
    assert not (refinement.workdir / refine_cli.BEST_TEST_DIR).exists()


def test_a_table_source_without_a_table_is_refused(run_dir, monkeypatch):
    monkeypatch.setattr(bench_table, "table_for", lambda dataset, space: None)
    with pytest.raises(ValueError, match=r"config.accuracy_source='table': no benchmark table is "
                                         r"bundled for dataset 'digits' x space 'quickstart'"):
        refine_cli.prepare(run_dir, load_config("refine", ["accuracy_source=table"]))
