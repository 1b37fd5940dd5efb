"""The crossbar forward pass: bit-slicing, bit-streaming and the ADC against loop-by-loop numpy
brute forces; the analog convolution against lax's; the per-cell noise's statistics, keys and
straight-through gradients; validation; and, on a small classifier trained on sklearn's digits,
noisy accuracy falling with the conductance variation and with fewer ADC bits."""

import dataclasses
import functools
import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax import lax
from sklearn.datasets import load_digits

from dianjax.nas import crossbar_noise as cn
from dianjax.nas.crossbar_noise import AnalogConfig
from sim import CrossbarAccelerator

# Data come from numpy and noise keys are "rbg" keys: every eager jax.random call (threefry) costs
# a compilation of a second or more on the 2-core CPU.


def _normal(seed: int, shape: tuple[int, ...]) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _key(seed: int) -> jax.Array:
    return jax.random.key(seed, impl="rbg")


# ------------------------------------------------------------------ numpy brute forces


def _adc_reference(partial_sum: int, full_scale: int, adc_bits: int | None) -> float:
    """The stated transfer function by enumeration, in exact integer arithmetic: the level
    j * F / L (j = 0..L, L = min(2**adc_bits - 1, F)) nearest to an integer partial sum, ties to
    the even j; sums outside [0, F] land on the nearest end level (clipping)."""
    if adc_bits is None:
        return float(partial_sum)
    steps = min(2 ** adc_bits - 1, full_scale)
    # |p - j F / L| = |p L - j F| / L: compare the integers |p L - j F|.
    distances = [abs(partial_sum * steps - j * full_scale) for j in range(steps + 1)]
    best = min(distances)
    code = [j for j in range(steps + 1) if distances[j] == best]
    code = code[0] if len(code) == 1 else next(j for j in code if j % 2 == 0)
    return code * full_scale / steps


