"""Acquisition: exact Hessian-vector products, the trust-region solvers, and valid new proposals."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax.refine import acquisition, surrogate
from dianjax.refine.encoding import DesignSpace, Dimension, EncodingBlock

TINY = surrogate.SurrogateConfig(hidden_sizes=(8, 8), num_members=3, num_steps=30)


def _quadratic(num_features, center, condition=1e3, seed=0):
    """A concave quadratic with maximum at ``center`` and the given condition number."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((num_features, num_features)))[0]
    hessian = jnp.asarray(q @ np.diag(np.logspace(0, np.log10(condition), num_features)) @ q.T,
                          jnp.float32)
    center = jnp.asarray(center, jnp.float32)
    return (lambda x: -0.5 * (x - center) @ hessian @ (x - center)), hessian


def _fitted(num_features=4, num_objectives=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (12, num_features)).astype(np.float32)
    y = np.stack([np.sin(3 * x).sum(1), (x ** 2).sum(1)][:num_objectives], axis=1)
    return surrogate.fit(TINY, x, y, jax.random.key(seed))


@pytest.mark.parametrize("name", ["polynomial", "trigonometric", "ucb"])
def test_hessian_vector_products_match_jax_hessian(name):
    if name == "ucb":
        ensemble = _fitted()
        prediction_of = functools.partial(surrogate.predict_utility, TINY, ensemble,
                                          jnp.array([1.0, -0.5]))

        def f(x):
            return acquisition.upper_confidence_bound(prediction_of(x[None]), 1.0, 0.5)[0]
    elif name == "polynomial":
        def f(x):
            return (x @ x) ** 2 + x[0] * x[1] * x[3] - x[2] ** 3
    else:
        def f(x):
            return jnp.sum(jnp.sin(x) * x[::-1]) + jnp.exp(x[0] * x[2])
    x = jnp.array([0.3, 0.7, 0.1, 0.9])
    hessian = jax.jit(jax.hessian(f))(x)
    vectors = jnp.concatenate([jnp.eye(4), jnp.array([[0.5, -1.0, 2.0, 0.25]])])
    products = jax.jit(jax.vmap(functools.partial(acquisition.hessian_vector_product, f, x)))(vectors)
    np.testing.assert_allclose(products, vectors @ hessian.T, rtol=1e-4, atol=1e-5)


def test_steihaug_cg_newton_step_inside_and_boundary_steps():
    f, hessian = _quadratic(5, center=np.full(5, 0.5), condition=100.0)
    x = jnp.zeros(5)
    g = jax.grad(f)(x)

    def hvp(v):
        return acquisition.hessian_vector_product(f, x, v)

    newton = jnp.linalg.solve(hessian, g)  # f's Hessian is -hessian
    np.testing.assert_allclose(acquisition.steihaug_cg(hvp, g, jnp.array(10.0), 10), newton,
                               rtol=1e-3, atol=1e-4)
    short = acquisition.steihaug_cg(hvp, g, jnp.array(0.01), 5)
    assert float(jnp.linalg.norm(short)) == pytest.approx(0.01, rel=1e-4)
    assert float(g @ short) > 0
    convex = acquisition.steihaug_cg(lambda v: hessian @ v, g, jnp.array(0.3), 5)  # wrong-way curvature
    assert float(jnp.linalg.norm(convex)) == pytest.approx(0.3, rel=1e-4)


def _box(num_features):
    return tuple(EncodingBlock(i, i + 1, False) for i in range(num_features))


def _ascend(f, x0, method, num_steps, blocks=None):
    blocks = _box(x0.shape[0]) if blocks is None else blocks
    return jax.jit(functools.partial(acquisition.ascend, f, blocks=blocks, method=method,
                                     num_steps=num_steps, cg_iterations=x0.shape[0],
                                     initial_radius=0.5))(x0)


