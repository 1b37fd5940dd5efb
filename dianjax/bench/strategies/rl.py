"""Codesign-NAS: REINFORCE controllers over the CNN space and the accelerator space.

Abdelfattah, Dudziak, Chau, Lee, Kim, Lane, "Best of Both Worlds: AutoML Codesign of a CNN and its
Hardware Accelerator", DAC 2020 (arXiv:2002.05022). A controller samples the discrete decisions of a
(network, accelerator) pair, the pair is evaluated, and a scalar reward built from its metrics
trains the controller by policy gradient. The paper compares three ways to split the decisions
between controllers, all three here on one implementation:

- ``rl_combined``: one controller samples the network's and the accelerator's decisions as one
  sequence (so the accelerator's decisions are conditioned on the network's);
- ``rl_phase``: a network controller and an accelerator controller take turns: a CNN phase of
  ``cnn_phase_steps`` steps samples networks with the accelerator fixed at the best pair found so
  far, then an HW phase of ``hw_phase_steps`` steps samples accelerators with the network fixed at
  the best pair found so far, and so on;
- ``rl_separate``: two independent controllers, one for each space, sample every step and are both
  updated with the pair's reward.

One step, stage by stage:

1. *Sample*: each controller draws its decisions in order; decision ``i`` is categorical with
   logits ``b_i + (1/i) sum_{j<i} W_ij[a_j]`` (a bias per choice plus the mean of one learned
   vector per choice of every earlier decision of the same controller; the mean keeps every
   decision's logits moving at the same pace under Adam, whatever its position).
2. *Evaluate*: ``oracle.evaluate_decisions`` -> (accuracy, cost); repeats are free and answered.
3. *Normalize* with what this run has observed so far (never the true front): accuracy and
   ``log10(cost)`` are mapped to [0, 1] by their running minimum and maximum.
4. *Reward*: ``R = w * accuracy_n + (1 - w) * (1 - cost_n)`` for accuracy weight ``w``; with a
   constraint ``max_cost`` a violating pair instead gets the punishment
   ``R = -log10(cost / max_cost)`` (< 0, so every feasible pair outranks every violating one, and
   the further past the constraint, the lower).
5. *Update*: REINFORCE with an exponential-moving-average baseline ``b``: the controller's
   parameters take one Adam ascent step on ``(R - b) * grad log pi(decisions)``, then
   ``b <- decay * b + (1 - decay) * R`` (``b`` starts at the first reward).

Pareto front from a scalar reward: the paper covers a front by running the search with different
reward weights. Here one run goes through the accuracy weights of ``weights`` in turn: a search
(fresh controllers and baseline) runs with one weight until it converges, i.e. goes ``patience``
steps without evaluating a new pair (repeats are free, so a converged controller would otherwise
stall the run for ever), then a fresh search starts with the next weight, cycling. The run ends when
the oracle is exhausted or every pair is evaluated. The normalization is shared by all searches.

Where this follows the paper and where it does not:

- REINFORCE, moving-average baseline, weighted sum of normalized metrics, negative reward for a
  violated constraint, the three strategies and the phase strategy's "best found so far" are the
  paper's. No entropy bonus: the paper mentions none.
- Controller: the paper uses an LSTM. Here a log-linear autoregressive softmax (step 1) in numpy,
  fast and exact to differentiate for spaces of a few dozen decisions. It keeps the one property
  the three strategies differ by: the combined controller conditions accelerator decisions on the
  network decisions, the separate controllers cannot (with independent logits per decision the
  combined and separate strategies would be the same algorithm).
- Normalization: the paper normalizes the metrics to known ranges; the true ranges are ground
  truth here, so the running observed range is used instead (cost on a log axis, as the scoring
  in :mod:`dianjax.bench.quality` does). The punishment is measured in decades of cost past the
  constraint (a fixed transform, defined from the first observation on).
- Weights: the paper runs one search per weight. Measured on a synthetic 768-network x
  48-accelerator problem whose choices raise accuracy and cost together (8 seeds, hypervolume
  ratio of combined / phase / separate): at 2 % of the exhaustive budget, one search per weight
  in turn (this module) 0.79 / 0.85 / 0.78, the weight cycled per episode over interleaved
  searches 0.70 / 0.71 / 0.70 (the budget split five ways, none converges; random search 0.70),
  one fixed weight 0.79 / 0.82 / 0.77; at 15 %: 0.96 / 0.99 / 0.96, 0.96 / 0.98 / 0.96 and
  0.93 / 0.96 / 0.94 (one weight reaches only part of the front).
- Phase lengths: the defaults (10 CNN steps, 10 HW steps) are not the paper's; on the problem
  above they scored 0.85 at 2 % of the budget against 0.76 for 40 / 10.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dianjax.bench.oracle import Oracle
from sim import checks

DEFAULT_WEIGHTS = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Accuracy weights ``w`` the searches cycle through (cost weight ``1 - w``), from cost-led to
accuracy-led, so that one run reaches both ends of the front."""

