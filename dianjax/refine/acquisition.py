"""Acquisition and candidate generation for surrogate refinement, after BOSHCODE (Tuli et al., 2023).

Sign convention: we *maximize* a utility ``u`` (e.g. ``accuracy - alpha * normalized_log_EDP``), and
the upper confidence bound is optimistic in both uncertainties::

    UCB(x) = mean_u(x) + k_epistemic * sqrt(epistemic_var_u(x)) + k_aleatoric * sqrt(aleatoric_var_u(x))

A round proposes one new design by one of three moves:

- ``"ucb"``: maximize the UCB with respect to the encoded input ``x`` over the space's relaxation
  (``[0, 1]`` per ordinal coordinate, the probability simplex per one-hot block), from several
  starts, then snap each end point to the nearest valid, not yet queried design, and keep the
  snapped design with the highest UCB. BOSHCODE's GOBI step, with the second-order update below.
- ``"uncertainty"``: the same with the epistemic standard deviation as objective (explore where the
  ensemble disagrees most).
- ``"diversity"``: of a pool of random unqueried valid designs, the one farthest (Euclidean, in
  encoding space) from every queried design.

Rule for choosing the move: a categorical draw per round with fixed probabilities
``move_probabilities = (p_ucb, p_uncertainty, p_diversity)``, the exploration probabilities of
BOSHCODE's query loop; the draw uses the round's PRNG key, so a round is reproducible on its own.

Input updates (``method``): both variants run the same projected trust-region loop on the
relaxation. The step is ``"newton"``: a Newton step on the local quadratic model, solved by
Steihaug-Toint conjugate gradients (Nocedal & Wright, 2006, Alg. 7.2) using Hessian-vector products
(``jax.jvp`` of ``jax.grad``: forward-over-reverse, never forming the Hessian), or ``"gradient"``: a
steepest-ascent step to the trust-region boundary (the ablation). Both work in the tangent space of
the active face, as in Bertsekas' projected Newton method: coordinates held at a bound by the
gradient are frozen, and within a simplex block the step keeps the block's sum (the gradient and the
Hessian-vector products are projected onto that subspace). The step is then projected onto the
relaxation (clipping, and Euclidean projection onto the simplex, Duchi et al., 2008). The radius
grows after a step whose actual gain matches the model's prediction and shrinks otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from dianjax.refine import surrogate
from dianjax.refine.encoding import Design, DesignSpace, EncodingBlock
from sim import checks

MOVES = ("ucb", "uncertainty", "diversity")
METHODS = ("newton", "gradient")


@dataclasses.dataclass(frozen=True)
class AcquisitionConfig:
    """How a round proposes a design (hashable: a static jit argument).

    Attributes:
      k_epistemic: weight of the epistemic standard deviation in the UCB.
      k_aleatoric: weight of the aleatoric standard deviation in the UCB.
      method: input update, ``"newton"`` (second order) or ``"gradient"`` (first order).
      num_starts: starts of the input optimization (half the best queried designs, half random).
      num_steps: trust-region iterations per start.
      cg_iterations: conjugate-gradient iterations per Newton step.
      initial_radius: first trust-region radius, in encoding units.
      move_probabilities: probabilities of the moves ``("ucb", "uncertainty", "diversity")``.
      diversity_pool: random candidates scored by the diversity move.
    """

    k_epistemic: float = 1.0
    k_aleatoric: float = 0.0
    method: str = "newton"
    num_starts: int = 8
    num_steps: int = 10
    cg_iterations: int = 8
    initial_radius: float = 0.5
    move_probabilities: tuple[float, float, float] = (0.8, 0.1, 0.1)
    diversity_pool: int = 256

    def __post_init__(self):
        owner = "AcquisitionConfig"
        for field in ("k_epistemic", "k_aleatoric"):
            value = getattr(self, field)
            if not 0 <= value < float("inf"):
                raise ValueError(f"{owner}.{field} must be a finite number >= 0, got {value!r}")
        checks.one_of(owner, "method", self.method, METHODS)
        for field in ("num_starts", "num_steps", "cg_iterations", "diversity_pool"):
            checks.positive_int(owner, field, getattr(self, field))
        checks.positive_number(owner, "initial_radius", self.initial_radius)
        probabilities = tuple(float(p) for p in self.move_probabilities)
        if (len(probabilities) != len(MOVES) or min(probabilities) < 0
                or abs(sum(probabilities) - 1) > 1e-6):
            raise ValueError(f"{owner}.move_probabilities must be {len(MOVES)} numbers >= 0 "
                             f"summing to 1 (for moves {list(MOVES)}), got {self.move_probabilities!r}")
        object.__setattr__(self, "move_probabilities", probabilities)


class Proposal(NamedTuple):
    """A proposed design, the move that found it and that move's score at the design."""

    design: Design
    move: str
    score: float