def test_newton_solves_an_ill_conditioned_quadratic_where_gradient_steps_do_not():
    center = np.random.default_rng(0).uniform(0.2, 0.8, 6)
    f, _ = _quadratic(6, center)
    x_newton, f_newton = _ascend(f, jnp.zeros(6), "newton", 8)
    x_gradient, f_gradient = _ascend(f, jnp.zeros(6), "gradient", 8)
    np.testing.assert_allclose(x_newton, center, atol=1e-3)
    assert float(f_newton) > -1e-5
    assert float(f_gradient) < -1e-2
    assert float(jnp.abs(x_gradient - center).max()) > 1e-2


@pytest.mark.parametrize("method", acquisition.METHODS)
def test_ascend_stays_in_the_box_and_reaches_the_constrained_optimum(method):
    center = np.random.default_rng(1).uniform(-0.5, 1.5, 5)  # optimum partly outside the box
    f, _ = _quadratic(5, center, condition=10.0, seed=1)
    starts = jnp.asarray(np.random.default_rng(2).uniform(0, 1, (4, 5)), jnp.float32)
    x, fx = jax.vmap(lambda x0: _ascend(f, x0, method, 60))(starts)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert np.all(np.asarray(fx) >= np.asarray(jax.vmap(f)(starts)))
    # KKT on the box: the projected gradient vanishes.
    g = jax.vmap(jax.grad(f))(x)
    projected = jnp.where((x <= 0) & (g < 0) | (x >= 1) & (g > 0), 0.0, g)
    assert float(jnp.abs(projected).max()) < 1e-2
    np.testing.assert_allclose(fx, fx[0], rtol=1e-4, atol=1e-5)  # one concave optimum


@pytest.mark.parametrize("v", [[0.2, 0.3, 0.5], [2.0, -1.0, 0.5], [-3.0, -3.0, -3.0], [0.9, 0.9, 5.0]])
def test_project_simplex_is_the_nearest_point_of_the_simplex(v):
    v = jnp.array(v)
    p = acquisition.project_simplex(v)
    assert float(p.min()) >= 0 and float(p.sum()) == pytest.approx(1.0, abs=1e-6)
    grid = [np.array([a, b, 1 - a - b]) for a in np.linspace(0, 1, 101) for b in np.linspace(0, 1, 101)
            if a + b <= 1 + 1e-9]
    nearest = min(float(np.sum((q - np.asarray(v)) ** 2)) for q in grid)
    assert float(jnp.sum((p - v) ** 2)) <= nearest + 1e-6


@pytest.mark.parametrize("method", acquisition.METHODS)
def test_ascend_on_a_simplex_and_an_interval(method):
    # Coordinates 0-2: a simplex (a one-hot block), coordinate 3: an ordinal in [0, 1].
    blocks = (EncodingBlock(0, 3, True), EncodingBlock(3, 4, False))
    target = jnp.array([0.9, 0.6, -0.2, 1.4])  # outside the relaxation

    def f(x):
        return -jnp.sum((x - target) ** 2)

    x, fx = _ascend(f, jnp.array([0.0, 0.0, 1.0, 0.0]), method, 30, blocks)
    np.testing.assert_allclose(x, [0.65, 0.35, 0.0, 1.0], atol=1e-3)  # the projection of target
    linear_x, _ = _ascend(lambda x: x @ jnp.array([0.1, 0.3, 0.2, -1.0]),
                          jnp.array([1 / 3, 1 / 3, 1 / 3, 0.5]), method, 30, blocks)
    np.testing.assert_allclose(linear_x, [0.0, 1.0, 0.0, 0.0], atol=1e-4)  # a vertex: a design


def test_ascend_checks_blocks():
    with pytest.raises(ValueError, match=r"blocks must cover coordinates 0..3 in order"):
        acquisition.ascend(lambda x: x.sum(), jnp.zeros(3), (EncodingBlock(0, 2, False),),
                           method="newton", num_steps=1, cg_iterations=1, initial_radius=0.1)


def test_upper_confidence_bound_formula():
    prediction = surrogate.Prediction(jnp.array([1.0]), jnp.array([4.0]), jnp.array([9.0]))
    assert float(acquisition.upper_confidence_bound(prediction, 0.5, 0.25)[0]) == 1 + 1.5 + 0.5


