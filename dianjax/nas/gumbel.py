"""Gumbel-softmax relaxation of per-layer categorical choices (network ops, hardware options).

Convention: ``logits`` is float[L, K], one row of K unnormalized log-probabilities per choice; a
boolean ``mask`` [L, K] marks the options that exist (unavailable ones get logit -inf, so they are
never sampled and get zero weight). Soft samples are ``softmax((logits + g) / tau)`` with Gumbel noise
``g`` (Jang et al., "Categorical Reparameterization with Gumbel-Softmax", ICLR 2017; Maddison et al.,
"The Concrete Distribution", ICLR 2017); hard samples are the straight-through estimator: an exact
one-hot vector in the forward pass, the soft sample's gradient in the backward pass. The temperature
``tau`` is unitless and may be a traced value (annealed during a search, as in FBNet).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np


def mask_logits(logits: jax.Array, mask=None) -> jax.Array:
    """``logits`` with unavailable options (``mask`` false) set to -inf; no-op if ``mask`` is None."""
    if mask is None:
        return logits
    chex.assert_equal_shape((logits, mask))
    if isinstance(mask, np.ndarray) and not mask.any(axis=-1).all():
        bad = np.flatnonzero(~mask.any(axis=-1)).tolist()
        raise ValueError(f"mask rows {bad} allow no option; allowed: at least one True per row")
    return jnp.where(mask, logits, -jnp.inf)


def probabilities(logits: jax.Array, mask=None) -> jax.Array:
    """Noise-free choice probabilities ``softmax(logits)`` over available options, float[L, K]."""
    return jax.nn.softmax(mask_logits(logits, mask), axis=-1)


def entropy(logits: jax.Array, mask=None) -> jax.Array:
    """Entropy (nats) of each row's choice distribution, float[L]; unavailable options contribute 0."""
    log_p = jax.nn.log_softmax(mask_logits(logits, mask), axis=-1)
    p = jnp.exp(log_p)
    return -jnp.sum(jnp.where(p > 0, p * log_p, 0.0), axis=-1)


def straight_through(soft: jax.Array) -> jax.Array:
    """One-hot of each row's argmax in the forward pass, the gradient of ``soft`` in the backward pass.

    Written as ``one_hot + (soft - stop_gradient(soft))`` so the forward value is exactly one-hot.
    """
    hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), soft.shape[-1], dtype=soft.dtype)
    return hard + (soft - jax.lax.stop_gradient(soft))


def gumbel_softmax(key: jax.Array, logits: jax.Array, temperature, hard: bool,
                   mask=None) -> jax.Array:
    """A relaxed sample of one option per row of ``logits``.

    Args:
      key: PRNG key for the Gumbel noise.
      logits: float[L, K] unnormalized log-probabilities.
      temperature: scalar > 0; lower is closer to one-hot.
      hard: if True, straight-through: exactly one-hot forward, soft-sample gradient backward.
      mask: optional bool[L, K]; options where it is False get weight 0 and are never selected.

    Returns:
      float[L, K] weights; each row sums to 1.
    """
    chex.assert_rank(logits, 2)
    chex.assert_type(logits, float)
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(f"gumbel_softmax temperature must be > 0, got {temperature!r}")
    gumbel = jax.random.gumbel(key, logits.shape, dtype=logits.dtype)
    soft = jax.nn.softmax((mask_logits(logits, mask) + gumbel) / temperature, axis=-1)
    return straight_through(soft) if hard else soft


def argmax_weights(logits: jax.Array, mask=None) -> jax.Array:
    """Deterministic one-hot weights of each row's most likely available option, float[L, K]."""
    masked = mask_logits(logits, mask)
    return jax.nn.one_hot(jnp.argmax(masked, axis=-1), logits.shape[-1], dtype=logits.dtype)


def annealed_temperature(step, initial: float, final: float, num_steps: int):
    """Exponential temperature schedule from ``initial`` at step 0 to ``final`` at ``num_steps``.

    FBNet (Wu et al. 2019, Sec. 3.3) multiplies the temperature by a constant factor every epoch;
    this is the same decay per step, held at ``final`` after ``num_steps``. Works on traced steps.
    """
    if not (initial > 0 and final > 0):
        raise ValueError(f"annealed_temperature needs initial > 0 and final > 0, got initial="
                         f"{initial!r}, final={final!r}")
    if num_steps < 1:
        raise ValueError(f"annealed_temperature num_steps must be >= 1, got {num_steps!r}")
    fraction = jnp.clip(jnp.asarray(step, jnp.float32) / num_steps, 0.0, 1.0)
    return initial * (final / initial) ** fraction