_ADAM_B1, _ADAM_B2, _ADAM_EPS = 0.9, 0.999, 1e-8


class _Controller:
    """An autoregressive categorical policy over ``radices`` with its Adam state and baseline.

    Parameters live in one flat vector: for decision ``i`` a bias block of ``radices[i]`` logits,
    then for every earlier decision ``j`` a ``radices[j] x radices[i]`` block whose row ``a_j``,
    divided by ``i``, is added to decision ``i``'s logits.
    """

    def __init__(self, radices: Sequence[int]):
        self.radices = tuple(radices)
        self._bias_at, self._pair_at = [], []
        size = 0
        for i, r in enumerate(self.radices):
            self._bias_at.append(size)
            size += r
            pairs = []
            for j in range(i):
                pairs.append(size)
                size += self.radices[j] * r
            self._pair_at.append(pairs)
        self.params = np.zeros(size)
        self._m = np.zeros(size)
        self._v = np.zeros(size)
        self._t = 0
        self.baseline: float | None = None

    def _logits(self, i: int, actions: Sequence[int]) -> np.ndarray:
        r = self.radices[i]
        logits = self.params[self._bias_at[i]:self._bias_at[i] + r].copy()
        for j, at in enumerate(self._pair_at[i]):
            start = at + actions[j] * r
            logits += self.params[start:start + r] / i
        return logits

    def sample(self, rng: np.random.Generator) -> tuple[tuple[int, ...], list[np.ndarray]]:
        """Decisions drawn in order, and the probabilities each was drawn from."""
        actions, probs = [], []
        for i in range(len(self.radices)):
            logits = self._logits(i, actions)
            p = np.exp(logits - logits.max())
            p /= p.sum()
            choice = int(np.searchsorted(np.cumsum(p), rng.random(), side="right"))
            actions.append(min(choice, len(p) - 1))
            probs.append(p)
        return tuple(actions), probs

    def update(self, actions: Sequence[int], probs: Sequence[np.ndarray], reward: float,
               learning_rate: float, baseline_decay: float) -> None:
        """One REINFORCE step with the moving-average baseline (module doc, step 5)."""
        if self.baseline is None:
            self.baseline = reward
            return
        advantage = reward - self.baseline
        self.baseline = baseline_decay * self.baseline + (1 - baseline_decay) * reward
        grad = np.zeros_like(self.params)
        for i, (action, p) in enumerate(zip(actions, probs)):
            r = self.radices[i]
            g = -advantage * p
            g[action] += advantage  # d log softmax(logits)[action] / d logits = onehot - p
            grad[self._bias_at[i]:self._bias_at[i] + r] += g
            for j, at in enumerate(self._pair_at[i]):
                start = at + actions[j] * r
                grad[start:start + r] += g / i
        self._t += 1
        self._m = _ADAM_B1 * self._m + (1 - _ADAM_B1) * grad
        self._v = _ADAM_B2 * self._v + (1 - _ADAM_B2) * grad**2
        m_hat = self._m / (1 - _ADAM_B1**self._t)
        v_hat = self._v / (1 - _ADAM_B2**self._t)
        self.params += learning_rate * m_hat / (np.sqrt(v_hat) + _ADAM_EPS)


