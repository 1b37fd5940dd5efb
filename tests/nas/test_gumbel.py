"""Gumbel-softmax: soft and straight-through samples, masking, gradients, temperature schedule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax.nas import gumbel

MASK = np.array([[True, True, True, False], [True, False, True, True], [False, False, True, False]])


def _logits(seed=0):
    return jax.random.normal(jax.random.key(seed), MASK.shape)


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("temperature", [0.1, 1.0, 5.0])
def test_rows_sum_to_one_and_masked_options_get_zero(hard, temperature):
    sample = jax.jit(gumbel.gumbel_softmax, static_argnames="hard")
    weights = sample(jax.random.key(1), _logits(), temperature, hard=hard, mask=MASK)
    assert weights.shape == MASK.shape
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    assert (np.asarray(weights)[~MASK] == 0).all()
    if hard:
        assert set(np.unique(np.asarray(weights))) <= {0.0, 1.0}


def test_hard_forward_is_one_hot_of_soft_argmax_and_backward_is_soft_gradient():
    key, logits = jax.random.key(2), _logits(3)
    costs = jnp.arange(12.0).reshape(MASK.shape)

    def objective(logits, hard):
        return jnp.sum(gumbel.gumbel_softmax(key, logits, 0.7, hard=hard, mask=MASK) * costs)

    soft = gumbel.gumbel_softmax(key, logits, 0.7, hard=False, mask=MASK)
    hard = gumbel.gumbel_softmax(key, logits, 0.7, hard=True, mask=MASK)
    np.testing.assert_array_equal(np.argmax(hard, -1), np.argmax(soft, -1))
    grad_soft = jax.grad(objective)(logits, False)
    grad_hard = jax.grad(objective)(logits, True)
    np.testing.assert_allclose(grad_hard, grad_soft, rtol=1e-6)
    assert np.isfinite(grad_hard).all() and (np.asarray(grad_hard)[~MASK] == 0).all()
    assert np.abs(grad_hard).sum() > 0


def test_hard_sample_frequencies_follow_the_softmax():
    logits = jnp.array([[0.0, 1.0, -1.0, 2.0]])
    mask = np.array([[True, True, True, False]])
    keys = jax.random.split(jax.random.key(0), 20000)
    samples = jax.vmap(lambda k: gumbel.gumbel_softmax(k, logits, 1.0, hard=True, mask=mask))(keys)
    frequencies = np.asarray(samples.mean(0))[0]
    expected = np.asarray(gumbel.probabilities(logits, mask))[0]
    assert frequencies[3] == 0 and expected[3] == 0
    np.testing.assert_allclose(frequencies, expected, atol=0.015)


def test_low_temperature_soft_sample_approaches_one_hot():
    weights = gumbel.gumbel_softmax(jax.random.key(4), _logits(), 1e-3, hard=False, mask=MASK)
    np.testing.assert_allclose(np.max(weights, -1), 1.0, atol=1e-4)


def test_argmax_weights_and_entropy():
    logits = jnp.array([[3.0, 1.0, 0.0, 9.0], [0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 1.0, 5.0]])
    np.testing.assert_array_equal(gumbel.argmax_weights(logits, MASK),
                                  [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]])
    entropy = gumbel.entropy(jnp.zeros(MASK.shape), MASK)
    np.testing.assert_allclose(entropy, np.log(MASK.sum(-1)), rtol=1e-6)
    assert gumbel.entropy(logits, MASK)[2] == 0


def test_annealed_temperature_is_exponential():
    schedule = jax.jit(gumbel.annealed_temperature, static_argnums=(1, 2, 3))
    assert float(schedule(0, 5.0, 0.5, 10)) == pytest.approx(5.0)
    assert float(schedule(5, 5.0, 0.5, 10)) == pytest.approx(5.0 * 0.1 ** 0.5, rel=1e-6)
    assert float(schedule(10, 5.0, 0.5, 10)) == pytest.approx(0.5, rel=1e-6)
    assert float(schedule(99, 5.0, 0.5, 10)) == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("kwargs,message", [
    (dict(initial=0.0, final=1.0, num_steps=5), "initial > 0 and final > 0"),
    (dict(initial=1.0, final=0.1, num_steps=0), "num_steps must be >= 1"),
])
def test_bad_schedule_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gumbel.annealed_temperature(0, **kwargs)


def test_bad_temperature_and_empty_mask_row_rejected():
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        gumbel.gumbel_softmax(jax.random.key(0), _logits(), 0, hard=False)
    mask = MASK.copy()
    mask[1] = False
    with pytest.raises(ValueError, match=r"mask rows \[1\] allow no option"):
        gumbel.gumbel_softmax(jax.random.key(0), _logits(), 1.0, hard=False, mask=mask)
