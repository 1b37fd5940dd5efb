"""The oracle's budget accounting and the front-quality measures, against hand-worked cases and
brute force."""

import itertools

import numpy as np
import pytest

from dianjax.analysis.front import pareto_front
from dianjax.bench.oracle import Oracle, Problem
from dianjax.bench.quality import (REFERENCE, Normalizer, budget_to_reach, front_gap, hypervolume,
                                   igd, score_history, true_front)


def _problem(seed=0, network_choices=(3, 2), accelerator_choices=(2, 3)):
    rng = np.random.default_rng(seed)
    n, a = np.prod(network_choices), np.prod(accelerator_choices)
    return Problem(network_choices, accelerator_choices, rng.uniform(0.5, 1.0, n),
                   rng.uniform(1.0, 100.0, (n, a)), rng.uniform(1.0, 2.0, n), 0.25, "edp")


def test_budget_charges_a_network_once_and_a_pair_once():
    problem = _problem()
    oracle = Oracle(problem, budget_s=1e9)
    oracle.evaluate(0, 0)
    oracle.evaluate(0, 1)
    oracle.evaluate(0, 0)  # repeated pair: free
    oracle.evaluate(2, 1)
    expected = problem.train_s[0] + problem.train_s[2] + 3 * problem.price_s
    assert oracle.spent_s == pytest.approx(expected)
    assert [(q.network, q.accelerator) for q in oracle.history] == [(0, 0), (0, 1), (2, 1)]
    assert oracle.history[-1].spent_s == pytest.approx(expected)
    assert oracle.num_trained == 2


def test_a_clock_charges_the_strategy_time_between_answers_not_the_oracle_time():
    problem = _problem()
    ticks = iter([10.0, 12.5, 13.0, 20.0, 21.0, 21.5, 22.0])  # creation, then (query, answer)...

    oracle = Oracle(problem, budget_s=1e9, clock=lambda: next(ticks))
    oracle.evaluate(0, 0)  # thought 2.5 s before asking (12.5 - 10)
    oracle.evaluate(0, 0)  # repeated pair: the 7 s of thinking (20 - 13) still count
    oracle.record(1, 0, charge_s=3.0)  # 0.5 s (21.5 - 21) before the search's own charge
    expected_strategy = 2.5 + 7.0 + 0.5
    assert oracle.strategy_s == pytest.approx(expected_strategy)
    assert oracle.spent_s == pytest.approx(
        problem.train_s[0] + problem.price_s + 3.0 + expected_strategy)
    assert oracle.history[0].spent_s == pytest.approx(2.5 + problem.train_s[0] + problem.price_s)


def test_oracle_is_exhausted_at_its_budget_and_checks_indices():
    problem = _problem()
    oracle = Oracle(problem, budget_s=problem.train_s[0] + problem.price_s)
    assert not oracle.exhausted
    oracle.evaluate(0, 0)
    assert oracle.exhausted
    with pytest.raises(ValueError, match="network must be in"):
        oracle.evaluate(problem.num_networks, 0)
    with pytest.raises(ValueError, match=r"accelerator decisions must be 2 choices"):
        oracle.evaluate_decisions((0, 0), (0,))


def test_decisions_are_mixed_radix_last_fastest():
    problem = _problem()
    combos = list(itertools.product(range(3), range(2)))
    assert [problem.network_index(c) for c in combos] == list(range(6))
    assert problem.accelerator_decisions(4) == (1, 1)


def test_hypervolume_of_a_hand_worked_front():
    # True front (accuracy, cost): (0.9, 100), (0.8, 10) -> normalized (0, 1) and (1, 0).
    normalizer = Normalizer(0.9, 0.8, 1.0, 2.0)
    np.testing.assert_allclose(normalizer([0.9, 0.8], [100, 10]), [[0, 1], [1, 0]], atol=1e-12)
    # Two boxes against (1.1, 1.1): [0, 1.1] x [1, 1.1] and [1, 1.1] x [0, 1.1] overlap in
    # [1, 1.1]^2: 1.1 * 0.1 + 0.1 * 1.1 - 0.01 = 0.21.
    assert hypervolume([0.9, 0.8], [100, 10], normalizer) == pytest.approx(0.21)
    # A middle point (0.85, 10**1.5) -> (0.5, 0.5) adds the box [0.5, 1] x [0.5, 1]: 0.25.
    assert hypervolume([0.9, 0.8, 0.85], [100, 10, 10**1.5], normalizer) == pytest.approx(0.46)
    assert REFERENCE == (1.1, 1.1)


