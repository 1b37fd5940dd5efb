"""Optuna TPE and NSGA-II baselines: the study they build, what they find, and when they stop."""

import contextlib
import logging
import math
import signal
import sys

import numpy as np
import pytest

from dianjax.bench import quality
from dianjax.bench.oracle import Oracle, Problem
from dianjax.bench.strategies.optuna_samplers import optuna_nsga2, optuna_tpe  # optuna: lazily

optuna = pytest.importorskip("optuna")

STRATEGIES = {"tpe": optuna_tpe, "nsga2": optuna_nsga2}
SAMPLERS = {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler}


def _problem(network_choices=(3, 2), accelerator_choices=(2, 2), seed=0):
    """Distinct accuracies; cost = work[n] x slowness[a] (a known front on the fastest
    accelerator)."""
    rng = np.random.default_rng(seed)
    num_networks, num_accelerators = math.prod(network_choices), math.prod(accelerator_choices)
    accuracy = 0.6 + 0.3 * rng.permutation(num_networks) / num_networks
    work = np.exp(3 * accuracy + rng.normal(size=num_networks))
    slowness = np.exp(rng.normal(size=num_accelerators))
    return Problem(network_choices, accelerator_choices, accuracy, np.outer(work, slowness),
                   train_s=rng.uniform(5, 10, num_networks), price_s=1.0)


class _RecordingOracle(Oracle):
    """Records every call, repeats included."""

    def __init__(self, problem, budget_s):
        super().__init__(problem, budget_s)
        self.calls = []

    def evaluate(self, network, accelerator):
        self.calls.append((int(network), int(accelerator)))
        return super().evaluate(network, accelerator)


@contextlib.contextmanager
def _deadline(seconds):
    """Fails a search that keeps running instead of hanging the test run."""
    def fail(signum, frame):
        raise TimeoutError(f"the search was still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, fail)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run(name, problem, budget_s, seed=0, **options):
    oracle = _RecordingOracle(problem, budget_s)
    with _deadline(20):
        STRATEGIES[name](oracle, np.random.default_rng(seed), **options)
    return oracle


def _pairs(oracle):
    return [(q.network, q.accelerator) for q in oracle.history]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_study_has_one_categorical_per_layer_and_knob_and_tells_what_the_oracle_said(
        name, monkeypatch):
    studies = []
    create_study = optuna.create_study

    def recording_create_study(**kwargs):
        studies.append(create_study(**kwargs))
        return studies[-1]

    monkeypatch.setattr(optuna, "create_study", recording_create_study)
    problem = _problem()
    oracle = _run(name, problem, 0.5 * problem.exhaustive_budget_s(), max_repeats=10)
    (study,) = studies
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE,
                                optuna.study.StudyDirection.MINIMIZE]
    assert type(study.sampler) is SAMPLERS[name]
    trials = study.trials
    assert len(trials) == len(oracle.calls)
    for trial, (network, accelerator) in zip(trials, oracle.calls):
        assert trial.distributions == {
            "layer_0": optuna.distributions.CategoricalDistribution([0, 1, 2]),
            "layer_1": optuna.distributions.CategoricalDistribution([0, 1]),
            "knob_0": optuna.distributions.CategoricalDistribution([0, 1]),
            "knob_1": optuna.distributions.CategoricalDistribution([0, 1])}
        assert problem.network_decisions(network) == (trial.params["layer_0"],
                                                      trial.params["layer_1"])
        assert problem.accelerator_decisions(accelerator) == (trial.params["knob_0"],
                                                              trial.params["knob_1"])
        assert trial.values == pytest.approx([problem.accuracy[network],
                                              math.log10(problem.cost[network, accelerator])])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_reaches_the_true_front_with_enough_budget(name):
    problem = _problem()
    oracle = _run(name, problem, problem.exhaustive_budget_s(), max_repeats=50)
    front = quality.true_front(problem)
    assert quality.score_history(oracle.history, front, [math.inf])[0].hv_ratio == pytest.approx(1)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_stops_when_every_pair_is_evaluated(name):
    problem = _problem(network_choices=(2,), accelerator_choices=(2,))
    oracle = _run(name, problem, 10 * problem.exhaustive_budget_s(), max_repeats=10**9)
    assert sorted(_pairs(oracle)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert not oracle.exhausted


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_stops_after_max_repeats_consecutive_resampled_pairs(name):
    problem = _problem()
    for max_repeats in (1, 3):
        oracle = _run(name, problem, 10 * problem.exhaustive_budget_s(), max_repeats=max_repeats)
        assert not oracle.exhausted and len(oracle.history) < problem.cost.size
        tail = oracle.calls[-max_repeats:]
        assert all(call in oracle.calls[:-max_repeats] for call in tail)
        assert oracle.calls[-max_repeats - 1] not in oracle.calls[:-max_repeats - 1]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_stops_once_the_budget_is_exhausted(name):
    problem = _problem()
    budget_s = 30.0
    oracle = _run(name, problem, budget_s)
    assert oracle.exhausted
    assert all(q.spent_s < budget_s for q in oracle.history[:-1])
    assert oracle.calls[-1] == _pairs(oracle)[-1]  # nothing asked after


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_is_deterministic_for_a_seed(name):
    problem = _problem()
    budget_s = 0.6 * problem.exhaustive_budget_s()
    first = _run(name, problem, budget_s, seed=3, max_repeats=5).calls
    assert _run(name, problem, budget_s, seed=3, max_repeats=5).calls == first
    assert _run(name, problem, budget_s, seed=4, max_repeats=5).calls != first


def test_optuna_logging_is_silenced_during_the_search_and_restored_after():
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        problem = _problem()
        _run("tpe", problem, 0.3 * problem.exhaustive_budget_s())
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if r.levelno < logging.WARNING]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_rejects_max_repeats_below_one(name):
    with pytest.raises(ValueError, match="max_repeats"):
        STRATEGIES[name](Oracle(_problem(), 10.0), np.random.default_rng(0), max_repeats=0)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_without_optuna_the_error_names_the_install_command(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e '\.\[baselines\]'"):
        STRATEGIES[name](Oracle(_problem(), 10.0), np.random.default_rng(0))

