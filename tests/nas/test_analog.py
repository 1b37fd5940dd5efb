"""The crossbar-aware supernet: the search's crossbar model against the full bit-level pipeline,
gradients to the hardware logits, derived networks from supernet variables, validation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas import crossbar_noise
from dianjax.nas.analog import AnalogSearch, SlotChoice, analog_search, sample_choices
from dianjax.nas.search_space import get_space, layer_table
from dianjax.nas.supernet import DerivedNetwork, Supernet, init_supernet
from sim.crossbar import CrossbarAccelerator

ACCELERATOR = CrossbarAccelerator(cell_bits=4, dac_bits=2, weight_bits=8, input_bits=8)
SIZES = (16, 32, 64, 128)
ADC = (4, 6, 8, "lossless")


def _search(sigma=0.0, ir_drop=0.0):
    return AnalogSearch(ACCELERATOR, SIZES, ADC, sigma, ir_drop)


def _choice(size, adc):
    return SlotChoice(jax.nn.one_hot(SIZES.index(size), len(SIZES)),
                      jax.nn.one_hot(ADC.index(adc), len(ADC)))


def _data(key, vectors=256, rows=200, columns=12):
    x_key, w_key = jax.random.split(key)
    x = jax.nn.relu(jax.random.normal(x_key, (vectors, 1, rows)))
    w = jax.random.normal(w_key, (1, rows, columns))
    return x, w


@pytest.mark.parametrize("size", SIZES)
def test_search_model_equals_full_pipeline_without_noise_and_with_lossless_adc(size):
    x, w = _data(jax.random.key(0))
    search = _search()
    y = search.matmul(x, w, _choice(size, "lossless"), jax.random.key(1))
    full = crossbar_noise.crossbar_matmul(x[:, 0], w[0], search.config(size, "lossless"))
    np.testing.assert_allclose(np.asarray(y[:, 0]), np.asarray(full), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", (16, 128))
def test_search_model_keeps_the_same_conductance_noise_and_ir_drop(size):
    """With conductance noise and IR drop, the search's model differs from the full pipeline with an
    ideal (unquantized) readout, on the same key, only by its rounding-error term: unbiased, and of
    the variance the full pipeline's lossless ADC adds (other cells would differ far more)."""
    x, w = _data(jax.random.key(2))
    search = dataclasses.replace(_search(sigma=0.2, ir_drop=0.3), adc_choices=("lossless",))
    key = jax.random.key(3)
    cell_key, _ = jax.random.split(key)
    ideal = dataclasses.replace(search.config(size, "lossless"), adc_bits=None)
    reference = crossbar_noise.crossbar_matmul(x[:, 0], w[0], ideal, cell_key)
    full = crossbar_noise.crossbar_matmul(x[:, 0], w[0], search.config(size, "lossless"),
                                          cell_key)
    y = search.matmul(x, w, SlotChoice(_choice(size, 8).size, jnp.ones(1)), key)[:, 0]
    error = np.asarray(y - reference)
    full_error = np.asarray(full - reference)
    assert abs(error.mean()) < 0.1 * error.std()
    assert 1 / 1.5 < error.var() / full_error.var() < 1.5
    other_cells = crossbar_noise.crossbar_matmul(x[:, 0], w[0], ideal, jax.random.key(9))
    assert np.asarray(other_cells - reference).var() > 10 * error.var()


@pytest.mark.parametrize(("size", "adc"), [(16, 4), (64, 6), (128, 6), (128, 8)])
def test_search_model_adc_error_matches_the_full_pipeline_in_variance(size, adc):
    """Widrow's model against the bit-level ADC: the output error variance of the search's model
    is that of the full pipeline within a factor 1.5 where partial sums span many ADC steps."""
    x, w = _data(jax.random.key(4), vectors=512, rows=256, columns=16)
    x = x + 2.0   # dense, large inputs: partial sums far above the ADC's step
    search = _search()
    config = search.config(size, adc)
    ideal = crossbar_noise.crossbar_matmul(x[:, 0], w[0], dataclasses.replace(config,
                                                                             adc_bits=None))
    full = crossbar_noise.crossbar_matmul(x[:, 0], w[0], config)
    modelled = search.matmul(x, w, _choice(size, adc), jax.random.key(5))[:, 0]
    full_var = float(np.var(np.asarray(full - ideal)))
    model_var = float(np.var(np.asarray(modelled - ideal)))
    assert full_var > 0
    assert 1 / 1.5 < model_var / full_var < 1.5, (model_var, full_var)


