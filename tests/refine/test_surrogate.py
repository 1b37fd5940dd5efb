"""Surrogate: the heteroscedastic head learns input-dependent noise; ensemble moments; validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax.refine import surrogate

SMALL = surrogate.SurrogateConfig(hidden_sizes=(32, 32), num_members=3, num_steps=400,
                                  learning_rate=1e-2)


def _rank_correlation(a, b):
    ranks_a = np.argsort(np.argsort(a))
    ranks_b = np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def _toy(noise_std, num=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (num, 1)).astype(np.float32)
    y = np.sin(6 * x) + noise_std(x) * rng.standard_normal((num, 1))
    return x, y


@pytest.mark.parametrize("noise_std", [lambda x: 0.05 + 0.5 * x, lambda x: 0.4 - 0.35 * x],
                         ids=["growing", "shrinking"])
def test_heteroscedastic_head_tracks_true_noise(noise_std):
    x, y = _toy(noise_std)
    ensemble = surrogate.fit(SMALL, x, y, jax.random.key(0))
    grid = np.linspace(0.05, 0.95, 40, dtype=np.float32)[:, None]
    prediction = surrogate.predict(SMALL, ensemble, jnp.asarray(grid))
    true_var = noise_std(grid)[:, 0] ** 2
    predicted_var = np.asarray(prediction.aleatoric_var[:, 0])
    assert _rank_correlation(predicted_var, true_var) > 0.9
    ratio = predicted_var / true_var
    assert 0.5 < np.median(ratio) < 2.0
    np.testing.assert_allclose(prediction.mean[:, 0], np.sin(6 * grid[:, 0]), atol=0.25)


def test_epistemic_variance_grows_away_from_data():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 0.4, (64, 1)).astype(np.float32)
    y = np.cos(4 * x)
    ensemble = surrogate.fit(SMALL, x, y, jax.random.key(3))
    prediction = surrogate.predict(SMALL, ensemble, jnp.array([[0.2], [1.0]]))
    assert prediction.epistemic_var[1, 0] > 10 * prediction.epistemic_var[0, 0]


def test_utility_moments_match_member_moments():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (20, 3)).astype(np.float32)
    y = np.stack([x.sum(1), 100 * x[:, 0] * x[:, 1]], axis=1)  # different scales and units
    config = surrogate.SurrogateConfig(hidden_sizes=(8,), num_members=4, num_steps=50)
    ensemble = surrogate.fit(config, x, y, jax.random.key(0))
    weights = jnp.array([1.0, -0.1])
    means, variances = surrogate.member_moments(config, ensemble, jnp.asarray(x))
    assert means.shape == variances.shape == (4, 20, 2)
    utility = surrogate.predict_utility(config, ensemble, weights, jnp.asarray(x))
    member_utilities = np.asarray(means) @ np.asarray(weights)
    np.testing.assert_allclose(utility.mean, member_utilities.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(utility.epistemic_var, member_utilities.var(0), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(utility.aleatoric_var,
                               (np.asarray(variances) @ np.asarray(weights) ** 2).mean(0), rtol=1e-4)
    per_objective = surrogate.predict(config, ensemble, jnp.asarray(x))
    np.testing.assert_allclose(per_objective.mean, np.asarray(means).mean(0), rtol=1e-5)


def test_fit_is_deterministic_and_members_differ():
    x, y = _toy(lambda x: 0.1 + 0 * x, num=24)
    config = surrogate.SurrogateConfig(hidden_sizes=(8,), num_members=2, num_steps=20)
    a = surrogate.fit(config, x, y, jax.random.key(5))
    b = surrogate.fit(config, x, y, jax.random.key(5))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    kernel = a.params["params"]["mean"]["kernel"]
    assert not np.allclose(kernel[0], kernel[1])


def test_gaussian_nll_minimized_at_true_moments():
    target = jnp.array([1.0, 1.5, 0.5])
    at_truth = surrogate.gaussian_nll(1.0, 0.25, target).mean()
    assert surrogate.gaussian_nll(1.2, 0.25, target).mean() > at_truth
    assert surrogate.gaussian_nll(1.0, 0.1, target).mean() > at_truth
    assert surrogate.gaussian_nll(1.0, 1.0, target).mean() > at_truth


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden_sizes": ()}, r"hidden_sizes must hold at least one width"),
    ({"hidden_sizes": (8, 0)}, r"hidden_sizes must be a positive integer, got 0"),
    ({"num_members": 0}, r"num_members must be a positive integer"),
    ({"learning_rate": -1.0}, r"learning_rate must be a number > 0"),
    ({"weight_decay": -1e-3}, r"weight_decay must be a finite number >= 0"),
    ({"min_variance": 0.0}, r"min_variance must be a number > 0"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        surrogate.SurrogateConfig(**kwargs)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((4, 2)), np.zeros(4), r"x must be \(N, F\) and y \(N, K\)"),
    (np.zeros((1, 2)), np.zeros((1, 1)), r"the same N >= 2"),
    (np.zeros((3, 2)), np.array([[0.0], [np.nan], [1.0]]), r"x and y must be finite"),
])
def test_bad_data(x, y, match):
    with pytest.raises(ValueError, match=match):
        surrogate.fit(SMALL, x, y, jax.random.key(0))