def _brute_force_mvm(x_int: np.ndarray, q: np.ndarray, config: AnalogConfig,
                     kept: np.ndarray | None = None) -> np.ndarray:
    """The crossbar product written out loop by loop: per input vector, column, row tile, input
    chunk and weight slice, the column's partial sum through the ADC, shifted and added; then the
    offset-encoding correction. ``kept[i]``: the IR-drop factor of crossbar row i (none if None)."""
    vectors, rows_k = x_int.shape
    columns = q.shape[1]
    offset = 2 ** (config.weight_bits - 1)
    stored = q + offset
    full_scale = config.rows * (2 ** config.dac_bits - 1) * (2 ** config.cell_bits - 1)
    tiles = -(-rows_k // config.rows)
    out = np.zeros((vectors, columns))
    for p in range(vectors):
        for m in range(columns):
            total = 0.0
            for t in range(tiles):
                tile = range(t * config.rows, min(rows_k, (t + 1) * config.rows))
                for c in range(config.input_chunks):
                    for s in range(config.weight_slices):
                        partial = 0.0 if kept is not None else 0
                        for k in tile:
                            x_digit = x_int[p, k] // 2 ** (c * config.dac_bits) % 2 ** config.dac_bits
                            cell = stored[k, m] // 2 ** (s * config.cell_bits) % 2 ** config.cell_bits
                            gain = 1 if kept is None else kept[k - t * config.rows]
                            partial += int(x_digit) * int(cell) * gain
                        significance = 2 ** (c * config.dac_bits + s * config.cell_bits)
                        total += significance * _adc_reference(partial, full_scale, config.adc_bits)
            out[p, m] = total - offset * int(x_int[p].sum())
    return out


# ------------------------------------------------------------------ bit-slicing, streaming, ADC

# Shapes are fixed and configs few, so each config compiles once for all its examples. Every
# config keeps ps * L and every total below 2**23 (float32-exact), and the total below 2**17 so
# that one ADC code (>= 1 after shifting) stands out from float32 summation error.
_MVM_CONFIGS = [
    AnalogConfig(rows=4, weight_bits=4, cell_bits=1, input_bits=4, dac_bits=1),
    AnalogConfig(rows=3, weight_bits=5, cell_bits=2, input_bits=5, dac_bits=2, adc_bits=5),
    AnalogConfig(rows=4, weight_bits=6, cell_bits=4, input_bits=6, dac_bits=4, adc_bits=3),
    AnalogConfig(rows=8, weight_bits=3, cell_bits=3, input_bits=2, dac_bits=1, adc_bits=2),
    AnalogConfig(rows=16, weight_bits=6, cell_bits=2, input_bits=6, dac_bits=3, adc_bits=5),
    AnalogConfig(rows=1, weight_bits=2, cell_bits=1, input_bits=3, dac_bits=3, adc_bits=1),
]
_VECTORS, _ROWS_K, _COLUMNS = 3, 10, 3
_mvm = jax.jit(cn.crossbar_mvm, static_argnames="config")


@settings(max_examples=40, deadline=None)
@given(config=st.sampled_from(_MVM_CONFIGS), data=st.data())
def test_crossbar_mvm_equals_loop_brute_force(config, data):
    w_max = 2 ** (config.weight_bits - 1) - 1
    x_int = data.draw(hnp.arrays(np.int64, (_VECTORS, _ROWS_K),
                                 elements=st.integers(0, 2 ** config.input_bits - 1)))
    q = data.draw(hnp.arrays(np.int64, (_ROWS_K, _COLUMNS), elements=st.integers(-w_max, w_max)))
    got = np.asarray(_mvm(jnp.asarray(x_int), jnp.asarray(q), config=config))
    want = _brute_force_mvm(x_int, q, config)
    np.testing.assert_allclose(got, want, rtol=0, atol=0.25)
    if config.adc_bits is None or config.adc_bits >= config.lossless_adc_bits:
        np.testing.assert_array_equal(got, x_int @ q)  # slicing + streaming lose nothing


def test_adc_hand_worked():
    # rows=7, 1-bit DAC, 1-bit cells: F = 7 * 1 * 1 = 7. A 2-bit ADC has L = 3 steps of 7/3:
    # levels 0, 7/3, 14/3, 7. Partial sum p -> p*3/7 -> code (round half to even, clip 0..3):
    # 0 -> 0 -> 0;  1 -> 0.43 -> 0;  2 -> 0.86 -> 1;  3 -> 1.29 -> 1;  4 -> 1.71 -> 2;
    # 5 -> 2.14 -> 2;  6 -> 2.57 -> 3;  7 -> 3 -> 3;  3.5 -> 1.5 (tie) -> 2;  8.2 -> 3.51 -> clip 3;
    # -0.4 -> -0.17 -> 0.
    config = AnalogConfig(rows=7, weight_bits=2, cell_bits=1, input_bits=1, dac_bits=1, adc_bits=2)
    sums = jnp.array([0, 1, 2, 3, 4, 5, 6, 7, 3.5, 8.2, -0.4])
    step = 7 / 3
    want = np.array([0, 0, 1, 1, 2, 2, 3, 3, 2, 3, 0]) * step
    np.testing.assert_allclose(cn.adc(sums, config), want, rtol=1e-6)
    # rows=2, 2-bit cells: F = 2 * 1 * 3 = 6; 2 bits: L = 3, step 2. Odd sums are ties:
    # 1 -> 0.5 -> 0; 3 -> 1.5 -> 2 (even); 5 -> 2.5 -> 2 (even).
    config = AnalogConfig(rows=2, weight_bits=2, cell_bits=2, input_bits=1, dac_bits=1, adc_bits=2)
    np.testing.assert_array_equal(cn.adc(jnp.arange(7.0), config), [0, 0, 2, 4, 4, 4, 6])
    assert config.lossless_adc_bits == 3  # ceil(log2(6 + 1))


@pytest.mark.parametrize("rows, dac_bits, cell_bits, adc_bits", [(20, 1, 2, 4), (7, 2, 3, 5)])
def test_adc_rounds_every_tie_to_even_eagerly_and_jitted(rows, dac_bits, cell_bits, adc_bits):
    """Every integer sum of a full scale that is no power of two (60 = 20 rows x 3; 147): its ties,
    e.g. 10 -> 2.5 steps -> 2, which a product by 1/60 computed eagerly once rounded up to 3."""
    config = AnalogConfig(rows=rows, weight_bits=4, cell_bits=cell_bits, input_bits=4,
                          dac_bits=dac_bits, adc_bits=adc_bits)
    sums = np.arange(-2, config.adc_full_scale + 3)
    want = [_adc_reference(int(p), config.adc_full_scale, adc_bits) for p in sums]
    x = jnp.asarray(sums, jnp.float32)
    np.testing.assert_allclose(cn.adc(x, config), want, rtol=1e-6)   # float32 levels
    np.testing.assert_allclose(jax.jit(lambda x: cn.adc(x, config))(x), want, rtol=1e-6)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 40), dac_bits=st.integers(1, 3), cell_bits=st.integers(1, 3),
       adc_bits=st.integers(1, 12), data=st.data())
