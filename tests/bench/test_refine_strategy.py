"""The refinement strategy on the benchmark oracle: finds a known optimum, respects the budget."""

import numpy as np

from dianjax.bench.oracle import Oracle, Problem
from dianjax.bench.quality import score_history, true_front
from dianjax.bench.strategies import refine


def _problem():
    """network (4, 3) x accelerator (3, 2): a single best pair (accuracy max, cost min)."""
    rng = np.random.default_rng(1)
    nc, ac = (4, 3), (3, 2)
    n, a = int(np.prod(nc)), int(np.prod(ac))
    accuracy = rng.uniform(0.8, 0.9, n)
    accuracy[7] = 0.99
    cost = rng.uniform(2.0, 10.0, (n, a))
    cost[:, 4] = np.minimum(cost[:, 4], 1.5)
    cost[7, 4] = 1.0
    return Problem(nc, ac, accuracy, cost, np.full(n, 1.0), 0.1)


def test_refine_finds_the_single_best_pair():
    problem = _problem()
    front = true_front(problem)
    assert list(zip(front.networks, front.accelerators)) == [(7, 4)]
    found = 0
    for seed in range(3):
        oracle = Oracle(problem, budget_s=problem.exhaustive_budget_s() * 0.5)
        refine(oracle, np.random.default_rng(seed))
        found += score_history(oracle.history, front, [oracle.spent_s])[0].hv_ratio == 1.0
        assert oracle.exhausted or len(oracle.history) == problem.cost.size
    assert found >= 2


def test_refine_stops_at_the_budget():
    problem = _problem()
    oracle = Oracle(problem, budget_s=5.0)
    refine(oracle, np.random.default_rng(0))
    assert oracle.exhausted and oracle.history[-2].spent_s < 5.0
