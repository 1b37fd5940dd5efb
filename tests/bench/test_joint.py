"""The joint search as a benchmark strategy: runs recorded at their wall time, mapped onto the
problem's indices, replayed in lam order."""

import json

import numpy as np
import pytest

from dianjax.bench.networks import enumerate_networks, layer_options
from dianjax.bench.oracle import Oracle, Problem
from dianjax.bench.strategies.joint import (
    RUN_FILE,
    SearchRun,
    front_pairs,
    joint,
    load_runs,
    pair_of,
    run_searches,
    setting,
)
from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas.search_space import get_space

SPACE = get_space("quickstart")
HARDWARE = HardwareSpace()
LAYER_OPS = [[SPACE.op_names[k] for k in options] for options in layer_options(SPACE)]


def _problem():
    n = len(enumerate_networks(SPACE))
    a = HARDWARE.num_accelerators
    rng = np.random.default_rng(0)
    return Problem(tuple(len(o) for o in LAYER_OPS),
                   tuple(len(c) for _, c in HARDWARE.choices()), rng.uniform(0.9, 1.0, n),
                   rng.uniform(1.0, 2.0, (n, a)), np.full(n, 10.0), 0.002)


def test_record_charges_the_wall_time_and_counts_the_pair_as_bought():
    problem = _problem()
    oracle = Oracle(problem, 1e9)
    oracle.record(3, 7, 100.0)
    assert oracle.spent_s == 100.0 and len(oracle.history) == 1
    oracle.evaluate(3, 7)              # already found: free
    oracle.evaluate(3, 8)              # network known: only the price
    assert oracle.spent_s == pytest.approx(100.0 + problem.price_s)
    with pytest.raises(ValueError, match="charge_s"):
        oracle.record(0, 0, -1.0)


def test_a_run_maps_onto_the_networks_and_accelerators_of_the_problem():
    problem = _problem()
    networks = enumerate_networks(SPACE)
    accelerators = list(HARDWARE.accelerators())
    for n, a in [(0, 0), (137, 4095), (499, 12287)]:
        accelerator = accelerators[a]
        run = SearchRun("edp", 1.0, 0, tuple(SPACE.op_names[k] for k in networks[n]),
                        {knob: getattr(accelerator, knob) for knob in HARDWARE.knobs}, 60.0)
        assert pair_of(run, problem, LAYER_OPS, HARDWARE) == (n, a)
    bad = run._replace(accelerator={**run.accelerator, "rows": 7})
    with pytest.raises(ValueError, match="rows=7 is not in the benchmark's hardware space"):
        pair_of(bad, problem, LAYER_OPS, HARDWARE)


def test_joint_replays_its_pairs_until_the_budget_is_spent():
    problem = _problem()
    oracle = Oracle(problem, budget_s=150.0)
    joint(oracle, np.random.default_rng(0), pairs=[(1, 2, 100.0), (3, 4, 100.0), (5, 6, 100.0)])
    assert [(q.network, q.accelerator, q.spent_s) for q in oracle.history] == [
        (1, 2, 100.0), (3, 4, 200.0)]


@pytest.mark.slow
def test_run_searches_runs_once_and_reads_back(tmp_path):
    tiny = ["search.warmup_steps=0", "search.steps=4", "data.batch_size=32",
            "log_every_steps=2", "checkpoint_every_steps=4"]
    (run,) = run_searches(tmp_path, ["edp"], [1.0], [0], overrides=tiny, log=lambda _: None)
    record = tmp_path / "edp" / "lam1" / "seed0" / RUN_FILE
    assert json.loads(record.read_text())["wall_s"] == run.wall_s > 0
    result = json.loads((record.parent / "result.json").read_text())
    assert run.ops == tuple(result["network"]["ops"])
    assert pair_of(run, _problem(), LAYER_OPS, HARDWARE)  # a pair of the benchmark's spaces
    assert run.front and front_pairs(run, _problem(), LAYER_OPS, HARDWARE)  # its one-shot front
    assert run_searches(tmp_path, ["edp"], [1.0], [0], overrides=tiny) == [run]  # read back