class _Observations:
    """Every distinct pair this run has evaluated, and the running ranges that normalize rewards."""

    def __init__(self):
        self.pairs: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[float, float]] = {}
        self.accuracy_range = (math.inf, -math.inf)
        self.log_cost_range = (math.inf, -math.inf)

    def add(self, network, accelerator, accuracy: float, cost: float) -> bool:
        """Records the answer; True if the pair is new to this run."""
        log_cost = math.log10(cost)
        self.accuracy_range = (min(self.accuracy_range[0], accuracy),
                               max(self.accuracy_range[1], accuracy))
        self.log_cost_range = (min(self.log_cost_range[0], log_cost),
                               max(self.log_cost_range[1], log_cost))
        key = (tuple(network), tuple(accelerator))
        new = key not in self.pairs
        self.pairs[key] = (accuracy, cost)
        return new

    def reward(self, accuracy, cost, weight: float, max_cost: float | None):
        """Module doc, steps 3-4; ``accuracy`` and ``cost`` may be arrays."""
        accuracy, log_cost = np.asarray(accuracy, np.float64), np.log10(cost)
        accuracy_n = _unit(accuracy, self.accuracy_range)
        cost_n = _unit(log_cost, self.log_cost_range)
        reward = weight * accuracy_n + (1 - weight) * (1 - cost_n)
        if max_cost is not None:
            violation = log_cost - math.log10(max_cost)
            reward = np.where(violation > 0, -violation, reward)
        return reward

    def best(self, weight: float, max_cost: float | None):
        """The (network, accelerator) decisions of the highest-reward pair seen (first on ties)."""
        keys = list(self.pairs)
        accuracy, cost = np.array([self.pairs[k] for k in keys]).T
        return keys[int(np.argmax(self.reward(accuracy, cost, weight, max_cost)))]


def _unit(values, value_range: tuple[float, float]):
    low, high = value_range
    if high <= low:
        return np.full_like(values, 0.5)
    return (values - low) / (high - low)


class _Search:
    """One scalarized search: its accuracy weight, its controllers and (phase) its phase state.

    A fresh search has uniform policies and no baseline; the phase strategy starts with a CNN phase
    on a uniformly drawn accelerator (a restart that went back to the best pair so far would
    repeat the phases whose pairs are all evaluated).
    """

    def __init__(self, strategy: str, weight: float, network_choices, accelerator_choices):
        self.weight = weight
        if strategy == "combined":
            self.controllers = [_Controller(network_choices + accelerator_choices)]
        else:
            self.controllers = [_Controller(network_choices), _Controller(accelerator_choices)]
        self.stale_steps = 0
        self.phase = 1  # phase strategy: 0 = CNN phase, 1 = HW phase; the first switch -> CNN
        self.phase_steps_left = 0
        self.fixed: tuple[tuple[int, ...], tuple[int, ...]] | None = None


def _run(oracle: Oracle, rng: np.random.Generator, strategy: str, weights: Sequence[float],
         max_cost: float | None, learning_rate: float, baseline_decay: float, patience: int,
         cnn_phase_steps: int, hw_phase_steps: int) -> None:
    owner = f"rl_{strategy}"
    weights = tuple(weights)
    if not weights:
        raise ValueError(f"{owner}.weights must name at least one accuracy weight")
    for index, weight in enumerate(weights):
        checks.number_in(owner, f"weights[{index}]", weight, 0.0, 1.0)
    if max_cost is not None:
        checks.positive_number(owner, "max_cost", max_cost)
    checks.positive_number(owner, "learning_rate", learning_rate)
    checks.number_in(owner, "baseline_decay", baseline_decay, 0.0, 1.0, high_open=True)
    checks.positive_int(owner, "patience", patience)
    checks.positive_int(owner, "cnn_phase_steps", cnn_phase_steps)
    checks.positive_int(owner, "hw_phase_steps", hw_phase_steps)

    problem = oracle.problem
    num_pairs = problem.num_networks * problem.num_accelerators
    num_layers = len(problem.network_choices)
    seen = _Observations()
    searches_started = 0
    search = _Search(strategy, float(weights[0]), problem.network_choices,
                     problem.accelerator_choices)
    while not oracle.exhausted and len(seen.pairs) < num_pairs:
        if strategy == "combined":
            decisions, probs = search.controllers[0].sample(rng)
            network, accelerator = decisions[:num_layers], decisions[num_layers:]
            learners = [(search.controllers[0], decisions, probs)]
        elif strategy == "separate":
            network, network_probs = search.controllers[0].sample(rng)
            accelerator, accelerator_probs = search.controllers[1].sample(rng)
            learners = [(search.controllers[0], network, network_probs),
                        (search.controllers[1], accelerator, accelerator_probs)]
        else:
            if search.phase_steps_left == 0:
                search.phase = 1 - search.phase
                search.phase_steps_left = hw_phase_steps if search.phase else cnn_phase_steps
                if search.fixed is None:
                    search.fixed = ((), tuple(int(rng.integers(r))
                                              for r in problem.accelerator_choices))
                else:
                    search.fixed = seen.best(search.weight, max_cost)
            search.phase_steps_left -= 1
            controller = search.controllers[search.phase]
            decisions, probs = controller.sample(rng)
            if search.phase == 0:
                network, accelerator = decisions, search.fixed[1]
            else:
                network, accelerator = search.fixed[0], decisions
            learners = [(controller, decisions, probs)]
        accuracy, cost = oracle.evaluate_decisions(network, accelerator)
        new = seen.add(network, accelerator, accuracy, cost)
        search.stale_steps = 0 if new else search.stale_steps + 1
        reward = float(seen.reward(accuracy, cost, search.weight, max_cost))
        for controller, decisions, probs in learners:
            controller.update(decisions, probs, reward, learning_rate, baseline_decay)
        if search.stale_steps >= patience:  # converged: restart on the next weight
            searches_started += 1
            search = _Search(strategy, float(weights[searches_started % len(weights)]),
                             problem.network_choices, problem.accelerator_choices)


