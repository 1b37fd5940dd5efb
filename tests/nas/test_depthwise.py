"""The CPU depthwise convolution equals lax's grouped convolution, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax import lax

from dianjax.nas import depthwise

NHWC = ("NHWC", "HWIO", "NHWC")


def _grouped(x, w, stride, pad):
    return lax.conv_general_dilated(x, w, (stride, stride), ((pad, pad), (pad, pad)),
                                    dimension_numbers=NHWC, feature_group_count=x.shape[-1])


@pytest.mark.parametrize("kernel, stride, size", [(3, 1, 5), (5, 2, 8), (7, 2, 7), (3, 2, 4)])
def test_loop_depthwise_equals_grouped_conv(kernel, stride, size):
    kx, kw, kg = jax.random.split(jax.random.key(kernel * 10 + stride), 3)
    x = jax.random.normal(kx, (2, size, size, 6))
    w = jax.random.normal(kw, (kernel, kernel, 1, 6))
    pad = kernel // 2
    got = depthwise.loop_depthwise(x, w, (stride, stride), ((pad, pad), (pad, pad)))
    want = _grouped(x, w, stride, pad)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    cotangent = jax.random.normal(kg, want.shape)

    def pullback(conv):
        return jax.vjp(conv, x, w)[1](cotangent)

    got_grads = pullback(lambda x, w: depthwise.loop_depthwise(
        x, w, (stride, stride), ((pad, pad), (pad, pad))))
    for got_grad, want_grad in zip(got_grads, pullback(lambda x, w: _grouped(x, w, stride, pad))):
        np.testing.assert_allclose(got_grad, want_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_flax_conv_with_it_equals_the_plain_conv(groups):
    """Dense and partly grouped convolutions pass through to lax; depthwise (groups=4) loops over taps."""
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 4))
    plain = nn.Conv(4, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                    feature_group_count=groups, use_bias=False)
    fast = plain.clone(conv_general_dilated=depthwise.conv_general_dilated)
    params = plain.init(jax.random.key(1), x)
    assert jax.tree.structure(fast.init(jax.random.key(1), x)) == jax.tree.structure(params)
    np.testing.assert_allclose(fast.apply(params, x), plain.apply(params, x), rtol=1e-5, atol=1e-5)


def test_only_plain_nhwc_depthwise_takes_the_loop():
    x, w = jnp.ones((1, 4, 4, 3)), jnp.ones((3, 3, 1, 3))
    numbers = lax.conv_dimension_numbers(x.shape, w.shape, NHWC)
    pads = ((1, 1), (1, 1))
    assert depthwise._is_plain_nhwc_depthwise(x, w, pads, None, None, numbers, 3)
    assert not depthwise._is_plain_nhwc_depthwise(x, w, "SAME", None, None, numbers, 3)
    assert not depthwise._is_plain_nhwc_depthwise(x, w, pads, None, (2, 2), numbers, 3)
    assert not depthwise._is_plain_nhwc_depthwise(x, w, pads, None, None, None, 3)  # lax: NCHW
    with pytest.raises(ValueError, match=r"a \(kh, kw, 1, C\) kernel with the same C"):
        depthwise.loop_depthwise(x, jnp.ones((3, 3, 1, 5)), (1, 1), pads)