def test_igd_of_a_hand_worked_case():
    problem = Problem((2,), (1,), [0.9, 0.8], [[100.0], [10.0]], [1.0, 1.0], 0.0)
    front = true_front(problem)
    assert igd([0.9, 0.8], [100, 10], front) == pytest.approx(0.0)
    # only (0.9, 100): distances 0 and sqrt(2) -> mean sqrt(2) / 2
    assert igd([0.9], [100], front) == pytest.approx(np.sqrt(2) / 2)
    assert igd([], [], front) == np.inf


@pytest.mark.parametrize("seed", range(5))
def test_true_front_equals_brute_force_over_every_pair(seed):
    problem = _problem(seed, (3, 3), (2, 4))
    front = true_front(problem)
    pairs = np.array(list(itertools.product(range(problem.num_networks),
                                            range(problem.num_accelerators))))
    values = np.stack([problem.accuracy[pairs[:, 0]], problem.cost[pairs[:, 0], pairs[:, 1]]], 1)
    brute = pairs[pareto_front(values, [True, False])]
    assert sorted(map(tuple, brute)) == sorted(zip(front.networks, front.accelerators))


def test_scores_reach_one_exactly_when_the_front_is_found():
    problem = _problem(3, (3, 3), (2, 4))
    front = true_front(problem)
    oracle = Oracle(problem, budget_s=1e9)
    for n, a in zip(front.networks, front.accelerators):
        oracle.evaluate(n, a)
    budgets = [q.spent_s for q in oracle.history]
    scores = score_history(oracle.history, front, budgets)
    assert scores[-1].hv_ratio == pytest.approx(1.0)
    assert scores[-1].igd == pytest.approx(0.0)
    assert all(s.hv_ratio < 1 for s in scores[:-1]) or len(scores) == 1
    assert budget_to_reach(oracle.history, front, 1.0) == pytest.approx(budgets[-1])
    assert budget_to_reach(oracle.history[:-1], front, 1.0) == np.inf


def test_front_gap_is_the_brute_force_over_every_pair():
    rng = np.random.default_rng(3)
    accuracy = rng.uniform(0.8, 0.99, 40)
    cost = rng.uniform(1.0, 100.0, (40, 6))
    problem = Problem((40,), (6,), accuracy, cost, np.ones(40), 1e-3)
    front = true_front(problem)
    for n, a in rng.integers(0, [40, 6], size=(60, 2)):
        gap = front_gap(front, accuracy[n], cost[n, a])
        best = cost.min(axis=1)
        want_gain = max(accuracy[best <= cost[n, a]].max() - accuracy[n], 0.0)
        want_ratio = min(best[accuracy >= accuracy[n]].min() / cost[n, a], 1.0)
        assert gap == pytest.approx((want_gain, want_ratio))
    # a hand-worked front: (0.90, 10), (0.95, 20), (0.98, 40)
    hand = true_front(Problem((3,), (1,), np.array([0.90, 0.95, 0.98]),
                              np.array([[10.0], [20.0], [40.0]]), np.ones(3), 1e-3))
    assert front_gap(hand, 0.95, 20.0) == (0.0, 1.0) and front_gap(hand, 0.95, 20.0).within()
    gap = front_gap(hand, 0.93, 25.0)          # 0.95 at 20: +2 points, and 0.8x the cost
    assert gap == pytest.approx((0.02, 0.8)) and not gap.within()
    assert front_gap(hand, 0.9, 9.5).within()  # cheaper than the whole front
    assert front_gap(hand, 0.946, 20.0).within()      # 0.4 points short at equal cost
    assert not front_gap(hand, 0.944, 20.0).within()  # 0.6 points short


def test_one_seed_ceiling_by_hand():
    from dianjax.bench.quality import one_seed_ceiling

    # seeds 0 and 1 order the 4 networks as the others' mean does (3 < 1 < 0 < 2); seed 2 puts
    # network 1 (0.45) below network 3 (0.55), the others' mean above (0.725 vs 0.55): one of six
    # pairs discordant, tau = (5 - 1) / 6
    values = np.array([[0.9, 0.8, 0.85], [0.7, 0.75, 0.45], [0.95, 0.9, 0.99], [0.5, 0.6, 0.55]])
    assert one_seed_ceiling(values) == pytest.approx([1.0, 1.0, 2 / 3])
    with pytest.raises(ValueError, match="S >= 2"):
        one_seed_ceiling(values[:, :1])
