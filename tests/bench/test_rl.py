"""Codesign-NAS REINFORCE strategies (dianjax.bench.strategies.rl) on small synthetic problems."""

import re

import numpy as np
import pytest

from dianjax.bench.oracle import Oracle, Problem
from dianjax.bench.quality import score_history, true_front
from dianjax.bench.strategies.rl import rl_combined, rl_phase, rl_separate

STRATEGIES = {"combined": rl_combined, "phase": rl_phase, "separate": rl_separate}
SEEDS = range(5)


def one_point_problem(seed, network_choices=(3, 3, 2), accelerator_choices=(4, 3),
                      train_s=0.2, price_s=0.05):
    """Accuracy and log cost add up per-decision effects; at every decision one (random) choice
    is both the most accurate and the cheapest, so the true front is that single pair."""
    rng = np.random.default_rng(seed)
    networks = np.array(np.unravel_index(np.arange(np.prod(network_choices)),
                                         network_choices)).T
    accelerators = np.array(np.unravel_index(np.arange(np.prod(accelerator_choices)),
                                             accelerator_choices)).T

    best_network = [rng.integers(r) for r in network_choices]
    best_accelerator = [rng.integers(r) for r in accelerator_choices]

    def effect(radix, best, low, high):  # choice -> effect, 0 for the best choice
        values = rng.uniform(low, high, radix)
        values[best] = 0.0
        return values

    accuracy = 0.9 - sum(effect(r, best_network[i], 0.01, 0.05)[networks[:, i]]
                         for i, r in enumerate(network_choices))
    log_cost = (sum(effect(r, best_network[i], 0.1, 0.5)[networks[:, i]]
                    for i, r in enumerate(network_choices))[:, None]
                + sum(effect(r, best_accelerator[k], 0.1, 0.5)[accelerators[:, k]]
                      for k, r in enumerate(accelerator_choices))[None, :])
    return Problem(network_choices, accelerator_choices, accuracy, 10.0**log_cost,
                   np.full(len(networks), train_s), price_s)


def tradeoff_problem(seed, network_choices=(3, 3, 2), accelerator_choices=(4, 3)):
    """Each network choice has a quality that raises both accuracy and log cost: a spread front."""
    rng = np.random.default_rng(seed)
    networks = np.array(np.unravel_index(np.arange(np.prod(network_choices)),
                                         network_choices)).T
    accelerators = np.array(np.unravel_index(np.arange(np.prod(accelerator_choices)),
                                             accelerator_choices)).T
    quality = sum(rng.uniform(0, 1, r)[networks[:, i]] for i, r in enumerate(network_choices))
    log_cost = (0.5 * quality[:, None]
                + sum(rng.uniform(0, 0.5, r)[accelerators[:, k]]
                      for k, r in enumerate(accelerator_choices))[None, :])
    return Problem(network_choices, accelerator_choices, 0.8 + 0.05 * quality, 10.0**log_cost,
                   np.full(len(networks), 0.2), 0.05)


class RecordingOracle(Oracle):
    """Records every call (repeats too), counts calls made once exhausted, and stops a runaway
    strategy with an error instead of looping for ever."""

    def __init__(self, problem, budget_s, max_calls=200_000):
        super().__init__(problem, budget_s)
        self.calls = []
        self.calls_when_exhausted = 0
        self.max_calls = max_calls

    def evaluate(self, network, accelerator):
        self.calls_when_exhausted += self.exhausted
        self.calls.append((int(network), int(accelerator)))
        if len(self.calls) > self.max_calls:
            raise RuntimeError("the strategy never stopped")
        return super().evaluate(network, accelerator)


def hits_of_the_optimum(strategy):
    """Seeds of SEEDS on which the run's found set has the whole true hypervolume, on 81 networks
    x 48 accelerators with 5 % of the exhaustive budget (about 150 of the 3888 pairs)."""
    hits = 0
    for seed in SEEDS:
        problem = one_point_problem(seed, (3, 3, 3, 3), (4, 4, 3))
        front = true_front(problem)
        assert len(front.networks) == 1
        oracle = Oracle(problem, 0.05 * problem.exhaustive_budget_s())
        strategy(oracle, np.random.default_rng(seed))
        hits += score_history(oracle.history, front, [oracle.budget_s])[0].hv_ratio >= 1 - 1e-9
    return hits


def random_search(oracle, rng):
    problem = oracle.problem
    while not oracle.exhausted and len(oracle.history) < problem.cost.size:
        oracle.evaluate(rng.integers(problem.num_networks), rng.integers(problem.num_accelerators))


