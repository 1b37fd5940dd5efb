"""Semi-decoupled co-design (Lu, Yan, Shi & Ren, "A Semi-Decoupled Approach to Fast and
Optimal Hardware-Software Co-Design of Neural Accelerators", tinyML Research Symposium 2022,
arXiv:2203.13921; code: github.com/Ren-Research/CoDesign).

The paper's premise: networks rank almost the same by latency and energy on every accelerator, so
the few networks that are optimal on one accelerator are (close to) optimal on the others. Its
procedure (abstract): a network search on one accelerator keeps "a small set of optimal
architectures"; the accelerator is then optimized only in combination with that set. Here:

1. *Network search on a proxy accelerator*: each network evaluated is paired with the proxy only.
   The paper does not tie the method to one NAS algorithm (its code's README: 10k networks of each
   space sampled at random, about 1k of them kept, the accuracy/FLOPs front among them, to simulate
   on the accelerators); we sample networks uniformly at random without repetition, for
   ``nas_fraction`` of the remaining budget or until every network is evaluated on the proxy.
2. *Candidate set*: the networks on the first ``k`` non-dominated fronts of (accuracy max, cost min)
   on the proxy (:func:`non_dominated_fronts`); the fronts beyond the first hedge against rankings
   that are only highly similar across accelerators, not identical.
3. *Accelerator search over the candidates only*: the paper does not fix the optimizer here (its
   code simulates every kept network on each of its accelerator configurations). We pair the
   candidates round-robin (first front first, each front in the order stage 1 met its networks)
   with accelerators in an independent random order per candidate: exhaustive over
   ``candidates x accelerators`` when the budget allows it, a uniform sample of it when not. Only
   prices are charged here: every candidate was trained in stage 1.

The search stops when the oracle is exhausted or every candidate has met every accelerator; it never
widens the candidate set (raise ``k`` for that).

Choices that the abstract and the released code leave open (the paper's body may be more
specific): the proxy defaults to the middle choice of every knob (``radix // 2``), a mid-range
design; stage 1 is random sampling (above); the candidate set is the first ``k`` fronts; the fronts
are taken in the benchmark's (accuracy, one cost) plane, where the paper has latency and energy.
"""

from __future__ import annotations

import numpy as np

from dianjax.analysis.front import front_indices
from dianjax.bench.oracle import Oracle


def non_dominated_fronts(accuracy, cost, count: int | None = None) -> list[np.ndarray]:
    """Non-dominated sorting (Deb et al., NSGA-II, 2002) of (accuracy max, cost min) points.

    Front 1 is the non-dominated points; front ``f + 1`` the non-dominated points once fronts
    ``1..f`` are removed. Equal points do not dominate each other, so copies share a front
    (:mod:`dianjax.analysis.front`'s convention).

    Args:
      accuracy, cost: one value per point.
      count: how many fronts to return (all when ``None``).

    Returns:
      The fronts, best first, each the increasing indices of its points.
    """
    accuracy = np.asarray(accuracy, np.float64).reshape(-1)
    cost = np.asarray(cost, np.float64).reshape(-1)
    left = np.arange(accuracy.size)
    fronts = []
    while left.size and (count is None or len(fronts) < count):
        front = left[front_indices(accuracy[left], cost[left])]
        fronts.append(front)
        left = np.setdiff1d(left, front)
    return fronts


def semi_decoupled(oracle: Oracle, rng: np.random.Generator, proxy: int | None = None,
                   k: int = 2, nas_fraction: float = 0.5) -> None:
    """Network search on a proxy accelerator, then accelerator search for its best networks.

    Args:
      oracle: the problem's oracle.
      rng: draws the networks of stage 1 and each candidate's accelerator order of stage 3.
      proxy: the accelerator index of stage 1; ``None``: the middle choice of every knob.
      k: how many non-dominated fronts of stage 1 make the candidate set.
      nas_fraction: share (0, 1] of the budget left at the call that stage 1 may spend.
    """
    problem = oracle.problem
    if proxy is None:
        proxy = problem.accelerator_index([radix // 2 for radix in problem.accelerator_choices])
    if not 0 <= proxy < problem.num_accelerators:
        raise ValueError(f"proxy must be an accelerator index in [0, {problem.num_accelerators}), "
                         f"got {proxy}")
    if k < 1:
        raise ValueError(f"k must be >= 1 (fronts in the candidate set), got {k}")
    if not 0 < nas_fraction <= 1:
        raise ValueError(f"nas_fraction must be in (0, 1], got {nas_fraction}")

    # Stage 1: random networks on the proxy accelerator.
    nas_budget_s = oracle.spent_s + nas_fraction * (oracle.budget_s - oracle.spent_s)
    networks, accuracy, cost = [], [], []
    for network in rng.permutation(problem.num_networks):
        if oracle.exhausted or oracle.spent_s >= nas_budget_s:
            break
        network_accuracy, network_cost = oracle.evaluate(int(network), proxy)
        networks.append(int(network))
        accuracy.append(network_accuracy)
        cost.append(network_cost)

    # Stage 2: the first k non-dominated fronts on the proxy.
    candidates = [networks[i] for front in non_dominated_fronts(accuracy, cost, k) for i in front]

    # Stage 3: every candidate with accelerators in its own random order, round-robin.
    orders = [rng.permutation(problem.num_accelerators) for _ in candidates]
    for step in range(problem.num_accelerators):
        for network, order in zip(candidates, orders):
            if oracle.exhausted:
                return
            if order[step] != proxy:  # stage 1 has priced the proxy pair
                oracle.evaluate(network, int(order[step]))
