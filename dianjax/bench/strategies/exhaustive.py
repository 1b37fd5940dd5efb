"""Exhaustive search: every (network, accelerator) pair, one network at a time.

Order: the networks in one uniformly random permutation (drawn from ``rng``); each network is paired
with every accelerator in index order (mixed-radix order of the knobs, last knob fastest) before the
next network starts, so each network's training is charged once and then only prices are charged.
With the budget of :meth:`dianjax.bench.oracle.Problem.exhaustive_budget_s` it evaluates every pair
exactly once and its found front is the true front; with less it stops when the oracle is exhausted,
having covered a random subset of networks completely (a grid-search baseline).
"""

from __future__ import annotations

import numpy as np

from dianjax.bench.oracle import Oracle


def exhaustive(oracle: Oracle, rng: np.random.Generator) -> None:
    """Evaluates every pair in the order of the module docstring until exhausted or done.

    Args:
      oracle: the problem's oracle.
      rng: draws the order of the networks.
    """
    num_accelerators = oracle.problem.num_accelerators
    for network in rng.permutation(oracle.problem.num_networks):
        for accelerator in range(num_accelerators):
            if oracle.exhausted:
                return
            oracle.evaluate(int(network), accelerator)
