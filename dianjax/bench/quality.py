"""How good a found front is against the true one: normalized hypervolume ratio, IGD, budget to reach.

Normalization (fixed per problem, the same for every method): accuracy is mapped so that the true
front's best accuracy (ideal) is 0 and its worst (nadir) is 1; cost on a log axis so that the true
front's cheapest point is 0 and its dearest is 1. Both normalized objectives are minimized. The
hypervolume uses one reference point, :data:`REFERENCE` = (1.1, 1.1) in normalized units, for every
method and budget, so ratios are comparable across methods and never move when one is added.
``hv_ratio = HV(found) / HV(true front)`` is 1 exactly when the found set dominates the true front's
whole hypervolume. IGD (inverted generational distance, Coello & Cortes 2005): the mean, over the true
front's points, of the normalized Euclidean distance to the nearest found point. And how well any
one training can rank at all (:func:`one_seed_ceiling`), the ceiling of an accuracy proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from dianjax.analysis.front import Reference, front_indices, hypervolume_2d
from dianjax.bench.oracle import Problem, Query

REFERENCE = (1.1, 1.1)  # normalized (accuracy, log cost): slightly beyond the true front's nadir


class Normalizer(NamedTuple):
    """The true front's ideal and nadir: accuracy and log10 cost."""

    best_accuracy: float
    worst_accuracy: float
    low_log_cost: float
    high_log_cost: float

    @classmethod
    def of_front(cls, accuracy, cost) -> Normalizer:
        """The normalization of a true front's points (their ideal and nadir)."""
        accuracy = np.asarray(accuracy, np.float64)
        log_cost = np.log10(np.asarray(cost, np.float64))
        return cls(float(accuracy.max()), float(accuracy.min()), float(log_cost.min()),
                   float(log_cost.max()))

    def __call__(self, accuracy, cost) -> np.ndarray:
        """float[M, 2] normalized (accuracy, log cost) of the points, both to be minimized."""
        accuracy = np.asarray(accuracy, np.float64).reshape(-1)
        log_cost = np.log10(np.asarray(cost, np.float64).reshape(-1))
        span_a = max(self.best_accuracy - self.worst_accuracy, 1e-12)
        span_c = max(self.high_log_cost - self.low_log_cost, 1e-12)
        return np.stack([(self.best_accuracy - accuracy) / span_a,
                         (log_cost - self.low_log_cost) / span_c], axis=1)


class TrueFront(NamedTuple):
    """The exact Pareto front of a problem: its pairs, their objectives, and its normalization."""

    networks: np.ndarray       # int[F]
    accelerators: np.ndarray   # int[F]
    accuracy: np.ndarray       # float[F]
    cost: np.ndarray           # float[F]
    normalizer: Normalizer
    hypervolume: float         # in normalized units, against REFERENCE


def true_front(problem: Problem) -> TrueFront:
    """The non-dominated (accuracy max, cost min) pairs of every pair of ``problem``.

    Accuracy depends on the network only, so each network's candidates reduce to its cheapest
    accelerator (first in index order on ties); the front is then taken over those N points.
    """
    best_accelerator = np.argmin(problem.cost, axis=1)
    cheapest = problem.cost[np.arange(problem.num_networks), best_accelerator]
    front = front_indices(problem.accuracy, cheapest)
    accuracy, cost = problem.accuracy[front], cheapest[front]
    normalizer = Normalizer.of_front(accuracy, cost)
    front_tuple = TrueFront(front, best_accelerator[front], accuracy, cost, normalizer, 0.0)
    return front_tuple._replace(hypervolume=hypervolume(accuracy, cost, normalizer))


def hypervolume(accuracy, cost, normalizer: Normalizer) -> float:
    """Normalized hypervolume of the points against :data:`REFERENCE` (both objectives minimized)."""
    points = normalizer(accuracy, cost)
    if not len(points):
        return 0.0
    # analysis.front measures (accuracy max, cost min): negate the normalized accuracy.
    return hypervolume_2d(-points[:, 0], points[:, 1], Reference(-REFERENCE[0], REFERENCE[1]))