def rl_combined(oracle: Oracle, rng: np.random.Generator, *,
                weights: Sequence[float] = DEFAULT_WEIGHTS, max_cost: float | None = None,
                learning_rate: float = 0.1, baseline_decay: float = 0.9,
                patience: int = 100) -> None:
    """Codesign-NAS *combined*: one controller samples the network and accelerator decisions.

    Args:
      oracle: answers and charges the queries; the run stops once it is exhausted or every pair
        has been evaluated.
      rng: the only source of randomness (the same generator state gives the same queries).
      weights: accuracy weights ``w`` in [0, 1] the successive searches cycle through; the cost
        weight is ``1 - w`` (module doc).
      max_cost: optional constraint; a pair dearer than this is punished (module doc, step 4).
      learning_rate: Adam step size on the controller's logits.
      baseline_decay: decay of the exponential-moving-average reward baseline, in [0, 1).
      patience: steps without a new pair after which a search counts as converged and a fresh
        one starts with the next weight.

    Returns:
      None; the evaluated pairs are in ``oracle.history``.
    """
    _run(oracle, rng, "combined", weights, max_cost, learning_rate, baseline_decay, patience, 1, 1)


def rl_phase(oracle: Oracle, rng: np.random.Generator, *,
             weights: Sequence[float] = DEFAULT_WEIGHTS, max_cost: float | None = None,
             learning_rate: float = 0.1, baseline_decay: float = 0.9, patience: int = 100,
             cnn_phase_steps: int = 10, hw_phase_steps: int = 10) -> None:
    """Codesign-NAS *phase*: alternate a CNN phase and an HW phase, each fixing the other half at
    the best pair found so far (by the search's own reward).

    Args:
      oracle, rng, weights, max_cost, learning_rate, baseline_decay, patience: as for
        :func:`rl_combined`.
      cnn_phase_steps: steps of each CNN phase (network controller, accelerator fixed).
      hw_phase_steps: steps of each HW phase (accelerator controller, network fixed).

    Returns:
      None; the evaluated pairs are in ``oracle.history``.
    """
    _run(oracle, rng, "phase", weights, max_cost, learning_rate, baseline_decay, patience,
         cnn_phase_steps, hw_phase_steps)


def rl_separate(oracle: Oracle, rng: np.random.Generator, *,
                weights: Sequence[float] = DEFAULT_WEIGHTS, max_cost: float | None = None,
                learning_rate: float = 0.1, baseline_decay: float = 0.9,
                patience: int = 100) -> None:
    """Codesign-NAS *separate*: independent network and accelerator controllers sample every step
    and are both updated with the pair's reward.

    Args:
      oracle, rng, weights, max_cost, learning_rate, baseline_decay, patience: as for
        :func:`rl_combined`.

    Returns:
      None; the evaluated pairs are in ``oracle.history``.
    """
    _run(oracle, rng, "separate", weights, max_cost, learning_rate, baseline_decay, patience, 1, 1)
