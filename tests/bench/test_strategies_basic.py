"""Random, exhaustive and semi-decoupled search on small synthetic problems with a known front."""

import contextlib
import math
import signal

import numpy as np
import pytest

from dianjax.bench import quality
from dianjax.bench.oracle import Oracle, Problem
from dianjax.bench.strategies.exhaustive import exhaustive
from dianjax.bench.strategies.random_search import random_search
from dianjax.bench.strategies.semi_decoupled import non_dominated_fronts, semi_decoupled

STRATEGIES = {"random": random_search, "exhaustive": exhaustive, "semi_decoupled": semi_decoupled}


def _problem(seed=0, network_choices=(3, 3, 2), accelerator_choices=(4, 3)):
    """Distinct accuracies; cost = work[n] x slowness[a], so every accelerator ranks the networks
    alike and the true front is the (accuracy, work) front on the fastest accelerator."""
    rng = np.random.default_rng(seed)
    num_networks, num_accelerators = math.prod(network_choices), math.prod(accelerator_choices)
    accuracy = 0.6 + 0.3 * rng.permutation(num_networks) / num_networks
    work = np.exp(3 * accuracy + rng.normal(size=num_networks))
    slowness = np.exp(rng.normal(size=num_accelerators))
    return Problem(network_choices, accelerator_choices, accuracy, np.outer(work, slowness),
                   train_s=rng.uniform(5, 10, num_networks), price_s=1.0)


def _rank_shift_problem():
    """Network 2 is on the second front on the proxy (accelerator 1, the middle one) but has the
    cheapest pair of all on accelerator 2: the true front is networks 0, 1 and 2 (2 with 2)."""
    accuracy = [0.9, 0.8, 0.7, 0.6]
    cost = [[10, 10, 10], [5, 5, 5], [7, 6, 1], [9, 9, 9]]
    return Problem((4,), (3,), accuracy, cost, train_s=np.ones(4), price_s=0.1)


def _pairs(oracle):
    return [(q.network, q.accelerator) for q in oracle.history]


def _hv_ratio(oracle, budget_s=math.inf):
    front = quality.true_front(oracle._truth)
    return quality.score_history(oracle.history, front, [budget_s])[0].hv_ratio


