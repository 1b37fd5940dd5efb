"""Optuna's multi-objective samplers as co-search baselines: TPE and NSGA-II.

What a practitioner would write: one Optuna study with directions (maximize accuracy, minimize
log10 cost), one categorical parameter per searchable layer (``layer_<l>``) and per hardware knob
(``knob_<k>``), choices ``0..radix-1``, driven by ask/tell against the oracle. The samplers keep
Optuna's defaults, seeded from ``rng``:

- ``TPESampler(seed=...)``: Optuna (>= 4) then uses independent TPE for multi-objective studies
  (``multivariate=None`` resolves to False there) with MOTPE's hypervolume-based weights and
  10 random startup trials;
- ``NSGAIISampler(seed=...)``: population 50, uniform crossover, Optuna's default mutation.

A re-sampled pair is free in the oracle; it is still told to the study (with its known values) so
the sampler sees what it asked for. The loop ends when the oracle is exhausted, when every pair has
been evaluated, or after ``max_repeats`` (default :data:`MAX_REPEATS`) consecutive trials that only
re-sampled evaluated pairs (the sampler has converged and would spend no more budget).

Optuna is an optional dependency: ``pip install -e '.[baselines]'``.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from dianjax.bench.oracle import Oracle

MAX_REPEATS = 200  # consecutive re-sampled pairs after which a study is taken to have converged


def optuna_tpe(oracle: Oracle, rng: np.random.Generator, max_repeats: int = MAX_REPEATS) -> None:
    """Optuna's default multi-objective TPE sampler (module docstring) until exhausted or done.

    Args:
      oracle: the problem's oracle.
      rng: seeds the sampler (same seed, same queries).
      max_repeats: consecutive re-sampled pairs after which the search stops.
    """
    optuna = _import_optuna()
    _run_study(oracle, optuna.samplers.TPESampler(seed=_seed(rng)), max_repeats)


def optuna_nsga2(oracle: Oracle, rng: np.random.Generator, max_repeats: int = MAX_REPEATS) -> None:
    """Optuna's default NSGA-II sampler (module docstring) until exhausted or done; arguments as
    :func:`optuna_tpe`."""
    optuna = _import_optuna()
    _run_study(oracle, optuna.samplers.NSGAIISampler(seed=_seed(rng)), max_repeats)


def _import_optuna():
    try:
        import optuna
    except ImportError as error:
        raise ImportError("the Optuna baselines need optuna: pip install -e '.[baselines]'"
                          ) from error
    return optuna


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _run_study(oracle: Oracle, sampler, max_repeats: int) -> None:
    import optuna

    if max_repeats < 1:
        raise ValueError(f"max_repeats must be >= 1, got {max_repeats}")
    problem = oracle.problem
    network_names = [f"layer_{layer}" for layer in range(len(problem.network_choices))]
    knob_names = [f"knob_{knob}" for knob in range(len(problem.accelerator_choices))]
    distributions = {
        name: optuna.distributions.CategoricalDistribution(list(range(radix)))
        for name, radix in zip(network_names + knob_names,
                               problem.network_choices + problem.accelerator_choices)}
    total = problem.num_networks * problem.num_accelerators
    seen = {(q.network, q.accelerator) for q in oracle.history}
    with _quiet(optuna):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        repeats = 0
        while not oracle.exhausted and len(seen) < total and repeats < max_repeats:
            trial = study.ask(distributions)
            network = problem.network_index([trial.params[name] for name in network_names])
            accelerator = problem.accelerator_index([trial.params[name] for name in knob_names])
            repeats = repeats + 1 if (network, accelerator) in seen else 0
            seen.add((network, accelerator))
            accuracy, cost = oracle.evaluate(network, accelerator)
            study.tell(trial, [accuracy, math.log10(cost)])


@contextlib.contextmanager
def _quiet(optuna):
    """Optuna's INFO line per trial off (warnings still show), its verbosity restored after."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
