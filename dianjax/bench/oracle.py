"""The oracle every co-search strategy queries, and the budget it is charged on one axis.

A co-design *problem* is two categorical spaces and the ground truth over their product:

- networks: one choice per searchable layer (``network_choices[l]`` options at layer ``l``),
  enumerated in mixed-radix order (last layer fastest), ``N = prod(network_choices)``;
- accelerators: one choice per hardware knob (``accelerator_choices[k]`` options), same order,
  ``A = prod(accelerator_choices)``;
- ``accuracy[n]``: the network's search_val accuracy (the benchmark table's mean over seeds);
- ``cost[n, a]``: the objective cost of the pair (e.g. EDP, in the table's exact prices).

Budget (Codesign-NAS / HW-NAS-Bench style, one axis in seconds): a query of pair ``(n, a)`` is
charged the network's recorded training time ``train_s[n]`` the first time network ``n`` is queried
(never again), plus ``price_s`` the first time the pair is priced. Repeated queries are free. The
oracle records every new pair with the budget spent after it, so any budget checkpoint can be
scored afterwards from the history (:mod:`dianjax.bench.quality`).

With a ``clock`` (the comparison passes ``time.perf_counter``), the strategy's own compute is
charged too: the time between the oracle's creation or its previous answer and the next query
(a surrogate's fit, a sampler's proposal, a controller's update). The budget is then what the
search would take on this machine with real training and pricing, the axis the joint search's
wall time is on; without one (tests, synthetic problems) the charges are deterministic.

Strategies never see the test accuracy, the true front, or the arrays: only :meth:`Oracle.evaluate`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from sim import checks


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """Ground truth of one (network space x accelerator space) co-design problem.

    Attributes:
      network_choices: options per searchable layer (radices of the network index).
      accelerator_choices: options per hardware knob (radices of the accelerator index).
      accuracy: float[N] search_val accuracy per network (higher is better).
      cost: float[N, A] objective cost per pair (lower is better, > 0).
      train_s: float[N] seconds charged the first time a network is queried.
      price_s: seconds charged the first time a pair is priced.
      metric: the name of the cost (e.g. ``"edp_pj_s"``), for reports.
    """

    network_choices: tuple[int, ...]
    accelerator_choices: tuple[int, ...]
    accuracy: np.ndarray
    cost: np.ndarray
    train_s: np.ndarray
    price_s: float
    metric: str = "cost"

    def __post_init__(self):
        owner = "Problem"
        for field in ("network_choices", "accelerator_choices"):
            values = tuple(int(v) for v in getattr(self, field))
            object.__setattr__(self, field, values)
            if not values:
                raise ValueError(f"{owner}.{field} must name at least one choice")
            for index, value in enumerate(values):
                checks.positive_int(f"{owner}.{field}", f"[{index}]", value)
        shape = (self.num_networks, self.num_accelerators)
        for field, expected in (("accuracy", shape[:1]), ("cost", shape), ("train_s", shape[:1])):
            array = np.asarray(getattr(self, field), np.float64)
            object.__setattr__(self, field, array)
            if array.shape != expected:
                raise ValueError(f"{owner}.{field} must have shape {expected} (from the choices), "
                                 f"got {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"{owner}.{field} must be finite")
        if (self.cost <= 0).any():
            raise ValueError(f"{owner}.cost must be > 0 (it is compared on a log axis)")
        if (self.train_s < 0).any():
            raise ValueError(f"{owner}.train_s must be >= 0")
        checks.number_in(owner, "price_s", self.price_s, 0, math.inf, high_open=True)

    @property
    def num_networks(self) -> int:
        return math.prod(self.network_choices)

    @property
    def num_accelerators(self) -> int:
        return math.prod(self.accelerator_choices)

    def network_index(self, decisions: Sequence[int]) -> int:
        """The network with choice ``decisions[l]`` at every layer ``l``."""
        return _ravel(decisions, self.network_choices, "network decisions")

    def network_decisions(self, index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in np.unravel_index(index, self.network_choices))

    def accelerator_index(self, decisions: Sequence[int]) -> int:
        """The accelerator with choice ``decisions[k]`` of every knob ``k``."""
        return _ravel(decisions, self.accelerator_choices, "accelerator decisions")

    def accelerator_decisions(self, index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in np.unravel_index(index, self.accelerator_choices))

    def exhaustive_budget_s(self) -> float:
        """What evaluating every pair costs: every network trained once, every pair priced."""
        return float(self.train_s.sum() + self.price_s * self.cost.size)


def _ravel(decisions: Sequence[int], radices: tuple[int, ...], name: str) -> int:
    decisions = tuple(int(v) for v in decisions)
    if len(decisions) != len(radices) or any(not 0 <= d < r for d, r in zip(decisions, radices)):
        raise ValueError(f"{name} must be {len(radices)} choices with 0 <= d[i] < {list(radices)}"
                         f"[i], got {list(decisions)}")
    return int(np.ravel_multi_index(decisions, radices))


class Query(NamedTuple):
    """One newly evaluated pair and the budget spent once it was answered."""

    network: int
    accelerator: int
    accuracy: float
    cost: float
    spent_s: float


class Oracle:
    """Answers ``(network, accelerator) -> (accuracy, cost)`` and charges the budget (module doc).

    ``budget_s`` is where :attr:`exhausted` turns true; the query that crosses it is still answered
    and recorded (scoring at a checkpoint uses only queries whose ``spent_s`` is within it).
    ``clock`` (seconds, e.g. ``time.perf_counter``) charges the strategy's own time between queries
    as well; ``None`` charges only training and pricing.
    """

    def __init__(self, problem: Problem, budget_s: float,
                 clock: Callable[[], float] | None = None):
        checks.positive_number("Oracle", "budget_s", budget_s)
        self.problem = problem
        self.budget_s = float(budget_s)
        self.spent_s = 0.0
        self.strategy_s = 0.0  # of spent_s, the strategy's own time (0 without a clock)
        self.history: list[Query] = []
        self._trained: set[int] = set()
        self._priced: set[tuple[int, int]] = set()
        self._clock = clock
        self._answered_at = clock() if clock is not None else 0.0

    def _charge_strategy_time(self) -> None:
        if self._clock is not None:
            thinking = max(self._clock() - self._answered_at, 0.0)
            self.strategy_s += thinking
            self.spent_s += thinking

    def _answered(self) -> None:
        if self._clock is not None:
            self._answered_at = self._clock()

    @property
    def exhausted(self) -> bool:
        return self.spent_s >= self.budget_s

    def evaluate(self, network: int, accelerator: int) -> tuple[float, float]:
        """``(accuracy, cost)`` of the pair, charging what it has not been charged yet."""
        problem = self.problem
        self._charge_strategy_time()
        network, accelerator = int(network), int(accelerator)
        accuracy, cost = self._lookup(network, accelerator)
        if (network, accelerator) not in self._priced:
            if network not in self._trained:
                self._trained.add(network)
                self.spent_s += float(problem.train_s[network])
            self._priced.add((network, accelerator))
            self.spent_s += problem.price_s
            self.history.append(Query(network, accelerator, accuracy, cost, self.spent_s))
        self._answered()
        return accuracy, cost

    def record(self, network: int, accelerator: int, charge_s: float) -> tuple[float, float]:
        """A pair found by a method that pays its own way (e.g. a supernet search, charged its
        wall time ``charge_s`` instead of training and pricing): recorded like :meth:`evaluate`'s
        pairs, and counted as trained and priced for later queries."""
        checks.number_in("Oracle.record", "charge_s", charge_s, 0, math.inf, high_open=True)
        self._charge_strategy_time()
        network, accelerator = int(network), int(accelerator)
        accuracy, cost = self._lookup(network, accelerator)
        self._trained.add(network)
        self.spent_s += float(charge_s)
        if (network, accelerator) not in self._priced:
            self._priced.add((network, accelerator))
            self.history.append(Query(network, accelerator, accuracy, cost, self.spent_s))
        self._answered()
        return accuracy, cost

    def evaluate_decisions(self, network: Sequence[int], accelerator: Sequence[int]
                           ) -> tuple[float, float]:
        """:meth:`evaluate` of the pair given by per-layer and per-knob choices."""
        return self.evaluate(self.problem.network_index(network),
                             self.problem.accelerator_index(accelerator))

    def _lookup(self, network: int, accelerator: int) -> tuple[float, float]:
        problem = self.problem
        if not 0 <= network < problem.num_networks:
            raise ValueError(f"network must be in [0, {problem.num_networks}), got {network}")
        if not 0 <= accelerator < problem.num_accelerators:
            raise ValueError(f"accelerator must be in [0, {problem.num_accelerators}), "
                             f"got {accelerator}")
        return float(problem.accuracy[network]), float(problem.cost[network, accelerator])

    @property
    def num_trained(self) -> int:
        return len(self._trained)