def _write_run(root, folder, seed, ops, accelerator, wall_s, lam, target=None, front=None):
    """A finished run as run_searches leaves it; ``front``: (ops, accelerator) of its front."""
    run_dir = root / "edp" / folder / f"seed{seed}"
    run_dir.mkdir(parents=True)
    result = {"lam": lam, "seed": seed, "network": {"ops": list(ops)},
              "hardware": {"accelerator": accelerator},
              "target": None if target is None else {"targets": {"edp_pj_s": target}}}
    if front is not None:
        result["front"] = {"pairs": [{"ops": list(pair_ops), "hardware": {"accelerator": acc}}
                                     for pair_ops, acc in front]}
    (run_dir / "result.json").write_text(json.dumps(result))
    (run_dir / RUN_FILE).write_text(json.dumps({"wall_s": wall_s, "resumed": False}))


def test_finished_runs_read_back_with_their_settings(tmp_path):
    networks = enumerate_networks(SPACE)
    accelerators = list(HARDWARE.accelerators())
    pairs = [(0, 0), (137, 4095), (499, 12287), (250, 100)]
    settings = [("lam0.1", 0.1, None), ("lam3", 3.0, None), ("target16", 0.0, 16.0),
                ("target4", 0.0, 4.0)]
    for (n, a), (folder, lam, target) in zip(pairs, settings):
        accelerator = {knob: getattr(accelerators[a], knob) for knob in HARDWARE.knobs}
        _write_run(tmp_path, folder, 1, [SPACE.op_names[k] for k in networks[n]], accelerator,
                   50.0 + n, lam, target)
    runs = load_runs(tmp_path, "edp")
    assert [setting(run) for run in runs] == ["lam0.1", "lam3", "target4", "target16"]
    assert [run.wall_s for run in runs] == [50.0, 187.0, 300.0, 549.0]
    problem = _problem()
    assert [pair_of(run, problem, LAYER_OPS, HARDWARE) for run in runs] == [
        (0, 0), (137, 4095), (250, 100), (499, 12287)]
    assert load_runs(tmp_path, "latency") == []


def test_front_gap_script_scores_runs_and_sweeps(tmp_path):
    from dianjax.bench.quality import hypervolume, true_front

    script = _script("joint_front_gap")
    problem = _problem()
    front = true_front(problem)
    networks = enumerate_networks(SPACE)
    accelerators = list(HARDWARE.accelerators())
    best = int(front.networks[0])        # a true front pair: no gap
    pairs = [(best, int(front.accelerators[0])), (best, 5), (3, 7)]
    settings = [("lam1", 1.0, None), ("target8", 0.0, 8.0), ("target2", 0.0, 2.0)]
    for (n, a), (folder, lam, target) in zip(pairs, settings):
        accelerator = {knob: getattr(accelerators[a], knob) for knob in HARDWARE.knobs}
        _write_run(tmp_path, folder, 0, [SPACE.op_names[k] for k in networks[n]], accelerator,
                   10.0, lam, target)
    rows = script.gap_rows(load_runs(tmp_path, "edp"), problem, SPACE, HARDWARE, front)
    assert rows[0]["within"] and rows[0]["accuracy_gain_points"] == 0
    assert rows[0]["cost_ratio"] == 1.0
    off_front = [r for r in rows if (r["network"], r["cost"]) != (best, front.cost[0])]
    for row in off_front:   # a pair off the front: gained accuracy or a cheaper pair exists
        assert row["accuracy_gain_points"] > 0 or row["cost_ratio"] < 1
    sweeps = script.sweep_hypervolumes(rows, problem, front)
    (seed, ratio, wall), = sweeps["lam"]
    assert seed == 0 and wall == 10.0
    assert ratio == hypervolume(problem.accuracy[[best]], [front.cost[0]], front.normalizer) \
        / front.hypervolume
    (_, target_ratio, target_wall), = sweeps["target"]
    assert target_wall == 20.0 and 0 <= target_ratio <= 1


