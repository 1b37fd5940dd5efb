"""Heteroscedastic deep-ensemble surrogate: predicts design objectives with two kinds of uncertainty.

Each ensemble member is a Flax MLP with two heads, the mean and an input-dependent (aleatoric)
variance ``softplus(raw) + min_variance``, trained with the Gaussian negative log-likelihood
(Nix & Weigend, 1994). The epistemic term comes from a *deep ensemble* (Lakshminarayanan et al.,
2017): members differ only in their PRNG key (initial weights) and are trained in one ``vmap``;
their disagreement is the epistemic variance. We chose the ensemble over BOSHCODE's teacher/student
with MC-dropout (Tuli et al., 2023) because it is deterministic: the acquisition built on it is a
smooth function of the input, so its gradient and Hessian are exact — what the second-order input
optimizer needs — whereas MC-dropout gives a noisy objective, and a student network only
approximates the teacher's spread. Hidden layers use SiLU, not ReLU: a ReLU network is piecewise
linear, so its input Hessian would be zero almost everywhere.

Targets are a vector of ``K`` objectives, standardized per objective before training; predictions
are returned in the original units. :func:`predict_utility` gives a linear scalarization
``u = sum_k w_k y_k``, whose epistemic variance is the spread of the members' ``u`` (exact for the
ensemble) and whose aleatoric variance is ``sum_k w_k^2 var_k`` (objectives' noise independent).

Training is full batch with ``optax.adamw``; the data are padded with masked rows to a power-of-two
bucket so that a growing data set reuses one compiled program per bucket.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from sim import checks


@dataclasses.dataclass(frozen=True)
class SurrogateConfig:
    """Architecture and training schedule of the ensemble (hashable: a static jit argument).

    Attributes:
      hidden_sizes: widths of the SiLU hidden layers of every member.
      num_members: ensemble size.
      num_steps: full-batch Adam steps per fit.
      learning_rate: Adam step size.
      weight_decay: decoupled weight decay (AdamW).
      min_variance: floor of the predicted variance, in standardized target units.
    """

    hidden_sizes: tuple[int, ...] = (64, 64)
    num_members: int = 5
    num_steps: int = 1000
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    min_variance: float = 1e-3

    def __post_init__(self):
        owner = "SurrogateConfig"
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        if not self.hidden_sizes:
            raise ValueError(f"{owner}.hidden_sizes must hold at least one width, got ()")
        for width in self.hidden_sizes:
            checks.positive_int(owner, "hidden_sizes", width)
        checks.positive_int(owner, "num_members", self.num_members)
        checks.positive_int(owner, "num_steps", self.num_steps)
        checks.positive_number(owner, "learning_rate", self.learning_rate)
        if not 0 <= self.weight_decay < float("inf"):
            raise ValueError(f"{owner}.weight_decay must be a finite number >= 0, "
                             f"got {self.weight_decay!r}")
        checks.positive_number(owner, "min_variance", self.min_variance)


class HeteroscedasticMLP(nn.Module):
    """MLP mapping inputs ``(..., F)`` to a mean and a positive variance, each ``(..., K)``."""

    hidden_sizes: Sequence[int]
    num_outputs: int
    min_variance: float

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = x
        for width in self.hidden_sizes:
            h = nn.silu(nn.Dense(width)(h))
        mean = nn.Dense(self.num_outputs, name="mean")(h)
        variance = nn.softplus(nn.Dense(self.num_outputs, name="raw_variance")(h)) + self.min_variance
        return mean, variance


class Ensemble(NamedTuple):
    """A fitted ensemble: member parameters stacked on axis 0, and the target standardization."""

    params: chex.ArrayTree
    target_mean: jax.Array  # (K,), objective units
    target_std: jax.Array   # (K,), objective units


class Prediction(NamedTuple):
    """Predictive moments in objective units: each ``(B, K)`` per objective, or ``(B,)`` scalarized."""

    mean: jax.Array
    aleatoric_var: jax.Array
    epistemic_var: jax.Array


def gaussian_nll(mean: jax.Array, variance: jax.Array, target: jax.Array) -> jax.Array:
    """Elementwise Gaussian negative log-likelihood, without the constant ``0.5 log(2 pi)``."""
    return 0.5 * (jnp.log(variance) + (target - mean) ** 2 / variance)


def _module(config: SurrogateConfig, num_outputs: int) -> HeteroscedasticMLP:
    return HeteroscedasticMLP(config.hidden_sizes, num_outputs, config.min_variance)


def _bucket(num_rows: int) -> int:
    return max(16, 1 << (num_rows - 1).bit_length())


@functools.partial(jax.jit, static_argnames=("config",))
def _fit_standardized(config: SurrogateConfig, x: jax.Array, y: jax.Array, mask: jax.Array,
                      key: jax.Array) -> chex.ArrayTree:
    module = _module(config, y.shape[-1])
    optimizer = optax.adamw(config.learning_rate, weight_decay=config.weight_decay)

    def loss_fn(params):
        mean, variance = module.apply(params, x)
        per_row = jnp.sum(gaussian_nll(mean, variance, y), axis=-1)
        return jnp.sum(mask * per_row) / jnp.sum(mask)

    def fit_one(member_key):
        params = module.init(member_key, x[:1])
        state = optimizer.init(params)

        def step(carry, _):
            params, state = carry
            grads = jax.grad(loss_fn)(params)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, state), None, length=config.num_steps)
        return params

    return jax.vmap(fit_one)(jax.random.split(key, config.num_members))


def fit(config: SurrogateConfig, x: np.ndarray, y: np.ndarray, key: jax.Array) -> Ensemble:
    """Trains a fresh ensemble on inputs ``x (N, F)`` and objectives ``y (N, K)``.

    Args:
      config: architecture and schedule.
      x: encoded designs.
      y: objective values (any units; standardized internally).
      key: PRNG key; member ``i`` is initialized from ``split(key, num_members)[i]``.

    Returns:
      The fitted :class:`Ensemble`.
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(f"fit: x must be (N, F) and y (N, K) with the same N >= 2, "
                         f"got x {x.shape} and y {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("fit: x and y must be finite")
    target_mean = y.mean(axis=0)
    target_std = np.maximum(y.std(axis=0), 1e-6 * np.maximum(np.abs(target_mean), 1.0))
    rows = _bucket(x.shape[0])
    pad = rows - x.shape[0]
    x_padded = np.pad(x, ((0, pad), (0, 0)))
    y_padded = np.pad((y - target_mean) / target_std, ((0, pad), (0, 0)))
    mask = np.concatenate([np.ones(x.shape[0], np.float32), np.zeros(pad, np.float32)])
    params = _fit_standardized(config, jnp.asarray(x_padded), jnp.asarray(y_padded),
                               jnp.asarray(mask), key)
    return Ensemble(params, jnp.asarray(target_mean), jnp.asarray(target_std))


def member_moments(config: SurrogateConfig, ensemble: Ensemble,
                   x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each member's mean and aleatoric variance at ``x (B, F)``, ``(E, B, K)``, objective units."""
    chex.assert_rank(x, 2)
    module = _module(config, ensemble.target_mean.shape[-1])
    mean, variance = jax.vmap(module.apply, in_axes=(0, None))(ensemble.params, x)
    return (mean * ensemble.target_std + ensemble.target_mean,
            variance * ensemble.target_std ** 2)


def predict(config: SurrogateConfig, ensemble: Ensemble, x: jax.Array) -> Prediction:
    """Per-objective predictive moments at ``x (B, F)``: mean, aleatoric and epistemic variance."""
    means, variances = member_moments(config, ensemble, x)
    return Prediction(means.mean(axis=0), variances.mean(axis=0), means.var(axis=0))


def predict_utility(config: SurrogateConfig, ensemble: Ensemble, weights: jax.Array,
                    x: jax.Array) -> Prediction:
    """Moments of the utility ``sum_k weights[k] * y_k`` at ``x (B, F)``, each ``(B,)``."""
    means, variances = member_moments(config, ensemble, x)
    chex.assert_shape(weights, (means.shape[-1],))
    utilities = means @ weights
    return Prediction(utilities.mean(axis=0), (variances @ weights ** 2).mean(axis=0),
                      utilities.var(axis=0))
