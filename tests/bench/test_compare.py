"""experiments/compare_strategies.py on a synthetic problem: CSV rows, monotone scores, plots."""

import csv
import importlib.util
from pathlib import Path

import numpy as np

from dianjax.bench.oracle import Problem

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "compare_strategies.py"


def _compare_module():
    spec = importlib.util.spec_from_file_location("compare_strategies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _problem():
    rng = np.random.default_rng(0)
    nc, ac = (3, 3, 2), (4, 3)
    n, a = int(np.prod(nc)), int(np.prod(ac))
    return Problem(nc, ac, rng.uniform(0.8, 0.99, n),
                   np.outer(rng.uniform(1, 10, n), rng.uniform(1, 5, a)), rng.uniform(5, 10, n),
                   0.01, "edp_pj_s")


def test_compare_writes_one_row_per_method_seed_and_budget(tmp_path, capsys):
    compare = _compare_module()
    problem = _problem()
    methods = ["random", "exhaustive", "rl_combined"]
    rows = compare.compare(problem, methods, 2, tmp_path, "synthetic")
    with open(tmp_path / "compare_synthetic.csv") as source:
        written = list(csv.DictReader(source))
    assert len(written) == len(rows) == len(methods) * 2 * len(compare.BUDGET_FRACTIONS)
    assert {"method", "seed", "budget_s", "hv_ratio", "igd"} <= set(written[0])
    for method in methods:
        for seed in (0, 1):
            hv = [float(r["hv_ratio"]) for r in written
                  if r["method"] == method and r["seed"] == str(seed)]
            assert all(0 <= h <= 1 + 1e-9 for h in hv) and hv == sorted(hv)  # never falls
    for suffix in ("_reach.csv", "_hv.png", "_front.png"):
        assert (tmp_path / f"compare_synthetic{suffix}").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "| exhaustive |" in printed and "budget to 90 %" in printed


def test_finished_runs_are_read_back_not_rerun(tmp_path):
    compare = _compare_module()
    problem = _problem()
    calls = []

    def counted(oracle, rng, seed):
        calls.append(seed)
        compare.oracle_strategies()["random"](oracle, rng, seed)

    strategies = {"random": counted}
    first = compare.compare(problem, ["random"], 2, tmp_path / "a", "synthetic",
                            strategies=strategies, parts=tmp_path / "parts")
    assert calls == [0, 1] and len(list((tmp_path / "parts").glob("random.seed*.json"))) == 2
    (tmp_path / "parts" / "random.seed1.json").unlink()  # as if interrupted during seed 1
    second = compare.compare(problem, ["random"], 2, tmp_path / "b", "synthetic",
                             strategies=strategies, parts=tmp_path / "parts")
    assert calls == [0, 1, 1]  # seed 0 read back, seed 1 rerun
    assert second == first  # same seeds, same rows (no clock: deterministic charges)
    only_one = compare.compare(problem, ["random"], [1], tmp_path / "c", "synthetic",
                               strategies=strategies, parts=tmp_path / "parts")
    assert calls == [0, 1, 1] and only_one == [r for r in first if r["seed"] == 1]