def test_a_one_shot_front_is_replayed_at_its_runs_wall_time_once(tmp_path):
    from dianjax.bench.quality import true_front

    problem = _problem()
    truth = true_front(problem)
    networks = enumerate_networks(SPACE)
    accelerators = list(HARDWARE.accelerators())

    def named(n, a):
        return ([SPACE.op_names[k] for k in networks[n]],
                {knob: getattr(accelerators[a], knob) for knob in HARDWARE.knobs})

    front = [named(int(n), int(a)) for n, a in zip(truth.networks, truth.accelerators)]
    _write_run(tmp_path, "lam1", 0, *named(3, 7), 42.0, 1.0, front=front)
    _write_run(tmp_path, "lam1", 1, *named(3, 7), 40.0, 1.0)          # a run without a front
    with_front, without = load_runs(tmp_path, "edp")
    assert len(with_front.front) == len(truth.networks) and without.front == ()
    assert front_pairs(with_front, problem, LAYER_OPS, HARDWARE) == list(
        zip(truth.networks.tolist(), truth.accelerators.tolist()))
    script = _script("compare_strategies")
    oracle = Oracle(problem, budget_s=1e6)
    script.joint_strategy([with_front], problem, SPACE, HARDWARE, front=True)(
        oracle, np.random.default_rng(0), 0)
    assert [q.spent_s for q in oracle.history] == [42.0] * len(truth.networks)
    assert [(q.network, q.accelerator) for q in oracle.history] == list(
        zip(truth.networks.tolist(), truth.accelerators.tolist()))
    with pytest.raises(ValueError, match="has no one-shot front"):
        script.joint_strategy([without], problem, SPACE, HARDWARE, front=True)
    gap = _script("joint_front_gap")
    (row,) = gap.front_rows([with_front, without], problem, SPACE, HARDWARE, truth)
    assert row["hv_ratio"] == pytest.approx(1.0) and row["within"] == row["pairs"]
    assert row["wall_s"] == 42.0
    assert row["train_s"] == pytest.approx(problem.train_s[np.unique(truth.networks)].sum())


def _script(name):
    """The experiments/ script ``name`` as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_one_seed_fronts_are_all_within_without_noise_and_judged_against_the_other_seeds():
    from dianjax.bench.quality import true_front

    gap = _script("joint_front_gap")
    problem = _problem()
    exact = np.stack([problem.accuracy] * 3, axis=1)          # seeds that agree: the true front
    rows = gap.one_seed_fronts(exact, problem)
    assert [r["pairs"] for r in rows] == [len(true_front(problem).networks)] * 3
    assert all(r["within"] == r["pairs"] for r in rows)
    # seed 0 alone rates a network best that the other seeds (the truth) rate worst: its front
    # is that network and the true front's cheaper pairs, all within but that one
    cheapest = problem.cost.min(axis=1)
    truth = true_front(problem)
    network = int(np.argsort(cheapest)[len(cheapest) // 2])
    below = int(np.sum(cheapest[truth.networks] < cheapest[network]))
    assert network not in truth.networks and below > 0
    skewed = exact.copy()
    skewed[network] = (1.5, 0.0, 0.0)
    first = gap.one_seed_fronts(skewed, problem)[0]
    assert first == {"seed": 0, "pairs": below + 1, "within": below}


def test_one_seed_picks_take_each_seeds_best_network_within_the_budget():
    gap = _script("joint_front_gap")
    problem = _problem()
    cheapest = problem.cost.min(axis=1)
    exact = np.stack([problem.accuracy] * 3, axis=1)
    budgets = [float(np.quantile(cheapest, q)) for q in (0.1, 0.5, 1.0)]
    assert gap.one_seed_picks(exact, problem, budgets) == (9, 9)   # agreeing seeds: on the front
    # seed 0 rates a mid-cost network best, the others worst: seed 0 picks it at every budget that
    # affords it (its truth, the others' mean, is 0: not within) and a true-front pair below;
    # seeds 1 and 2 never pick it, and their truth (with seed 0's 1.5) still rates it below every
    # other network
    ranked = np.argsort(cheapest)
    network = int(ranked[len(cheapest) // 2])
    skewed = exact.copy()
    skewed[network] = (1.5, 0.0, 0.0)
    budgets = [float(cheapest[ranked[len(cheapest) // 2 - 1]]), float(cheapest[network]),
               float(cheapest.max())]
    assert gap.one_seed_picks(skewed, problem, budgets) == (7, 9)