@contextlib.contextmanager
def _deadline(seconds):
    """Fails a strategy that keeps running (an endless loop) instead of hanging the test run."""
    def fail(signum, frame):
        raise TimeoutError(f"the strategy was still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, fail)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _RadicesOnly:
    """What a strategy may read of a problem: the radices and the index helpers."""

    def __init__(self, problem):
        for name in ("network_choices", "accelerator_choices", "num_networks", "num_accelerators",
                     "network_index", "network_decisions", "accelerator_index",
                     "accelerator_decisions"):
            setattr(self, name, getattr(problem, name))


class _GuardedOracle(Oracle):
    """An oracle whose ``problem`` hides the ground truth from the strategy (reading its
    ``accuracy`` or ``cost`` fails) and that records every call, repeats included."""

    def __init__(self, problem, budget_s):
        super().__init__(problem, budget_s)
        self._truth, self.problem = problem, _RadicesOnly(problem)
        self.calls = []

    def evaluate(self, network, accelerator):
        self.calls.append((int(network), int(accelerator)))
        view, self.problem = self.problem, self._truth
        try:
            return super().evaluate(network, accelerator)
        finally:
            self.problem = view


def _run(strategy, problem, budget_s, seed=0, **options):
    """The strategy's run on a :class:`_GuardedOracle` (``.problem`` is the radices only)."""
    oracle = _GuardedOracle(problem, budget_s)
    with _deadline(10):
        strategy(oracle, np.random.default_rng(seed), **options)
    return oracle


def test_the_synthetic_front_is_the_one_built_in():
    problem = _problem()
    fastest = np.argmin(problem.cost[0])
    work = problem.cost[:, fastest]
    expected = [n for n in range(problem.num_networks)
                if not any(problem.accuracy[m] >= problem.accuracy[n] and work[m] < work[n]
                           for m in range(problem.num_networks))]
    front = quality.true_front(problem)
    assert sorted(front.networks) == expected
    assert set(front.accelerators) == {fastest}
    assert 2 <= len(expected) < problem.num_networks  # a real trade-off, not one winner


def test_non_dominated_sorting_of_a_hand_worked_case():
    # (accuracy, cost): 0 and 1 trade off, 5 copies 1; 2 loses to 0, 3 to 1; 4 loses to 3.
    accuracy = [0.9, 0.8, 0.85, 0.7, 0.6, 0.8]
    cost = [10, 5, 12, 6, 7, 5]
    fronts = non_dominated_fronts(accuracy, cost)
    assert [f.tolist() for f in fronts] == [[0, 1, 5], [2, 3], [4]]
    assert [f.tolist() for f in non_dominated_fronts(accuracy, cost, count=2)] == [[0, 1, 5],
                                                                                  [2, 3]]
    assert non_dominated_fronts([], []) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exhaustive_with_the_full_budget_evaluates_every_pair_once_in_network_blocks(seed):
    problem = _problem(seed)
    oracle = _run(exhaustive, problem, problem.exhaustive_budget_s(), seed)
    pairs = _pairs(oracle)
    num_accelerators = problem.num_accelerators
    assert sorted(pairs) == [(n, a) for n in range(problem.num_networks)
                             for a in range(num_accelerators)]
    assert oracle.num_trained == problem.num_networks
    networks = [n for n, _ in pairs[::num_accelerators]]
    for block, network in enumerate(networks):  # each network with accelerators 0..A-1
        assert pairs[block * num_accelerators:(block + 1) * num_accelerators] == [
            (network, a) for a in range(num_accelerators)]
    assert networks != sorted(networks)  # a random order of the networks
    assert _hv_ratio(oracle) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_search_never_repeats_a_pair_and_covers_the_space_with_the_full_budget(seed):
    problem = _problem(seed)
    oracle = _run(random_search, problem, problem.exhaustive_budget_s(), seed)
    pairs = _pairs(oracle)
    assert oracle.calls == pairs  # no pair asked twice
    assert len(set(pairs)) == problem.cost.size
    assert _hv_ratio(oracle) == pytest.approx(1.0)
    # Not exhaustive's order: networks interleave from the start.
    assert len({n for n, _ in pairs[:problem.num_accelerators]}) > 1


def test_random_search_hv_grows_from_below_one():
    problem = _problem()
    oracle = _run(random_search, problem, problem.exhaustive_budget_s())
    early = 0.2 * problem.exhaustive_budget_s()
    assert _hv_ratio(oracle, early) < 1.0


def test_random_search_skips_pairs_already_in_the_history():
    problem = _problem()
    oracle = _GuardedOracle(problem, problem.exhaustive_budget_s())
    oracle.evaluate(0, 0)
    oracle.evaluate(5, 3)
    with _deadline(10):
        random_search(oracle, np.random.default_rng(0))
    assert oracle.calls == _pairs(oracle)
    assert len(oracle.calls) == problem.cost.size


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semi_decoupled_reaches_the_true_front_below_the_exhaustive_budget(seed):
    problem = _problem(seed)
    stage1_s = problem.train_s.sum() + problem.num_networks * problem.price_s
    budget_s = 2 * stage1_s  # the default nas_fraction 0.5 covers every network on the proxy
    assert budget_s < problem.exhaustive_budget_s()
    oracle = _run(semi_decoupled, problem, budget_s, seed)
    assert _hv_ratio(oracle) == pytest.approx(1.0)
    pairs = _pairs(oracle)
    proxy = problem.accelerator_index([2, 1])  # middle choice of knobs with 4 and 3 options
    assert [a for _, a in pairs[:problem.num_networks]] == [proxy] * problem.num_networks
    assert oracle.calls == pairs and len(pairs) < problem.cost.size
    assert not oracle.exhausted  # it stopped because the candidate set was done


def test_semi_decoupled_searches_accelerators_for_the_first_k_fronts_only():
    problem = _rank_shift_problem()  # fronts on the proxy: {0, 1}, {2}, {3}
    one_front = _run(semi_decoupled, problem, 100.0, k=1)
    pairs = _pairs(one_front)
    assert sorted(pairs[:4]) == [(n, 1) for n in range(4)]  # stage 1: every network on the proxy
    assert sorted(pairs[4:]) == [(0, 0), (0, 2), (1, 0), (1, 2)]
    assert _hv_ratio(one_front) < 1.0  # network 2's cheap pair is never seen

    two_fronts = _run(semi_decoupled, problem, 100.0, k=2)
    assert sorted(_pairs(two_fronts)[4:]) == [(0, 0), (0, 2), (1, 0), (1, 2), (2, 0), (2, 2)]
    assert _hv_ratio(two_fronts) == pytest.approx(1.0)


def test_semi_decoupled_stage_one_keeps_to_its_share_of_the_budget():
    problem = _problem()
    budget_s = 100.0  # stage 1 may spend 25 s: three or four networks of 5-10 s
    oracle = _run(semi_decoupled, problem, budget_s, proxy=0, nas_fraction=0.25)
    proxy_queries = 0
    for query in oracle.history:
        if query.accelerator != 0:
            break
        proxy_queries += 1
    stage1 = oracle.history[:proxy_queries]
    assert stage1[-2].spent_s < 25.0 <= stage1[-1].spent_s
    assert {q.network for q in oracle.history} <= {q.network for q in stage1}


@pytest.mark.parametrize("options", [{"proxy": 12}, {"proxy": -1}, {"k": 0},
                                     {"nas_fraction": 0.0}, {"nas_fraction": 1.5}])
def test_semi_decoupled_rejects_bad_options(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        semi_decoupled(Oracle(_problem(), 10.0), np.random.default_rng(0), **options)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategies_stop_once_the_budget_is_exhausted(name):
    problem = _problem()
    budget_s = 40.0
    oracle = _run(STRATEGIES[name], problem, budget_s)
    assert oracle.exhausted
    assert all(q.spent_s < budget_s for q in oracle.history[:-1])  # nothing asked after


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategies_stop_when_nothing_new_is_left(name):
    problem = _problem(network_choices=(2, 2), accelerator_choices=(3,))
    oracle = _run(STRATEGIES[name], problem, 10 * problem.exhaustive_budget_s())
    assert not oracle.exhausted
    assert oracle.calls == _pairs(oracle)  # every call a new pair
    if name != "semi_decoupled":  # which stops once its candidates met every accelerator
        assert len(oracle.calls) == problem.cost.size


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategies_are_deterministic_for_a_seed(name):
    problem = _problem()
    budget_s = 0.6 * problem.exhaustive_budget_s()
    first = _pairs(_run(STRATEGIES[name], problem, budget_s, seed=7))
    assert _pairs(_run(STRATEGIES[name], problem, budget_s, seed=7)) == first
    assert _pairs(_run(STRATEGIES[name], problem, budget_s, seed=8)) != first
