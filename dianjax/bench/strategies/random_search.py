"""Random search: uniformly random (network, accelerator) pairs, never the same pair twice.

Every not-yet-evaluated pair is equally likely to come next (uniform sampling without replacement
over the ``N x A`` pairs, pair ``p = network * A + accelerator``): a network and an accelerator are
drawn uniformly and the draw is skipped if the pair was already evaluated. Once half of the pairs
are taken, the rest are shuffled instead, so that the search still ends in ``O(N A)`` draws when the
budget covers the whole space. It stops when the oracle's budget is exhausted or every pair is
evaluated.
"""

from __future__ import annotations

import numpy as np

from dianjax.bench.oracle import Oracle


def random_search(oracle: Oracle, rng: np.random.Generator) -> None:
    """Evaluates uniformly random new pairs until ``oracle.exhausted`` or none is left.

    Args:
      oracle: the problem's oracle; pairs already in its history are never drawn again.
      rng: the only source of randomness (same seed, same queries).
    """
    num_networks = oracle.problem.num_networks
    num_accelerators = oracle.problem.num_accelerators
    total = num_networks * num_accelerators
    seen = {q.network * num_accelerators + q.accelerator for q in oracle.history}
    while not oracle.exhausted and 2 * len(seen) < total:
        network, accelerator = int(rng.integers(num_networks)), int(rng.integers(num_accelerators))
        pair = network * num_accelerators + accelerator
        if pair in seen:
            continue
        seen.add(pair)
        oracle.evaluate(network, accelerator)
    if oracle.exhausted:
        return
    rest = np.setdiff1d(np.arange(total), np.fromiter(seen, np.int64, len(seen)))
    for pair in rng.permutation(rest):
        if oracle.exhausted:
            return
        oracle.evaluate(*divmod(int(pair), num_accelerators))