def upper_confidence_bound(prediction: surrogate.Prediction, k_epistemic: float,
                           k_aleatoric: float) -> jax.Array:
    """``mean + k_epistemic * sqrt(epistemic_var) + k_aleatoric * sqrt(aleatoric_var)``."""
    return (prediction.mean + k_epistemic * jnp.sqrt(prediction.epistemic_var)
            + k_aleatoric * jnp.sqrt(prediction.aleatoric_var))


def hessian_vector_product(f: Callable[[jax.Array], jax.Array], x: jax.Array,
                           v: jax.Array) -> jax.Array:
    """``H_f(x) @ v`` by forward-over-reverse differentiation, without forming the Hessian."""
    return jax.jvp(jax.grad(f), (x,), (v,))[1]


def _to_boundary(z: jax.Array, d: jax.Array, radius: jax.Array) -> jax.Array:
    """``z + tau d`` with ``tau >= 0`` and ``|z + tau d| = radius`` (``|z| <= radius``)."""
    a = jnp.maximum(d @ d, 1e-30)
    b = 2 * (z @ d)
    c = z @ z - radius ** 2
    tau = (-b + jnp.sqrt(jnp.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    return z + tau * d


def steihaug_cg(hvp: Callable[[jax.Array], jax.Array], gradient: jax.Array, radius: jax.Array,
                num_iterations: int) -> jax.Array:
    """Approximately maximizes ``g.p + p.H p / 2`` subject to ``|p| <= radius`` (Steihaug-Toint CG).

    Stops on the boundary when a direction of non-negative curvature (for maximization) is met or
    the iterate leaves the region, so indefinite Hessians are handled.

    Args:
      hvp: ``v -> H v`` for the Hessian ``H`` of the function being maximized.
      gradient: ``g``, the gradient at the current point.
      radius: trust-region radius.
      num_iterations: CG iterations (a fixed count, so the solver is jit- and vmap-friendly).

    Returns:
      The step ``p``.
    """
    # Minimize q(p) = c.p + p.B p / 2 with c = -g and B = -H (Nocedal & Wright, Alg. 7.2).
    tolerance = 1e-6 * jnp.maximum(jnp.linalg.norm(gradient), 1e-30)

    def body(_, carry):
        z, r, d, done = carry
        bd = -hvp(d)
        curvature = d @ bd
        rr = r @ r
        alpha = rr / jnp.where(curvature > 0, curvature, 1.0)
        z_next = z + alpha * d
        leaves = jnp.linalg.norm(z_next) >= radius
        to_edge = (curvature <= 0) | leaves
        z_edge = _to_boundary(z, d, radius)
        r_next = r + alpha * bd
        converged = jnp.linalg.norm(r_next) < tolerance
        beta = (r_next @ r_next) / jnp.maximum(rr, 1e-30)
        new_z = jnp.where(to_edge, z_edge, z_next)
        return (jnp.where(done, z, new_z), jnp.where(done | to_edge, r, r_next),
                jnp.where(done | to_edge, d, -r_next + beta * d), done | to_edge | converged)

    c = -gradient
    start = (jnp.zeros_like(gradient), c, -c, jnp.linalg.norm(c) < tolerance)
    return jax.lax.fori_loop(0, num_iterations, body, start)[0]


def project_simplex(v: jax.Array) -> jax.Array:
    """Euclidean projection of ``v (n,)`` onto the probability simplex (Duchi et al., 2008, Fig. 1)."""
    u = jnp.sort(v)[::-1]
    cumulative = jnp.cumsum(u)
    k = jnp.arange(1, v.shape[0] + 1)
    rho = jnp.max(jnp.where(u - (cumulative - 1) / k > 0, k, 1))
    return jnp.maximum(v - (cumulative[rho - 1] - 1) / rho, 0.0)


def project(x: jax.Array, blocks: Sequence[EncodingBlock]) -> jax.Array:
    """Projects ``x (F,)`` onto the relaxation: clip ordinal coordinates, simplex-project the rest."""
    return jnp.concatenate([project_simplex(x[b.start:b.stop]) if b.simplex
                            else jnp.clip(x[b.start:b.stop], 0.0, 1.0) for b in blocks])


def _free_coordinates(x: jax.Array, g: jax.Array, blocks: Sequence[EncodingBlock]) -> jax.Array:
    """Coordinates not held at a bound by the ascent direction (the active face's free ones)."""
    parts = []
    for b in blocks:
        xb, gb = x[b.start:b.stop], g[b.start:b.stop]
        if b.simplex:
            parts.append(~((xb <= 0) & (gb - gb.mean() < 0)))
        else:
            parts.append(~(((xb <= 0) & (gb < 0)) | ((xb >= 1) & (gb > 0))))
    return jnp.concatenate(parts)


def _tangent(v: jax.Array, free: jax.Array, blocks: Sequence[EncodingBlock]) -> jax.Array:
    """Orthogonal projection of ``v`` onto the face's tangent space (frozen coordinates zero,
    simplex blocks summing to zero over their free coordinates)."""
    v = jnp.where(free, v, 0.0)
    parts = []
    for b in blocks:
        vb, fb = v[b.start:b.stop], free[b.start:b.stop]
        if b.simplex:
            vb = jnp.where(fb, vb - vb.sum() / jnp.maximum(fb.sum(), 1), 0.0)
        parts.append(vb)
    return jnp.concatenate(parts)


def ascend(f: Callable[[jax.Array], jax.Array], x0: jax.Array, blocks: Sequence[EncodingBlock],
           *, method: str, num_steps: int, cg_iterations: int,
           initial_radius: float) -> tuple[jax.Array, jax.Array]:
    """Maximizes a smooth scalar ``f`` over a relaxation by projected trust-region steps.

    Args:
      f: objective of one input vector.
      x0: start, shape ``(F,)``, inside the relaxation.
      blocks: the relaxation's factors (``DesignSpace.blocks``), covering ``0..F`` in order.
      method: ``"newton"`` (Steihaug-CG on Hessian-vector products) or ``"gradient"``.
      num_steps: trust-region iterations (fixed: jit- and vmap-friendly).
      cg_iterations: CG iterations per Newton step.
      initial_radius: first trust-region radius.

    Returns:
      The final point and ``f`` there; ``f`` never decreases along the way.
    """
    checks.one_of("ascend", "method", method, METHODS)
    chex.assert_rank(x0, 1)
    blocks = tuple(blocks)
    if not blocks or blocks[0].start != 0 or blocks[-1].stop != x0.shape[0] or any(
            a.stop != b.start for a, b in zip(blocks, blocks[1:])):
        raise ValueError(f"ascend: blocks must cover coordinates 0..{x0.shape[0]} in order, "
                         f"got {blocks}")
    grad_f = jax.grad(f)
    max_radius = float(np.sqrt(sum(2.0 if b.simplex else 1.0 for b in blocks)))  # the diameter

    def step(carry, _):
        x, fx, radius = carry
        g = grad_f(x)
        free = _free_coordinates(x, g, blocks)
        g_face = _tangent(g, free, blocks)

        def hvp_face(v):
            return _tangent(hessian_vector_product(f, x, _tangent(v, free, blocks)), free, blocks)

        if method == "newton":
            p = steihaug_cg(hvp_face, g_face, radius, cg_iterations)
        else:
            p = radius * g_face / jnp.maximum(jnp.linalg.norm(g_face), 1e-30)
        x_new = project(x + p, blocks)
        s = x_new - x
        predicted = g @ s
        if method == "newton":
            predicted = predicted + 0.5 * s @ hessian_vector_product(f, x, s)
        f_new = f(x_new)
        gain = f_new - fx
        ratio = gain / jnp.where(predicted > 0, predicted, jnp.inf)
        accept = (gain > 0) & (ratio > 0.1)
        step_norm = jnp.linalg.norm(s)
        radius = jnp.where(ratio < 0.25, 0.25 * jnp.maximum(step_norm, 1e-3 * radius),
                           jnp.where((ratio > 0.75) & (step_norm > 0.99 * radius),
                                     jnp.minimum(2 * radius, max_radius), radius))
        return (jnp.where(accept, x_new, x), jnp.where(accept, f_new, fx), radius), None

    start = (x0, f(x0), jnp.asarray(initial_radius, x0.dtype))
    (x, fx, _), _ = jax.lax.scan(step, start, None, length=num_steps)
    return x, fx


def _score(surrogate_config: surrogate.SurrogateConfig, config: AcquisitionConfig, move: str,
           ensemble: surrogate.Ensemble, weights: jax.Array, x: jax.Array) -> jax.Array:
    prediction = surrogate.predict_utility(surrogate_config, ensemble, weights, x)
    if move == "ucb":
        return upper_confidence_bound(prediction, config.k_epistemic, config.k_aleatoric)
    return jnp.sqrt(prediction.epistemic_var)


@functools.partial(jax.jit, static_argnames=("surrogate_config", "config", "move", "blocks"))
def maximize_score(surrogate_config: surrogate.SurrogateConfig, config: AcquisitionConfig,
                   move: str, blocks: tuple[EncodingBlock, ...], ensemble: surrogate.Ensemble,
                   weights: jax.Array, starts: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Runs :func:`ascend` on a move's score (``"ucb"`` or ``"uncertainty"``) from every start.

    Args:
      surrogate_config, ensemble: the fitted surrogate.
      config: acquisition settings (method, steps, CG iterations, radius, UCB weights).
      move: ``"ucb"`` (the UCB of the utility) or ``"uncertainty"`` (its epistemic std).
      blocks: the relaxation (``DesignSpace.blocks``).
      weights: ``(K,)`` utility weights.
      starts: ``(S, F)`` start points in the relaxation.

    Returns:
      End points ``(S, F)`` and the score there ``(S,)``.
    """
    checks.one_of("maximize_score", "move", move, MOVES[:2])
    chex.assert_rank(starts, 2)

    def f(x):
        return _score(surrogate_config, config, move, ensemble, weights, x[None])[0]

    def run(x0):
        return ascend(f, x0, blocks, method=config.method, num_steps=config.num_steps,
                      cg_iterations=config.cg_iterations, initial_radius=config.initial_radius)

    return jax.vmap(run)(starts)


@functools.partial(jax.jit, static_argnames=("surrogate_config", "config", "move"))
def _score_batch(surrogate_config, config, move, ensemble, weights, x):
    return _score(surrogate_config, config, move, ensemble, weights, x)


def choose_move(key: jax.Array, probabilities: Sequence[float]) -> str:
    """Draws the round's move from ``MOVES`` with the given probabilities."""
    index = jax.random.choice(key, len(MOVES), p=jnp.asarray(probabilities, jnp.float32))
    return MOVES[int(index)]


def propose(space: DesignSpace, surrogate_config: surrogate.SurrogateConfig,
            ensemble: surrogate.Ensemble, weights: np.ndarray, queried: Sequence[Design],
            utilities: np.ndarray, key: jax.Array, config: AcquisitionConfig) -> Proposal:
    """Proposes one valid design not in ``queried``, by the move drawn for this round.

    Args:
      space: the design space (encoding, decoding, validity).
      surrogate_config, ensemble: the fitted surrogate.
      weights: ``(K,)`` utility weights of the objectives.
      queried: designs already queried (never proposed again).
      utilities: ``(len(queried),)`` their observed utilities (the best seed the UCB starts).
      key: this round's PRNG key.
      config: acquisition settings.

    Returns:
      The :class:`Proposal`.
    """
    utilities = np.asarray(utilities, np.float64)
    if utilities.shape != (len(queried),):
        raise ValueError(f"propose: utilities must have shape ({len(queried)},) like queried, "
                         f"got {utilities.shape}")
    move_key, start_key = jax.random.split(key)
    move = choose_move(move_key, config.move_probabilities)
    rng = np.random.default_rng(np.asarray(jax.random.bits(start_key, (4,), jnp.uint32)))
    taken = set(queried)
    weights = jnp.asarray(weights, jnp.float32)
    if move == "diversity":
        pool = _sample_up_to(space, rng, config.diversity_pool, taken)
        if not pool:
            raise ValueError(f"propose: all admissible designs of the space are among the "
                             f"{len(taken)} queried ones")
        pool_x = space.encode_many(pool)
        queried_x = space.encode_many(queried)
        gaps = np.sqrt(((pool_x[:, None, :] - queried_x[None, :, :]) ** 2).sum(-1)).min(axis=1)
        best = int(np.argmax(gaps))
        return Proposal(pool[best], move, float(gaps[best]))
    num_best = config.num_starts // 2 if move == "ucb" else 0
    best_queried = [queried[i] for i in np.argsort(-utilities, kind="stable")[:num_best]]
    starts = best_queried + _sample_up_to(space, rng, config.num_starts - len(best_queried),
                                          set(best_queried))
    ends, _ = maximize_score(surrogate_config, config, move, space.blocks, ensemble, weights,
                               jnp.asarray(space.encode_many(starts)))
    candidates = list(dict.fromkeys(space.decode(np.asarray(x), exclude=taken) for x in ends))
    scores = np.asarray(_score_batch(surrogate_config, config, move, ensemble, weights,
                                     jnp.asarray(space.encode_many(candidates))))
    best = int(np.argmax(scores))
    return Proposal(candidates[best], move, float(scores[best]))


def _sample_up_to(space: DesignSpace, rng: np.random.Generator, num: int,
                  exclude: Collection[Design]) -> list[Design]:
    """Up to ``num`` distinct admissible designs outside ``exclude``: all of them if fewer exist.

    Small spaces (at most ``4 * num`` combinations) are enumerated and shuffled, so a nearly
    exhausted space still yields what is left; larger ones are sampled by rejection.
    """
    if space.num_combinations > 4 * num:
        return space.sample(rng, num, exclude=exclude)
    left = [design for design in space.enumerate() if design not in exclude]
    return [left[i] for i in rng.permutation(len(left))[:num]]
