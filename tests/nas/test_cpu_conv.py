"""The CPU convolutions equal lax's, values and gradients: depthwise (tap sum) and 1x1 (matmul)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax import lax

from dianjax.nas import cpu_conv

NHWC = ("NHWC", "HWIO", "NHWC")


def _lax(x, w, stride, pad, groups):
    return lax.conv_general_dilated(x, w, (stride, stride), ((pad, pad), (pad, pad)),
                                    dimension_numbers=NHWC, feature_group_count=groups)


def _assert_same_values_and_grads(fast, x, w, stride, pad, groups, key):
    want = _lax(x, w, stride, pad, groups)
    got = fast(x, w)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    cotangent = jax.random.normal(key, want.shape)

    def pullback(conv):
        return jax.vjp(conv, x, w)[1](cotangent)

    want_grads = pullback(lambda x, w: _lax(x, w, stride, pad, groups))
    for got_grad, want_grad in zip(pullback(fast), want_grads):
        np.testing.assert_allclose(got_grad, want_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("unroll", [True, False])
@pytest.mark.parametrize("kernel, stride, size", [(1, 1, 3), (3, 1, 5), (5, 2, 8), (7, 2, 7), (3, 2, 4)])
def test_tap_depthwise_equals_grouped_conv(kernel, stride, size, unroll):
    kx, kw, kg = jax.random.split(jax.random.key(kernel * 10 + stride), 3)
    x = jax.random.normal(kx, (2, size, size, 6))
    w = jax.random.normal(kw, (kernel, kernel, 1, 6))
    pad = kernel // 2
    _assert_same_values_and_grads(
        lambda x, w: cpu_conv.tap_depthwise(x, w, (stride, stride), ((pad, pad), (pad, pad)), unroll),
        x, w, stride, pad, 6, kg)


@pytest.mark.parametrize("stride, size", [(1, 5), (2, 6), (2, 5)])
def test_matmul_pointwise_equals_1x1_conv(stride, size):
    kx, kw, kg = jax.random.split(jax.random.key(stride * 7 + size), 3)
    x = jax.random.normal(kx, (3, size, size, 4))
    w = jax.random.normal(kw, (1, 1, 4, 5))
    _assert_same_values_and_grads(
        lambda x, w: cpu_conv.matmul_pointwise(x, w, (stride, stride)), x, w, stride, 0, 1, kg)


def test_vmapped_over_seeds_equals_each_seed():
    """The benchmark's vmap seed mode stacks per-seed kernels: the batched paths agree per seed."""
    x = jax.random.normal(jax.random.key(0), (3, 2, 6, 6, 4))
    dw = jax.random.normal(jax.random.key(1), (3, 5, 5, 1, 4))
    pw = jax.random.normal(jax.random.key(2), (3, 1, 1, 4, 2))

    def block(x, dw, pw):
        y = cpu_conv.tap_depthwise(x, dw, (2, 2), ((2, 2), (2, 2)))
        return cpu_conv.matmul_pointwise(y, pw, (1, 1))

    got = jax.vmap(block)(x, dw, pw)
    for seed in range(3):
        want = _lax(_lax(x[seed], dw[seed], 2, 2, 4), pw[seed], 1, 0, 1)
        np.testing.assert_allclose(got[seed], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel, groups", [(3, 1), (3, 2), (3, 4), (1, 1)])
def test_flax_conv_with_it_equals_the_plain_conv(kernel, groups):
    """Dense and partly grouped convolutions pass through to lax; depthwise (groups=4) sums taps,
    1x1 multiplies matrices."""
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 4))
    pad = kernel // 2
    plain = nn.Conv(4, (kernel, kernel), strides=(2, 2), padding=((pad, pad), (pad, pad)),
                    feature_group_count=groups, use_bias=False)
    fast = plain.clone(conv_general_dilated=cpu_conv.conv_general_dilated)
    params = plain.init(jax.random.key(1), x)
    assert jax.tree.structure(fast.init(jax.random.key(1), x)) == jax.tree.structure(params)
    np.testing.assert_allclose(fast.apply(params, x), plain.apply(params, x), rtol=1e-5, atol=1e-5)


def test_each_convolution_takes_its_path():
    x, w = jnp.ones((1, 4, 4, 3)), jnp.ones((3, 3, 1, 3))
    numbers = lax.conv_dimension_numbers(x.shape, w.shape, NHWC)
    pads = ((1, 1), (1, 1))
    assert cpu_conv._path(x, w, pads, None, None, numbers, 3) == "depthwise"
    assert cpu_conv._path(x, w, "SAME", None, None, numbers, 3) == "lax"
    assert cpu_conv._path(x, w, pads, None, (2, 2), numbers, 3) == "lax"
    assert cpu_conv._path(x, w, pads, None, None, None, 3) == "lax"  # lax's default: NCHW
    dense = jnp.ones((3, 3, 3, 3))
    assert cpu_conv._path(x, dense, pads, None, None, numbers, 1) == "lax"
    one = jnp.ones((1, 1, 3, 5))
    assert cpu_conv._path(x, one, ((0, 0), (0, 0)), None, None, numbers, 1) == "pointwise"
    assert cpu_conv._path(x, one, pads, None, None, numbers, 1) == "lax"  # padded 1x1
    with pytest.raises(ValueError, match=r"a \(kh, kw, 1, C\) kernel with the same C"):
        cpu_conv.tap_depthwise(x, jnp.ones((3, 3, 1, 5)), (1, 1), pads)
    with pytest.raises(ValueError, match=r"a \(1, 1, C, M\) kernel with the same C"):
        cpu_conv.matmul_pointwise(x, jnp.ones((1, 1, 4, 5)), (1, 1))