def igd(accuracy, cost, front: TrueFront) -> float:
    """Mean normalized distance from each true-front point to its nearest found point (inf if none)."""
    found = front.normalizer(accuracy, cost)
    if not len(found):
        return float("inf")
    truth = front.normalizer(front.accuracy, front.cost)
    distances = np.linalg.norm(truth[:, None, :] - found[None, :, :], axis=-1)
    return float(distances.min(axis=1).mean())


class Score(NamedTuple):
    """A method's found set at one budget checkpoint."""

    budget_s: float
    hv_ratio: float
    igd: float
    num_pairs: int
    num_networks: int


def score_history(history: Sequence[Query], front: TrueFront,
                  budgets_s: Sequence[float]) -> list[Score]:
    """:class:`Score` of the pairs found within each budget (queries with ``spent_s <= budget``)."""
    spent = np.array([q.spent_s for q in history], np.float64)
    accuracy = np.array([q.accuracy for q in history], np.float64)
    cost = np.array([q.cost for q in history], np.float64)
    networks = np.array([q.network for q in history], np.int64)
    scores = []
    for budget in budgets_s:
        within = spent <= budget
        scores.append(Score(float(budget),
                            hypervolume(accuracy[within], cost[within], front.normalizer)
                            / front.hypervolume,
                            igd(accuracy[within], cost[within], front),
                            int(within.sum()), int(np.unique(networks[within]).size)))
    return scores


def budget_to_reach(history: Sequence[Query], front: TrueFront, fraction: float) -> float:
    """The least budget (s) at which the found pairs reach ``fraction`` of the true hypervolume;
    ``inf`` if the history never does. The ratio never falls as queries are added, so the first
    crossing is found by bisection over the history's prefixes."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    accuracy = np.array([q.accuracy for q in history], np.float64)
    cost = np.array([q.cost for q in history], np.float64)
    target = fraction * front.hypervolume - 1e-12

    def reached(count: int) -> bool:
        return hypervolume(accuracy[:count], cost[:count], front.normalizer) >= target

    if not len(history) or not reached(len(history)):
        return float("inf")
    low, high = 0, len(history)  # reached(high), not reached(low) (an empty set has volume 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reached(middle) else (middle, high)
    return float(history[high - 1].spent_s)


class FrontGap(NamedTuple):
    """How far one pair lands from the true front, in both directions.

    Attributes:
      accuracy_gain: the most accuracy any pair of the problem adds at no more than the pair's
        cost (0 when none is better; accuracy units, e.g. 0.005 = half a point).
      cost_ratio: the least cost any pair of the problem needs for at least the pair's accuracy,
        over the pair's cost (1 when none is cheaper).
    """

    accuracy_gain: float
    cost_ratio: float

    def within(self, accuracy_points: float = 0.005, cost_factor: float = 0.9) -> bool:
        """On the true front up to epsilon: no pair adds ``accuracy_points`` or more at no more
        cost, and none reaches its accuracy at ``cost_factor`` x its cost or less (issue 13)."""
        return self.accuracy_gain < accuracy_points and self.cost_ratio > cost_factor


def front_gap(front: TrueFront, accuracy: float, cost: float) -> FrontGap:
    """:class:`FrontGap` of a pair with ``accuracy`` and ``cost`` (a pair of the front's problem).

    The true front suffices: every pair of the problem is weakly dominated by a front point.
    """
    if not cost > 0:
        raise ValueError(f"cost must be > 0, got {cost!r}")
    cheaper = front.accuracy[front.cost <= cost]
    gain = max(float(cheaper.max()) - accuracy, 0.0) if len(cheaper) else 0.0
    as_good = front.cost[front.accuracy >= accuracy]
    ratio = min(float(as_good.min()) / cost, 1.0) if len(as_good) else 1.0
    return FrontGap(gain, ratio)


def one_seed_ceiling(values: np.ndarray) -> list[float]:
    """Per seed s of ``values`` [N, S] (a table's accuracy per network and seed): Kendall's tau-b
    of column s against the mean of the other columns, how well one full training ranks."""
    import scipy.stats

    values = np.asarray(values, np.float64)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"one_seed_ceiling needs values [N, S] with S >= 2 seeds, got shape "
                         f"{values.shape}")
    return [float(scipy.stats.kendalltau(values[:, s],
                                         np.delete(values, s, axis=1).mean(axis=1)).statistic)
            for s in range(values.shape[1])]