def test_search_model_gradients_reach_every_crossbar_size_and_the_adc():
    x, w = _data(jax.random.key(6), vectors=64, rows=100, columns=8)
    search = _search(sigma=0.1)
    target = jax.random.normal(jax.random.key(7), (64, 1, 8))

    def loss(size_logits, adc_logits):
        choice = SlotChoice(jax.nn.one_hot(jnp.argmax(size_logits), 4) + jax.nn.softmax(size_logits)
                            - jax.lax.stop_gradient(jax.nn.softmax(size_logits)),
                            jax.nn.one_hot(jnp.argmax(adc_logits), 4) + jax.nn.softmax(adc_logits)
                            - jax.lax.stop_gradient(jax.nn.softmax(adc_logits)))
        return jnp.mean((search.matmul(x, w, choice, jax.random.key(8)) - target) ** 2)

    size_grad, adc_grad = jax.grad(loss, argnums=(0, 1))(jnp.zeros(4), jnp.zeros(4))
    assert np.all(np.asarray(size_grad) != 0) and np.any(np.asarray(adc_grad) != 0)


@pytest.fixture(scope="module")
def nax_setup():
    space = get_space("nax_quickstart")
    table = layer_table(space)
    hardware = HardwareSpace("crossbar", cell_bits=(4,), dac_bits=(2,))
    search = analog_search(hardware, 0.1, 0.0)
    variables = init_supernet(jax.random.key(0), space)
    return space, table, hardware, search, variables


def test_supernet_on_crossbars_sends_the_task_gradient_to_the_hardware_logits(nax_setup):
    space, table, hardware, search, variables = nax_setup
    images = jax.random.normal(jax.random.key(1), (8, 8, 8, 1))
    labels = jnp.arange(8)
    ops = jax.nn.one_hot(jnp.array([0, 1, 2, 0]), space.num_ops)
    model = Supernet(space, analog=search)

    def loss(hw_logits):
        choices = sample_choices(jax.random.key(2), hw_logits, 1.0, table.mapping_slots)
        logits, _ = model.apply(variables, images, ops, train=True, hard=True, hardware=choices,
                                mutable=["batch_stats"], rngs={"crossbar": jax.random.key(3)})
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(8), labels])

    logits = {k: jnp.asarray(v) for k, v in hardware.init_logits(table).items()}
    grads = jax.jit(jax.grad(loss))(logits)
    sizes = np.asarray(grads["crossbar_size"])
    used = [table.mapping_slots.index(s) for s in ("layer1.conv1", "layer2.conv2", "classifier")]
    assert np.all(np.abs(sizes[used]).sum(axis=1) > 0)
    unused = table.mapping_slots.index("layer0.shortcut")   # layer 0 keeps its identity shortcut
    assert np.all(sizes[unused] == 0)
    assert np.any(np.asarray(grads["adc_bits"]) != 0)
    assert np.all(np.asarray(grads["cell_bits"]) == 0)      # not in the forward pass


def test_derived_variables_from_the_supernet_give_the_supernet_path(nax_setup):
    space, _, _, _, variables = nax_setup
    images = jax.random.normal(jax.random.key(4), (4, 8, 8, 1))
    derived = DerivedNetwork.from_op_names(space, ("skip", "res_k5", "res_k7", "res_k3"))
    weights = jax.nn.one_hot(jnp.asarray(derived.op_indices), space.num_ops)
    expected = Supernet(space).apply(variables, images, weights, train=False, hard=True)
    got = derived.model.apply(derived.variables_from_supernet(variables), images, train=False)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-5)


def test_analog_search_refuses_switched_bits_and_other_templates():
    with pytest.raises(ValueError, match=r"config.hardware.cell_bits must offer one choice"):
        analog_search(HardwareSpace("crossbar", dac_bits=(2,)), 0.1, 0.0)
    with pytest.raises(ValueError, match=r"config.hardware.template must be 'crossbar'"):
        analog_search(HardwareSpace("systolic"), 0.1, 0.0)
    with pytest.raises(ValueError, match="conductance_sigma"):
        _search(sigma=-1.0)
