"""Result collection, common reference, hypervolume tables and plots of dianjax.analysis.pareto."""

import csv
import json

import numpy as np
import pytest

from dianjax.analysis import pareto
from dianjax.analysis.pareto import Reference
from dianjax.config import load_config


@pytest.mark.parametrize("call, message", [
    (lambda: pareto.common_reference([]), "at least one cost"),
    (lambda: pareto.common_reference([1.0], margin=0.5), "margin"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_common_reference_is_worst_cost_with_margin():
    assert pareto.common_reference([3.0, 1.0, 2.0]) == Reference(0.0, pytest.approx(3.3))


def fake_result(mode="joint", objective="edp", lam=1.0, seed=0, val=0.8, edp=2e-9,
                derived_test=None):
    """A result.json of the layout dianjax.search.result writes, with chosen figures."""
    accuracy = {"supernet_val": val, "supernet_test": val - 0.05}
    if derived_test is not None:
        accuracy["derived_test"] = derived_test
    return {"mode": mode, "space": "quickstart", "dataset": "digits", "seed": seed,
            "objective": objective, "lam": lam,
            "network": {"ops": ["mb_k3_e1", "skip"], "op_indices": [0, 4], "macs": 1000},
            "hardware": {"accelerator": {"rows": 16, "cols": 8, "dataflow": "ws",
                                         "ifmap_sram_kb": 64, "filter_sram_kb": 32.0,
                                         "ofmap_sram_kb": 16,
                                         "dram_bandwidth_words_per_cycle": 8.0},
                         "fold_orders": {}},
            "accuracy": accuracy,
            "simulated": {"latency_s": 1e-5, "energy_pj": edp / 1e-5, "area_mm2": 1.5,
                          "edp_pj_s": edp, "edap_pj_s_mm2": edp * 1.5, "total_cycles": 5000},
            "predicted": {"edp_pj_s": edp * 1.01},
            "relative_error": {"latency_s": 0.0, "energy_pj": 0.01, "area_mm2": 0.0,
                               "edp_pj_s": 0.01},
            "search_steps": 20, "search_wall_s": 12.5}


def _write(run_dir, result):
    run_dir.mkdir(parents=True)
    (run_dir / pareto.RESULT_FILE).write_text(json.dumps(result))


def test_collect_results_flattens_every_result_below_root(tmp_path):
    _write(tmp_path / "joint" / "edp" / "lam1", fake_result())
    _write(tmp_path / "no_hw_loss" / "edp", fake_result(mode="no_hw_loss", val=0.9, edp=5e-9,
                                                        derived_test=0.93))
    (tmp_path / "unfinished").mkdir()  # a run without result.json is not a row
    rows = pareto.collect_results(tmp_path)
    assert [row["run"] for row in rows] == ["joint/edp/lam1", "no_hw_loss/edp"]
    assert all(tuple(row) == pareto.ROW_COLUMNS for row in rows)
    joint, nas = rows
    assert joint["method"] == "joint" and joint["lam"] == 1.0 and nas["lam"] is None
    assert joint["ops"] == "mb_k3_e1 skip"
    assert joint["accelerator"] == "16x8 ws 64/32/16KiB bw8"
    assert joint["supernet_val"] == 0.8 and joint["derived_test"] is None
    assert nas["derived_test"] == 0.93 and nas["edp_pj_s"] == 5e-9 and nas["err_edp_pj_s"] == 0.01


def test_collect_results_names_a_broken_file(tmp_path):
    result = fake_result()
    del result["simulated"]
    _write(tmp_path / "broken", result)
    with pytest.raises(ValueError, match=r"broken.*result\.json.*simulated"):
        pareto.collect_results(tmp_path)


def _rows(results):
    return [pareto.result_row(result, f"run{i}") for i, result in enumerate(results)]


def test_hypervolume_table_ranks_a_dominating_method_higher():
    rows = _rows([fake_result("joint", val=0.9, edp=1e-9), fake_result("joint", val=0.7, edp=5e-10),
                  fake_result("no_hw_loss", val=0.9, edp=4e-9),
                  fake_result("fixed_hw", val=0.6, edp=2e-9, derived_test=0.5)])
    table, reference = pareto.hypervolume_table(rows, "supernet_val")
    assert reference == Reference(0.0, pytest.approx(4.4e-9))
    by_method = {entry["method"]: entry for entry in table}
    assert list(by_method) == ["joint", "no_hw_loss", "fixed_hw"]
    assert by_method["joint"]["points"] == 2 and by_method["joint"]["front"] == 2
    expected = (0.7 * (4.4e-9 - 5e-10) + 0.2 * (4.4e-9 - 1e-9)) / 4.4e-9
    assert by_method["joint"]["hypervolume"] == pytest.approx(expected)
    assert by_method["joint"]["hypervolume"] > by_method["no_hw_loss"]["hypervolume"]
    assert by_method["joint"]["hypervolume_log"] > by_method["no_hw_loss"]["hypervolume_log"] > 0
    derived, _ = pareto.hypervolume_table(rows, "derived_test")
    assert [(e["method"], e["points"], e["unmeasured"]) for e in derived] == [
        ("joint", 0, 2), ("no_hw_loss", 0, 1), ("fixed_hw", 1, 0)]
    assert derived[0]["hypervolume"] == 0.0
    with pytest.raises(ValueError, match="accuracy_key must be one of"):
        pareto.hypervolume_table(rows, "train_accuracy")


def test_mean_rows_and_tables(tmp_path):
    rows = _rows([fake_result(val=0.8), fake_result(val=0.6), fake_result("fixed_net", val=0.5)])
    means = pareto.mean_rows(rows, "method", ["supernet_val", "derived_test"])
    assert means[0]["runs"] == 2 and means[0]["supernet_val"] == pytest.approx(0.7)
    assert means[0]["supernet_val_std"] == pytest.approx(0.1) and means[0]["derived_test"] is None
    text = pareto.format_table(rows, ["method", "lam", "supernet_val", "derived_test"])
    lines = text.splitlines()
    assert lines[0].split() == ["method", "lam", "supernet_val", "derived_test"]
    assert lines[2].split() == ["joint", "1", "0.8", "-"]
    assert lines[4].split() == ["fixed_net", "-", "0.5", "-"]
    path = tmp_path / "rows.csv"
    pareto.write_csv(rows, path, pareto.ROW_COLUMNS)
    with path.open() as file:
        read = list(csv.DictReader(file))
    assert [float(r["edp_pj_s"]) for r in read] == [row["edp_pj_s"] for row in rows]
    assert read[2]["lam"] == "" and read[0]["ops"] == "mb_k3_e1 skip"


def test_plot_fronts_writes_a_png(tmp_path):
    rows = _rows([fake_result("joint", val=0.9, edp=1e-9), fake_result("random", val=0.5)])
    path = tmp_path / "front.png"
    pareto.plot_fronts(rows, path, "supernet_val")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5000
    with pytest.raises(ValueError, match="derived_test"):
        pareto.plot_fronts(rows, path, "derived_test")


def test_with_values_copies_and_type_checks():
    config = load_config("quickstart")
    changed = pareto.with_values(config, {"search.mode": "fixed_hw", "cost.lam": 3.0, "seed": 2})
    assert (changed.search.mode, changed.cost.lam, changed.seed) == ("fixed_hw", 3.0, 2)
    assert (config.search.mode, config.cost.lam, config.seed) == ("joint", 1.0, 0)
    with pytest.raises(ValueError, match="search.bogus"):
        pareto.with_values(config, {"search.bogus": 1})
    with pytest.raises(ValueError, match="cost.lam"):
        pareto.with_values(config, {"cost.lam": "high"})


def _priced_table(setup, front):
    """A benchmark table of three quickstart networks whose stored EDP front is ``front``:
    [(ops, val_mean, edp)]."""
    from dianjax.bench.recipe import get_recipe
    from dianjax.bench.table import BenchTable

    space = setup.space
    networks = np.array([[space.op_index(op) for op in ops] for ops, _, _ in front])
    val = np.array([[v, v] for _, v, _ in front])
    table = BenchTable(name="fake", recipe=get_recipe("quickstart_digits"),
                       op_names=space.op_names, networks=networks,
                       num_params=np.ones(len(front), int), macs=np.ones(len(front), int),
                       val_accuracy=val, test_accuracy=val, wall_s=np.ones(len(front)),
                       machine="test")
    return table.with_hardware({"hardware_space": setup.hardware.to_dict(), "fronts": {
        "edp_pj_s": [{"val_mean": v, "edp_pj_s": e} for _, v, e in front]}})


def test_fixed_hypervolume_ratio_against_a_benchmark_front(monkeypatch):
    """Rows are scored by the table's accuracy of their network; the true front itself has ratio
    1, a dominated subset less, and a method's ratio does not move when another is added."""
    from dianjax.bench import table as bench_table
    from dianjax.search.config import make_setup

    setup = make_setup(load_config("quickstart"))
    front = [(["mb_k3_e1"] * 4, 0.90, 1e-9), (["mb_k5_e3"] * 4, 0.98, 1e-8),
             (["mb_k3_e3", "skip", "mb_k5_e1", "skip"], 0.95, 3e-9)]
    table = _priced_table(setup, front)
    monkeypatch.setattr(bench_table, "table_for", lambda dataset, space: "fake")
    monkeypatch.setattr("dianjax.bench.load", lambda name: table)
    got, why = pareto.benchmark_front(setup)
    assert got is not None and why == "table 'fake'"
    rows = [{"method": "all", "ops": " ".join(ops), "edp_pj_s": edp} for ops, _, edp in front]
    rows += [{"method": "two", "ops": " ".join(front[0][0]), "edp_pj_s": 1e-9},
             {"method": "two", "ops": " ".join(front[1][0]), "edp_pj_s": 2e-8},
             {"method": "unknown", "ops": "skip skip skip skip", "edp_pj_s": 1e-9}]
    rows = pareto.add_table_accuracy(rows, table)
    assert [r[pareto.TABLE_ACCURACY] for r in rows] == [0.90, 0.98, 0.95, 0.90, 0.98, None]
    fixed = {r["method"]: r for r in pareto.fixed_hypervolume_table(rows, got)}
    assert fixed["all"]["hv_ratio"] == pytest.approx(1.0)
    # normalized (both minimized): accuracy (0.98 - a) / 0.08, log EDP (log10 e + 9) / 1; the
    # front is (0, 1), (0.375, log10 3), (1, 0) and its area up to the reference (1.1, 1.1) the
    # union of three boxes; "two" holds (1, 0) and (0, log10 20 = 1.301: beyond the reference)
    true_area = 1.1 * 0.1 + (1.1 - 0.375) * (1.0 - np.log10(3)) + 0.1 * np.log10(3)
    assert fixed["two"]["hv_ratio"] == pytest.approx(0.1 * 1.1 / true_area)
    assert fixed["unknown"] == {"method": "unknown", "points": 0, "hv_ratio": 0.0}
    alone = pareto.fixed_hypervolume_table([r for r in rows if r["method"] == "two"], got)
    assert alone[0]["hv_ratio"] == fixed["two"]["hv_ratio"]


def test_no_benchmark_front_says_why(monkeypatch):
    from dianjax.bench import table as bench_table
    from dianjax.search.config import make_setup

    monkeypatch.setattr(bench_table, "table_for", lambda dataset, space: None)
    assert pareto.benchmark_front(make_setup(load_config("quickstart"))) == (
        None, "no benchmark table for digits x quickstart")