@pytest.mark.parametrize("name", STRATEGIES)
def test_finds_the_unique_optimum_within_5_percent_of_the_exhaustive_budget(name):
    assert hits_of_the_optimum(STRATEGIES[name]) >= 4


def test_the_optimum_check_fails_a_strategy_that_does_not_learn():
    assert hits_of_the_optimum(lambda oracle, rng: None) == 0
    assert hits_of_the_optimum(random_search) <= 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_same_seed_same_queries(name):
    problem = one_point_problem(7)
    histories = []
    for seed in (3, 3, 4):
        oracle = Oracle(problem, 0.3 * problem.exhaustive_budget_s())
        STRATEGIES[name](oracle, np.random.default_rng(seed))
        histories.append(oracle.history)
    assert histories[0] == histories[1]
    assert histories[0] != histories[2]


def test_combined_and_separate_are_different_controllers():
    problem = one_point_problem(7)
    histories = []
    for strategy in (rl_combined, rl_separate):
        oracle = Oracle(problem, 0.3 * problem.exhaustive_budget_s())
        strategy(oracle, np.random.default_rng(0))
        histories.append(oracle.history)
    assert histories[0] != histories[1]


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("train_s,price_s", [(0.0, 0.0), (0.2, 0.05)])
def test_stops_once_every_pair_is_evaluated(name, train_s, price_s):
    problem = one_point_problem(1, (2, 2), (3,), train_s, price_s)
    oracle = RecordingOracle(problem, 10 * max(problem.exhaustive_budget_s(), 1.0))
    STRATEGIES[name](oracle, np.random.default_rng(0))
    assert len(oracle.history) == problem.cost.size
    assert not oracle.exhausted


@pytest.mark.parametrize("name", STRATEGIES)
def test_stops_once_the_budget_is_exhausted(name):
    problem = one_point_problem(2)
    oracle = RecordingOracle(problem, 0.25 * problem.exhaustive_budget_s())
    STRATEGIES[name](oracle, np.random.default_rng(0))
    assert oracle.exhausted
    assert oracle.calls_when_exhausted == 0
    assert oracle.history[-2].spent_s < oracle.budget_s <= oracle.history[-1].spent_s


def test_phase_alternates_a_cnn_phase_and_an_hw_phase():
    problem = one_point_problem(3)
    oracle = RecordingOracle(problem, 0.2 * problem.exhaustive_budget_s())
    rl_phase(oracle, np.random.default_rng(0), weights=(0.5,), cnn_phase_steps=6,
             hw_phase_steps=4)
    networks, accelerators = np.array(oracle.calls[:20]).T
    for start in (0, 10):  # CNN phases: one accelerator, the networks vary
        assert len(set(accelerators[start:start + 6])) == 1
        assert len(set(networks[start:start + 6])) > 1
    for start in (6, 16):  # HW phases: the network of a pair found before, the accelerators vary
        assert len(set(networks[start:start + 4])) == 1
        assert networks[start] in networks[:start]
        assert len(set(accelerators[start:start + 4])) > 1
    assert accelerators[10] in accelerators[:10]  # the second CNN phase: a pair found before


@pytest.mark.parametrize("name", STRATEGIES)
def test_max_cost_punishment_keeps_the_queries_feasible(name):
    """Accuracy alone (weight 1) leads to the dear networks; the constraint's punishment keeps
    most queries (repeats included) within it."""
    feasible_share = {}
    for max_cost in ("constrained", None):
        shares = []
        for seed in SEEDS:
            problem = tradeoff_problem(seed)
            limit = float(np.median(problem.cost.min(axis=1)))  # half the networks can meet it
            oracle = RecordingOracle(problem, 0.3 * problem.exhaustive_budget_s())
            STRATEGIES[name](oracle, np.random.default_rng(seed), weights=(1.0,),
                             max_cost=limit if max_cost else None)
            networks, accelerators = np.array(oracle.calls).T
            shares.append(np.mean(problem.cost[networks, accelerators] <= limit))
        feasible_share[max_cost] = np.array(shares)
    assert (feasible_share["constrained"] > feasible_share[None] + 0.3).all()
    assert feasible_share["constrained"].mean() > 0.5


@pytest.mark.parametrize("options,field", [
    ({"weights": ()}, "weights"),
    ({"weights": (0.5, 1.5)}, "weights[1]"),
    ({"max_cost": 0.0}, "max_cost"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"baseline_decay": 1.0}, "baseline_decay"),
    ({"patience": 0}, "patience"),
])
def test_bad_options_name_the_field(options, field):
    problem = one_point_problem(0)
    with pytest.raises(ValueError, match=re.escape(field)):
        rl_combined(Oracle(problem, 1.0), np.random.default_rng(0), **options)