def test_adc_equals_nearest_level_enumeration(rows, dac_bits, cell_bits, adc_bits, data):
    config = AnalogConfig(rows=rows, weight_bits=4, cell_bits=cell_bits, input_bits=4,
                          dac_bits=dac_bits, adc_bits=adc_bits)
    full_scale = config.adc_full_scale
    sums = data.draw(hnp.arrays(np.int64, 8, elements=st.integers(-3, full_scale + 3)))
    want = [_adc_reference(int(p), full_scale, adc_bits) for p in sums]
    got = cn.adc(jnp.asarray(sums, jnp.float32), config)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    if adc_bits >= config.lossless_adc_bits:
        np.testing.assert_array_equal(got, np.clip(sums, 0, full_scale))


def test_ir_drop_attenuates_by_row_in_tile():
    config = AnalogConfig(rows=4, weight_bits=4, cell_bits=2, input_bits=3, dac_bits=1,
                          ir_drop=0.25)
    rng = np.random.default_rng(3)
    x_int, q = rng.integers(0, 8, (3, 10)), rng.integers(-7, 8, (10, 3))
    kept = 1 - 0.25 * np.arange(1, 5) / cn.IR_DROP_REFERENCE_ROWS
    got = _mvm(jnp.asarray(x_int), jnp.asarray(q), config=config)
    np.testing.assert_allclose(got, _brute_force_mvm(x_int, q, config, kept), rtol=1e-6)
    # A bigger crossbar loses more: one product on 4-row and on 256-row crossbars.
    ones, sevens = jnp.ones((1, 256), jnp.int32), jnp.full((256, 1), 7)
    losses = [float(7 * 256 - _mvm(ones, sevens, config=dataclasses.replace(config, rows=rows))[0, 0])
              for rows in (4, 256)]
    assert 0 < losses[0] < losses[1], losses


# ------------------------------------------------------------------ conductance noise