def test_choose_move_follows_the_probabilities():
    keys = jax.random.split(jax.random.key(0), 400)
    moves = [acquisition.choose_move(k, (0.7, 0.2, 0.1)) for k in keys]
    counts = [moves.count(move) / len(moves) for move in acquisition.MOVES]
    np.testing.assert_allclose(counts, (0.7, 0.2, 0.1), atol=0.06)
    assert {acquisition.choose_move(k, (0, 1, 0)) for k in keys[:20]} == {"uncertainty"}


def _space():
    return DesignSpace((Dimension("a", tuple(range(6))), Dimension("b", tuple(range(6))),
                        Dimension("op", ("x", "y", "z"), "nominal", allowed=(0, 2))),
                       is_valid=lambda d: d[0] + d[1] <= 8)


@pytest.mark.parametrize("move_probabilities", [(1, 0, 0), (0, 1, 0), (0, 0, 1)],
                         ids=acquisition.MOVES)
@pytest.mark.parametrize("method", acquisition.METHODS)
def test_propose_gives_a_new_valid_design(move_probabilities, method):
    space = _space()
    queried = space.sample(np.random.default_rng(0), 10)
    x = space.encode_many(queried)
    y = np.stack([x.sum(1), x[:, -1]], axis=1)
    ensemble = surrogate.fit(TINY, x, y, jax.random.key(0))
    config = acquisition.AcquisitionConfig(method=method, num_starts=4, num_steps=3,
                                           move_probabilities=move_probabilities, diversity_pool=16)
    proposal = acquisition.propose(space, TINY, ensemble, np.array([1.0, -1.0]), queried,
                                   y @ np.array([1.0, -1.0]), jax.random.key(1), config)
    assert proposal.move == acquisition.MOVES[move_probabilities.index(1)]
    assert space.contains(proposal.design) and proposal.design not in queried
    assert np.isfinite(proposal.score)


def test_propose_finds_the_last_unqueried_design_and_then_fails():
    space = _space()
    everything = list(space.enumerate())
    queried = everything[:-1]
    x = space.encode_many(queried)
    y = x.sum(1, keepdims=True)
    ensemble = surrogate.fit(TINY, x, y, jax.random.key(0))
    for probabilities in [(1, 0, 0), (0, 0, 1)]:
        config = acquisition.AcquisitionConfig(num_starts=2, num_steps=2,
                                               move_probabilities=probabilities)
        proposal = acquisition.propose(space, TINY, ensemble, np.ones(1), queried, y[:, 0],
                                       jax.random.key(0), config)
        assert proposal.design == everything[-1]
        with pytest.raises(ValueError, match=r"no valid design|all admissible designs"):
            acquisition.propose(space, TINY, ensemble, np.ones(1), everything,
                                np.append(y[:, 0], 0.0), jax.random.key(0), config)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "bfgs"}, r"method must be one of \['newton', 'gradient'\], got 'bfgs'"),
    ({"k_epistemic": -1.0}, r"k_epistemic must be a finite number >= 0"),
    ({"num_starts": 0}, r"num_starts must be a positive integer"),
    ({"initial_radius": 0.0}, r"initial_radius must be a number > 0"),
    ({"move_probabilities": (0.5, 0.5)}, r"move_probabilities must be 3 numbers >= 0 summing to 1"),
    ({"move_probabilities": (0.5, 0.6, -0.1)}, r"move_probabilities must be 3 numbers"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        acquisition.AcquisitionConfig(**kwargs)


def test_propose_checks_utilities_shape():
    space = _space()
    queried = space.sample(np.random.default_rng(0), 4)
    ensemble = surrogate.fit(TINY, space.encode_many(queried), np.ones((4, 1)), jax.random.key(0))
    with pytest.raises(ValueError, match=r"utilities must have shape \(4,\)"):
        acquisition.propose(space, TINY, ensemble, np.ones(1), queried, np.ones(3),
                            jax.random.key(0), acquisition.AcquisitionConfig())
