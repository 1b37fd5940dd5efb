"""BOSHCODE-style refinement (``dianjax refine``'s loop) as a benchmark strategy.

The loop of :mod:`dianjax.refine.loop` (Tuli et al., 2023: a heteroscedastic ensemble surrogate,
Newton-type acquisition steps in the encoded space) run over the benchmark's pair space, started
from ``num_random_seeds`` random pairs (none from a search: the comparison gives every method the
same start) and querying the benchmark oracle instead of the simulator and a short training: the
pair's table accuracy and exact cost. Every layer's op and every hardware knob is one nominal
dimension (the oracle does not say which knobs are ordered). The utility is
``accuracy - cost_weight * log10(cost)``: one scalarization, as ``dianjax refine`` has; every pair it
queries counts towards its found front.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from dianjax.bench.oracle import Oracle
from sim import checks

COST_WEIGHT = 0.05  # accuracy points traded per decade of cost: ~1 point per 5x cheaper


def refine(oracle: Oracle, rng: np.random.Generator, *, cost_weight: float = COST_WEIGHT,
           num_random_seeds: int = 8) -> None:
    """Refines from random pairs until the oracle's budget is spent or the space is exhausted."""
    from dianjax.refine.encoding import NOMINAL, DesignSpace, Dimension
    from dianjax.refine.loop import Objective, RefineConfig, iterate_refine

    checks.positive_number("refine", "cost_weight", cost_weight)
    checks.positive_int("refine", "num_random_seeds", num_random_seeds)
    problem = oracle.problem
    layers = len(problem.network_choices)
    radices = (*problem.network_choices, *problem.accelerator_choices)
    space = DesignSpace(tuple(
        Dimension(f"layer{i}" if i < layers else f"knob{i - layers}", tuple(range(r)), NOMINAL)
        for i, r in enumerate(radices)))
    budget = math.prod(radices) - num_random_seeds
    config = RefineConfig(objectives=(Objective("accuracy", 1.0),
                                      Objective("log10_cost", -float(cost_weight))),
                          budget=max(budget, 0), seed=int(rng.integers(2**31)),
                          num_random_seeds=num_random_seeds)

    def query(design):
        accuracy, cost = oracle.evaluate_decisions(design[:layers], design[layers:])
        return {"accuracy": accuracy, "log10_cost": math.log10(cost)}

    with tempfile.TemporaryDirectory() as folder:
        for _ in iterate_refine(space, query, [], config, Path(folder) / "queries.jsonl"):
            if oracle.exhausted:
                return