def test_noise_is_per_cell_and_static_within_a_call():
    """eps per cell, shared by all input chunks and vectors: Var y[m] = sigma^2 *
    sum_{k,s} (x[k] * 2**(s*cell_bits) * u_s[k, m])**2, mean x @ q."""
    sigma = 0.05
    config = AnalogConfig(rows=4, weight_bits=6, cell_bits=2, input_bits=4, dac_bits=1,
                          conductance_sigma=sigma)
    rng = np.random.default_rng(0)
    x_int = rng.integers(0, 16, (1, 6))
    q = rng.integers(-31, 32, (6, 2))
    x_twice = jnp.asarray(np.concatenate([x_int, x_int]))
    keys = jax.random.split(jax.random.key(0), 4000)
    y = np.asarray(jax.jit(jax.vmap(lambda k: cn.crossbar_mvm(x_twice, jnp.asarray(q), config, k)))(
        keys))
    np.testing.assert_array_equal(y[:, 0], y[:, 1])  # one device for every vector of a call
    stored = q + 32
    cells = np.stack([stored // 4 ** s % 4 * 4 ** s for s in range(3)], axis=-1)  # [K, M, S]
    var = sigma ** 2 * np.sum((x_int[0, :, None, None] * cells) ** 2, axis=(0, 2))
    mean = (x_int @ q)[0]
    assert np.all(np.abs(y[:, 0].mean(axis=0) - mean) < 4 * np.sqrt(var / len(keys)))
    np.testing.assert_allclose(y[:, 0].var(axis=0) / var, 1.0, atol=0.1)


def test_noise_is_deterministic_given_the_key_and_differs_across_keys():
    config = AnalogConfig(rows=8, conductance_sigma=0.1)
    dense = nn.Dense(4, dot_general_cls=functools.partial(cn.CrossbarDotGeneral, config))
    x = jnp.abs(_normal(1, (3, 12)))
    variables = {"params": {"kernel": _normal(2, (12, 4)), "bias": _normal(3, (4,))}}
    shapes = jax.eval_shape(dense.init, _key(0), x)
    assert jax.tree.map(jnp.shape, shapes) == jax.tree.map(jnp.shape, variables)  # no variables
    apply = jax.jit(lambda k: dense.apply(variables, x, rngs={cn.RNG_COLLECTION: k}))
    first, again, other = apply(_key(5)), apply(_key(5)), apply(_key(6))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    with pytest.raises(ValueError, match="pass a PRNG key"):
        jax.eval_shape(functools.partial(cn.crossbar_matmul, config=config), x,
                       variables["params"]["kernel"])


# ------------------------------------------------------------------ convolutions and dense layers

_EXACT = AnalogConfig(rows=5, weight_bits=16, cell_bits=8, input_bits=16, dac_bits=8)


@pytest.mark.parametrize("dimension_numbers, stride, padding, groups, dilation", [
    (("NHWC", "HWIO", "NHWC"), (1, 1), "SAME", 1, (1, 1)),
    (("NHWC", "HWIO", "NHWC"), (2, 2), ((1, 0), (0, 1)), 3, (1, 1)),
    (("NHWC", "HWIO", "NHWC"), (1, 2), "VALID", 1, (2, 1)),
    (("NCHW", "OIHW", "NCHW"), (1, 1), "SAME", 3, (1, 1)),
])
def test_lossless_analog_conv_equals_lax(dimension_numbers, stride, padding, groups, dilation):
    x = _normal(groups, (2, 7, 6, 6))  # signed inputs: both halves of the split
    kernel = _normal(10 + groups, (3, 3, 6 // groups, 6))
    if dimension_numbers[0] == "NCHW":
        x, kernel = x.transpose(0, 3, 1, 2), kernel.transpose(3, 2, 0, 1)

    def conv(fn, **kw):
        return fn(x, kernel, stride, padding, rhs_dilation=dilation,
                  dimension_numbers=dimension_numbers, feature_group_count=groups, **kw)

    want = conv(lax.conv_general_dilated)
    got = jax.jit(lambda: conv(cn.conv_general_dilated, config=_EXACT))()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-3 * float(jnp.max(jnp.abs(want))))


def test_flax_hooks_run_existing_layers_on_the_crossbar():
    x = _normal(0, (2, 5, 5, 4))
    plain = nn.Conv(6, (3, 3), feature_group_count=2)
    analog = nn.Conv(6, (3, 3), feature_group_count=2, conv_general_dilated_cls=functools.partial(
        cn.CrossbarConvGeneralDilated, _EXACT))
    variables = {"params": {"kernel": _normal(1, (3, 3, 2, 6)), "bias": _normal(2, (6,))}}
    want = plain.apply(variables, x)
    np.testing.assert_allclose(jax.jit(analog.apply)(variables, x), want,
                               atol=1e-3 * float(jnp.max(jnp.abs(want))))
    dense = nn.Dense(3, dot_general_cls=functools.partial(cn.CrossbarDotGeneral, _EXACT))
    flat = x.reshape(2, -1)
    variables = {"params": {"kernel": _normal(3, (100, 3)), "bias": _normal(4, (3,))}}
    want = nn.Dense(3).apply(variables, flat)
    np.testing.assert_allclose(jax.jit(dense.apply)(variables, flat), want,
                               atol=1e-3 * float(jnp.max(jnp.abs(want))))


# ------------------------------------------------------------------ straight-through gradients


def test_gradients_are_straight_through_and_finite():
    x, w, cotangent = _normal(0, (5, 20)), _normal(1, (20, 4)), _normal(2, (5, 4))
    noisy = AnalogConfig(rows=8, weight_bits=4, cell_bits=2, input_bits=4, adc_bits=3,
                         conductance_sigma=0.3, ir_drop=0.2)

    def grads(config, key=None):
        return jax.jit(jax.grad(lambda x, w: jnp.sum(cn.crossbar_matmul(x, w, config, key)
                                                     * cotangent), argnums=(0, 1)))(x, w)

    gx, gw = grads(noisy, _key(1))
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gw))
    np.testing.assert_allclose(gw, x.T @ cotangent, rtol=1e-5, atol=1e-5)  # straight to w
    assert not np.allclose(gx, cotangent @ w.T, atol=1e-2)  # through the noisy weights
    gx, gw = grads(AnalogConfig(rows=8, weight_bits=16, cell_bits=8, input_bits=16, dac_bits=8))
    np.testing.assert_allclose(gx, cotangent @ w.T, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(gw, x.T @ cotangent, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("field, value, message", [
    ("rows", 0, "AnalogConfig.rows must be a positive integer"),
    ("weight_bits", 1, r"AnalogConfig.weight_bits must be an integer in \[2, 16\]"),
    ("cell_bits", 9, r"AnalogConfig.cell_bits must be an integer in \[1, 8\]"),
    ("input_bits", 17, r"AnalogConfig.input_bits must be an integer in \[1, 16\]"),
    ("dac_bits", 9, r"AnalogConfig.dac_bits must be an integer in \[1, 8\]"),
    ("adc_bits", 0, r"AnalogConfig.adc_bits must be an integer in \[1, 32\]"),
    ("adc_bits", 4.0, r"AnalogConfig.adc_bits must be an integer in \[1, 32\]"),
    ("conductance_sigma", -0.1, r"AnalogConfig.conductance_sigma must be a number in \[0.0, inf\)"),
    ("conductance_sigma", float("inf"), r"conductance_sigma must be a number in \[0.0, inf\)"),
    ("ir_drop", 1.0, r"AnalogConfig.ir_drop must be a number in \[0.0, 1.0\)"),
    ("rows", 512, r"AnalogConfig.ir_drop \* rows / 256 must be < 1 .* ir_drop=0.5 with rows=512"),
])
def test_validation_names_the_field_and_the_allowed_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        AnalogConfig(**{field: value, **({"ir_drop": 0.5} if field == "rows" else {})})


def test_unsupported_contractions_are_refused():
    x, w = jnp.ones((2, 3)), jnp.ones((3, 4))
    with pytest.raises(ValueError, match="lhs\\[..., K\\] @ rhs\\[K, M\\] only"):
        cn.dot_general(x, w.T, (((1,), (1,)), ((), ())), config=AnalogConfig())
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        cn.noisy_evaluate(lambda p, x, k: x, None, x, jnp.zeros(2), _key(0), 1)


# ------------------------------------------------------------------ accuracy on digits


class _MLP(nn.Module):
    """64 -> 32 -> 10 on 8x8 digits; both layers on crossbars when ``config`` is given."""

    config: AnalogConfig | None = None

    @nn.compact
    def __call__(self, x):
        hook = None if self.config is None else functools.partial(cn.CrossbarDotGeneral,
                                                                  self.config)
        x = jax.nn.relu(nn.Dense(32, dot_general_cls=hook)(x))
        return nn.Dense(10, dot_general_cls=hook)(x)


@pytest.fixture(scope="module")
def digits_classifier():
    """A digital MLP trained (full batch, Adam, 300 steps, seed 0) on 1400 digits; the other 397
    held out. Returns (params, test images, test labels)."""
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype(np.float32)
    y = digits.target[order].astype(np.int32)
    x_train, y_train = jnp.asarray(x[:1400]), jnp.asarray(y[:1400])
    model, optimizer = _MLP(), optax.adam(1e-2)
    params = jax.jit(model.init)(_key(0), x_train[:1])
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(
            model.apply(p, x_train), y_train).mean())(params)
        updates, state = optimizer.update(grads, state)
        return optax.apply_updates(params, updates), state

    for _ in range(300):
        params, state = step(params, state)
    return params, jnp.asarray(x[1400:]), jnp.asarray(y[1400:])


def _noisy_accuracy(classifier, config: AnalogConfig, num_samples: int) -> float:
    params, x, y = classifier

    def apply(params, x, key):
        return _MLP(config).apply(params, x, rngs={cn.RNG_COLLECTION: key})

    return cn.noisy_evaluate(apply, params, x, y, _key(1), num_samples).mean


_DIGITS = {"rows": 64, "weight_bits": 8, "cell_bits": 2, "input_bits": 8, "dac_bits": 1}


def test_noisy_accuracy_falls_with_conductance_variation(digits_classifier):
    # Measured (mean over 8 noise samples): 0.987, 0.925, 0.559, 0.201.
    accuracy = [_noisy_accuracy(digits_classifier, AnalogConfig(**_DIGITS, conductance_sigma=s), 8)
                for s in (0.0, 0.1, 0.3, 1.0)]
    assert accuracy[0] > 0.95 and accuracy[-1] < 0.3, accuracy
    assert all(a > b for a, b in itertools.pairwise(accuracy)), accuracy


def test_noisy_accuracy_falls_with_fewer_adc_bits(digits_classifier):
    # F = 64 * 1 * 3 = 192, lossless at 8 bits. Measured: 0.987, 0.929, 0.365, 0.096.
    accuracy = [_noisy_accuracy(digits_classifier, AnalogConfig(**_DIGITS, adc_bits=b), 2)
                for b in (None, 6, 4, 2)]
    assert accuracy[0] > 0.95 and accuracy[-1] < 0.3, accuracy
    assert all(a > b for a, b in itertools.pairwise(accuracy)), accuracy


def test_analog_config_of_a_sim_accelerator_uses_its_bits_and_resolves_lossless():
    acc = CrossbarAccelerator(crossbar_size=128, cell_bits=2, weight_bits=8, input_bits=8,
                              dac_bits=1, adc_bits="lossless")
    config = cn.analog_config(acc, crossbar_size=32, conductance_sigma=0.1)
    assert (config.rows, config.weight_bits, config.cell_bits, config.input_bits,
            config.dac_bits, config.conductance_sigma) == (32, 8, 2, 8, 1, 0.1)
    # lossless on 32 rows of 2-bit cells, 1-bit DAC: sums up to 32 * 1 * 3 = 96 -> 7 bits
    assert config.adc_bits == config.lossless_adc_bits == 7
    assert cn.analog_config(acc).adc_bits == 9   # 128 * 3 = 384 -> 9 bits
    with pytest.raises(ValueError, match="needs a sim.CrossbarAccelerator"):
        cn.analog_config(config)
