"""dianjax.cost.crossbar against sim (exact under x64, float32 bounds, networks with per-layer crossbar
sizes), the crossbar hardware space, and the relaxed estimator and best_design on it."""

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dianjax import cost
from dianjax.cost import crossbar
from dianjax.cost.best_design import best_design
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.cost.relaxed import space_indices
from dianjax.nas.search_space import SearchSpace, layer_table, quickstart_space
from sim import (
    CrossbarAccelerator,
    CrossbarEnergyTable,
    CrossbarMapping,
    EnergyTable,
    Layer,
    Network,
    resnet20,
    simulate_layer,
    simulate_network,
)
from sim.crossbar import COLUMNS_PER_ADC, CROSSBAR_SIZES, LOSSLESS

EVALUATE = jax.jit(crossbar.evaluate, static_argnames="energy_table")
FLOATS = ("row_utilization", "column_utilization", "cell_utilization", "crossbar_pj", "dac_pj",
          "adc_pj", "sample_hold_pj", "shift_add_pj", "buffer_pj", "energy_pj", "latency_s",
          "area_mm2")
COUNTS = tuple(field for field in crossbar.CrossbarCostReport._fields if field not in FLOATS)
METRICS = ("latency_s", "energy_pj", "area_mm2", "edp_pj_s", "edap_pj_s_mm2")


@st.composite
def layers(draw):
    """Convs, grouped, depthwise, pointwise and FC layers with strides, padding and batch N > 1."""
    kind = draw(st.sampled_from(["conv", "grouped", "depthwise", "pointwise", "fc"]))
    N = draw(st.integers(1, 2))
    if kind == "fc":
        return Layer.fc("l", draw(st.integers(1, 600)), draw(st.integers(1, 300)), N=N)
    if kind == "depthwise":
        groups = C = M = draw(st.integers(1, 64))
    elif kind == "grouped":
        groups = draw(st.integers(2, 6))
        C, M = groups * draw(st.integers(1, 12)), groups * draw(st.integers(1, 12))
    else:
        groups, C, M = 1, draw(st.integers(1, 160)), draw(st.integers(1, 160))
    H, W, padding = draw(st.integers(1, 24)), draw(st.integers(1, 24)), draw(st.integers(0, 3))
    R, S = (1, 1) if kind == "pointwise" else (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    return Layer("l", C=C, M=M, H=H, W=W, R=min(R, H + 2 * padding), S=min(S, W + 2 * padding),
                 stride=draw(st.integers(1, 3)), padding=padding, groups=groups, N=N)


@st.composite
def architectures(draw):
    """Every crossbar size, cell/weight/input/DAC resolution, ADC bits or lossless, ADC sharing."""
    return CrossbarAccelerator(
        crossbar_size=draw(st.sampled_from(CROSSBAR_SIZES)), cell_bits=draw(st.integers(1, 8)),
        weight_bits=draw(st.integers(1, 16)), input_bits=draw(st.integers(1, 16)),
        dac_bits=draw(st.integers(1, 8)),
        adc_bits=draw(st.one_of(st.integers(1, 32), st.just(LOSSLESS))),
        columns_per_adc=draw(st.sampled_from(COLUMNS_PER_ADC)),
        crossbars_per_tile=draw(st.integers(1, 16)),
        tile_buffer_kb=draw(st.sampled_from([0.5, 64 / 12, 64.0])),
        clock_mhz=draw(st.sampled_from([100.0, 1200.0, 1234.5])),
        crossbar_read_cycles=draw(st.integers(1, 200)))


def _evaluate_one(layer, accelerator, size, energy_table=None):
    sizes = None if size is None else np.array([size], np.int32)
    report = EVALUATE(crossbar.layer_arrays([layer]), crossbar.architecture_arrays(accelerator),
                      sizes, energy_table=energy_table)
    return {field: float(np.asarray(value)[0]) for field, value in report._asdict().items()}


def _sim_fields(report):
    fields = {field: getattr(report, field) for field in crossbar.CrossbarCostReport._fields
              if hasattr(report, field)}
    fields.update(report.energy._asdict())
    assert set(fields) == set(crossbar.CrossbarCostReport._fields)
    return fields


def _relative_error(ours, theirs):
    return abs(ours - theirs) / abs(theirs) if theirs else abs(ours)


SIZES = st.one_of(st.none(), st.sampled_from(CROSSBAR_SIZES))


@settings(max_examples=200, deadline=None)
@given(layers(), architectures(), SIZES)
def test_evaluate_equals_sim_exactly_under_x64(layer, accelerator, size):
    with jax.enable_x64(True):
        ours = _evaluate_one(layer, accelerator, size)
    expected = _sim_fields(simulate_layer(layer, accelerator, CrossbarMapping(size)))
    for field in COUNTS:
        assert ours[field] == expected[field], field
    for field in FLOATS:
        # XLA may fuse a product into a sum (FMA) or divide through a reciprocal: the last bit.
        assert _relative_error(ours[field], expected[field]) <= 1e-15, field


@settings(max_examples=200, deadline=None)
@given(layers(), architectures(), SIZES)
def test_evaluate_float32_error_bound(layer, accelerator, size):
    ours = _evaluate_one(layer, accelerator, size)
    expected = _sim_fields(simulate_layer(layer, accelerator, CrossbarMapping(size)))
    for field, value in expected.items():
        assert _relative_error(ours[field], value) <= 1e-6, field
        if field in COUNTS and value < 2 ** 24:      # float32 holds these integers exactly
            assert ours[field] == value, field


def _mixed_sizes(network):
    return {layer.name: CrossbarMapping(CROSSBAR_SIZES[i % 4]) for i, layer in enumerate(network)}


@pytest.mark.parametrize("accelerator", [
    CrossbarAccelerator(weight_bits=8, input_bits=8, adc_bits=LOSSLESS),
    CrossbarAccelerator(cell_bits=4, weight_bits=8, input_bits=8, dac_bits=2, adc_bits=6,
                        columns_per_adc=16, crossbars_per_tile=4),
    CrossbarAccelerator(crossbar_size=32, cell_bits=1, dac_bits=4, adc_bits=12, columns_per_adc=1),
], ids=["lossless", "adc6", "default-size"])
def test_every_resnet20_layer_and_the_network_equal_sim(accelerator):
    network = resnet20()
    mappings = _mixed_sizes(network)
    if accelerator.crossbar_size == 32:           # some layers keep the architecture's size
        mappings.update({layer.name: CrossbarMapping() for layer in network.layers[::3]})
    sizes = crossbar.layer_crossbar_sizes(network, mappings, accelerator)
    expected = simulate_network(network, accelerator, mappings)
    with jax.enable_x64(True):
        report = EVALUATE(crossbar.layer_arrays(network), crossbar.architecture_arrays(accelerator),
                          sizes)
        totals = {k: float(v) for k, v in crossbar.network_cost(report).items()}
    for index, layer_report in enumerate(expected.layers):
        for field, value in _sim_fields(layer_report).items():
            ours = float(getattr(report, field)[index])
            if field in COUNTS:
                assert ours == value, (layer_report.name, field)
            else:
                assert _relative_error(ours, value) <= 1e-15, (layer_report.name, field)
    for field, value in expected.totals().items():
        if field == "energy":
            for component, pj in value.items():
                key = "energy_pj" if component == "total_pj" else component
                assert totals[key] == pytest.approx(pj, rel=1e-14), component
        elif field in METRICS:
            assert totals[field] == pytest.approx(value, rel=1e-14), field
        else:
            assert totals[field] == value, field
    # float32: the same totals within 1e-6
    report32 = EVALUATE(crossbar.layer_arrays(network), crossbar.architecture_arrays(accelerator),
                        sizes)
    totals32 = crossbar.network_cost(report32)
    for field in METRICS:
        assert float(totals32[field]) == pytest.approx(getattr(expected, field), rel=1e-6), field


def test_area_is_every_layers_tiles():
    network = resnet20()
    accelerator = CrossbarAccelerator(weight_bits=8, input_bits=8)
    mappings = _mixed_sizes(network)
    report = EVALUATE(crossbar.layer_arrays(network), crossbar.architecture_arrays(accelerator),
                      crossbar.layer_crossbar_sizes(network, mappings, accelerator))
    assert report.area_mm2.shape == (len(network),)
    np.testing.assert_allclose(crossbar.network_cost(report)["area_mm2"],
                               np.sum(report.area_mm2), rtol=1e-6)
    np.testing.assert_allclose(crossbar.network_cost(report)["area_mm2"],
                               simulate_network(network, accelerator, mappings).area_mm2, rtol=1e-6)


def test_vmap_over_architectures_and_layers():
    network = resnet20()
    arrays = crossbar.layer_arrays(network)
    accelerators = [CrossbarAccelerator(adc_bits=a, cell_bits=c, columns_per_adc=k)
                    for a, c, k in [(4, 1, 8), (LOSSLESS, 2, 128), (8, 4, 32)]]
    sizes = crossbar.layer_crossbar_sizes(network, _mixed_sizes(network), accelerators[0])
    batched = jax.jit(jax.vmap(crossbar.evaluate, in_axes=(None, 0, None)))(
        arrays, crossbar.stack_architectures(accelerators), sizes)
    for index, accelerator in enumerate(accelerators):
        one = EVALUATE(arrays, crossbar.architecture_arrays(accelerator), sizes)
        for field in crossbar.CrossbarCostReport._fields:
            np.testing.assert_array_equal(getattr(batched, field)[index], getattr(one, field))
    accelerator = crossbar.architecture_arrays(accelerators[1])
    mapped = jax.jit(jax.vmap(crossbar.evaluate, in_axes=(0, None, 0)))(arrays, accelerator, sizes)
    whole = EVALUATE(arrays, accelerator, sizes)
    for field in crossbar.CrossbarCostReport._fields:
        np.testing.assert_allclose(getattr(mapped, field), getattr(whole, field), rtol=1e-6)


def test_one_size_for_all_layers_and_a_custom_energy_table():
    layer = Layer.conv("c", C=40, M=24, H=10, W=10, kernel=3, N=2)
    accelerator = CrossbarAccelerator(adc_bits=LOSSLESS, dac_bits=2, cell_bits=3)
    table = CrossbarEnergyTable(adc_growth_per_bit=1.7, dac_growth_per_bit=1.3,
                                buffer_energy_pj_per_256bit=5.0, cell_area_um2=0.01)
    arrays = crossbar.layer_arrays([layer, layer])
    report = EVALUATE(arrays, crossbar.architecture_arrays(accelerator), np.int32(32),
                      energy_table=table)
    expected = simulate_layer(layer, accelerator, CrossbarMapping(32), energy_table=table)
    for field, value in _sim_fields(expected).items():
        np.testing.assert_allclose(getattr(report, field), [value, value], rtol=1e-6, err_msg=field)


def test_design_cost_equals_the_simulator():
    network = resnet20()
    accelerator = CrossbarAccelerator(weight_bits=8, input_bits=8, adc_bits=6, columns_per_adc=32)
    sizes = {layer.name: CROSSBAR_SIZES[i % 4] for i, layer in enumerate(network)}
    design = HardwareDesign(accelerator, sizes)
    predicted = cost.design_cost(network, design)
    report = simulate_network(network, accelerator, design.mappings(network))
    assert [r.crossbar_size for r in report.layers] == list(sizes.values())
    for field in (*METRICS, "total_cycles", "crossbars", "adc_conversions"):
        assert predicted[field] == pytest.approx(getattr(report, field, None)
                                                 or report.totals()[field], rel=1e-6), field


def test_bad_inputs_raise_value_errors_naming_them():
    layer = Layer.conv("c", C=4, M=4, H=4, W=4, kernel=3)
    with pytest.raises(ValueError, match=r"layers\[1\] must be a sim.Layer"):
        crossbar.layer_arrays([layer, "conv"])
    with pytest.raises(ValueError, match="at least one"):
        crossbar.layer_arrays([])
    with pytest.raises(ValueError, match="CrossbarLayerArrays.vectors=.* allowed"):
        crossbar.layer_arrays([Layer.fc("huge", 8, 8, N=2 ** 30)])
    with pytest.raises(ValueError, match="CrossbarLayerArrays.weights=.* allowed"):
        crossbar.layer_arrays([Layer.fc("wide", 2 ** 16, 2 ** 15)])
    with pytest.raises(ValueError, match="accelerator must be a sim.CrossbarAccelerator"):
        crossbar.architecture_arrays({"crossbar_size": 64})
    with pytest.raises(ValueError, match=r"crossbar_size must be one of \[16, 32, 64, 128, 256\]"):
        crossbar.crossbar_size_code(48)
    with pytest.raises(ValueError, match=r"no sim.CrossbarMapping for layer\(s\) \['fc'\]"):
        crossbar.layer_crossbar_sizes(Network("two", (layer, Layer.fc("fc", 4, 2))),
                                      {"c": CrossbarMapping()}, CrossbarAccelerator())
    arrays = crossbar.layer_arrays([layer])
    accelerator = crossbar.architecture_arrays(CrossbarAccelerator())
    with pytest.raises(ValueError, match="layers must be a CrossbarLayerArrays"):
        crossbar.evaluate(cost.layer_arrays([layer]), accelerator)
    with pytest.raises(ValueError, match="accelerator must be a CrossbarArrays"):
        crossbar.evaluate(arrays, CrossbarAccelerator())
    with pytest.raises(ValueError, match="energy_table must be a sim.CrossbarEnergyTable"):
        crossbar.evaluate(arrays, accelerator, energy_table=EnergyTable())
    with pytest.raises(ValueError, match=r"crossbar_size must hold values of \[16, 32, 64, 128, "
                                         r"256\], got \[48\]"):
        crossbar.evaluate(arrays, accelerator, crossbar_size=np.array([48], np.int32))
    stacked = crossbar.stack_architectures([CrossbarAccelerator(), CrossbarAccelerator()])
    with pytest.raises(AssertionError):                 # a batch goes through jax.vmap
        crossbar.evaluate(arrays, stacked)
    with pytest.raises(AssertionError):                 # one size per layer, or one for all
        crossbar.evaluate(arrays, accelerator, np.full(3, 64, np.int32))
    chex.assert_tree_all_finite(crossbar.evaluate(arrays, accelerator))


# -- the hardware space ------------------------------------------------------------------------------

def test_default_space_is_nax_like_and_enumerates():
    space = HardwareSpace("crossbar")
    assert space.knobs == ("adc_bits", "cell_bits", "dac_bits", "columns_per_adc")
    assert space.mapping_knob == "crossbar_size" and space.mapping_choices == (16, 32, 64, 128)
    assert space.adc_bits == (4, 6, 8, LOSSLESS)
    assert space.num_accelerators == 4 * 3 * 2 * 3 == len(list(space.accelerators()))
    base = space.base_accelerator()
    assert isinstance(base, CrossbarAccelerator)
    assert (base.weight_bits, base.input_bits, base.adc_bits) == (8, 8, 4)
    stacked = cost.space_accelerators(space)
    expected = crossbar.stack_architectures(list(space.accelerators()))
    assert isinstance(stacked, crossbar.CrossbarArrays)
    for field in crossbar.CrossbarArrays._fields:
        np.testing.assert_array_equal(getattr(stacked, field), getattr(expected, field), field)
    assert cost.HardwareSpace.from_config(space.to_dict()) == space
    design = HardwareDesign(space.accelerator(dict(zip(space.knobs, (3, 1, 0, 2)))), {"c": 32})
    assert design.accelerator.adc_bits == LOSSLESS
    assert HardwareDesign.from_dict(design.to_dict(), template="crossbar") == design


def test_space_keeps_adc_choices_in_order_and_sorts_sizes():
    space = HardwareSpace("crossbar", adc_bits=(LOSSLESS, 8, 3), crossbar_size=(128, 16),
                          cell_bits=(4, 1))
    assert space.adc_bits == (LOSSLESS, 8, 3) and space.cell_bits == (1, 4)
    assert space.crossbar_size == (16, 128)
    np.testing.assert_array_equal(crossbar.knob_tables(space).adc_bits,
                                  [crossbar.LOSSLESS_CODE, 8, 3])


@pytest.mark.parametrize("changes, message", [
    ({"crossbar_size": (16, 48)},
     r"HardwareSpace.crossbar_size must be one of \[16, 32, 64, 128, 256\], got 48"),
    ({"adc_bits": (4, 40)},
     r"HardwareSpace.adc_bits must be an integer in \[1, 32\] or 'lossless', got 40"),
    ({"adc_bits": ("lossy",)}, r"HardwareSpace.adc_bits must be an integer .* got 'lossy'"),
    ({"cell_bits": (0, 2)}, r"HardwareSpace.cell_bits must be an integer in \[1, 8\], got 0"),
    ({"dac_bits": (9,)}, r"HardwareSpace.dac_bits must be an integer in \[1, 8\], got 9"),
    ({"columns_per_adc": (3,)}, r"HardwareSpace.columns_per_adc must be one of \[1, 2, 4, "),
    ({"weight_bits": 17}, r"HardwareSpace.weight_bits must be an integer in \[1, 16\], got 17"),
    ({"adc_bits": (4, 4)}, r"HardwareSpace.adc_bits has repeated choices"),
    ({"rows": (8,)}, r"HardwareSpace got unknown field\(s\) \['rows'\]"),
])
def test_invalid_spaces_raise_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        HardwareSpace("crossbar", **changes)


def test_config_errors_name_the_config_path():
    with pytest.raises(ValueError, match=r"config.hardware.adc_bits must be an integer in \[1, 32\]"):
        HardwareSpace.from_config({"template": "crossbar", "adc_bits": [4, 0]})
    with pytest.raises(ValueError, match=r"config.hardware.crossbar_size must be one of \[16, "):
        HardwareSpace.from_config({"template": "crossbar", "crossbar_size": [100]})


# -- the relaxed estimator and best_design on the crossbar template --------------------------------

TABLE = layer_table(quickstart_space())
SPACE = HardwareSpace("crossbar", adc_bits=(4, 8, LOSSLESS), cell_bits=(1, 2), dac_bits=(1, 2),
                      columns_per_adc=(8, 128))
MODEL = cost.prepare(TABLE, SPACE)
REFERENCE = cost.reference_metrics(TABLE, SPACE)


@functools.partial(jax.jit, static_argnums=4)
def _relaxed_edap(probs, logits, key, temperature, estimator):
    return MODEL.relaxed(probs, logits, key, temperature, objective="edap", reference=REFERENCE,
                         estimator=estimator)


def _design(space, table, knob_indices, size_of_slot):
    accelerator = space.accelerator(dict(zip(space.knobs, knob_indices)))
    return HardwareDesign(accelerator, {slot: size_of_slot(i)
                                        for i, slot in enumerate(table.mapping_slots)})


@pytest.mark.parametrize("op_indices, knob_indices, size_of_slot", [
    ((0, 1, 2, 3), (0, 0, 0, 0), lambda i: 16),
    ((4, 3, 1, 0), (2, 1, 0, 1), lambda i: CROSSBAR_SIZES[i % 4]),
    ((3, 3, 1, 4), (1, 1, 1, 0), lambda i: CROSSBAR_SIZES[3 - i % 3]),
])
def test_one_hot_limit_is_the_discrete_design_cost(op_indices, knob_indices, size_of_slot):
    design = _design(SPACE, TABLE, knob_indices, size_of_slot)
    network = TABLE.network(op_indices)
    predicted = cost.design_cost(network, design, TABLE)
    report = simulate_network(network, design.accelerator, design.mappings(network, TABLE))
    for field in METRICS:
        assert predicted[field] == pytest.approx(getattr(report, field), rel=1e-5), field
    probs = jax.nn.one_hot(jnp.asarray(op_indices), len(TABLE.op_names))
    logits = SPACE.one_hot_logits(design, TABLE)
    for estimator in ("sampled", "exact"):
        result = _relaxed_edap(probs, logits, jax.random.key(0), 1.0, estimator)
        for field in METRICS:
            assert float(getattr(result, field)) == pytest.approx(predicted[field], rel=1e-5), \
                (estimator, field)
        assert float(result.objective) == pytest.approx(
            predicted["edap_pj_s_mm2"] / float(REFERENCE.edap_pj_s_mm2), rel=1e-5)
    assert SPACE.discretize(logits, TABLE) == design


TINY_TABLE = layer_table(SearchSpace(image_size=8, in_channels=2, num_classes=2, stem_channels=4,
                                     stages=((8, 1, 2),), op_names=("mb_k3_e1", "mb_k3_e3"),
                                     head_channels=8))
TINY_SPACE = HardwareSpace("crossbar", adc_bits=(4, LOSSLESS), cell_bits=(1, 2), dac_bits=(1,),
                           columns_per_adc=(8, 128), crossbar_size=(16, 64))


def _brute_force(op_probs, hw_logits, temperature):
    """E_h[metrics of the expected network]: every accelerator x every size of every slot."""
    table, space = TINY_TABLE, TINY_SPACE
    slots = table.mapping_slots
    convs = list(table.fixed) + [c for row in table.choices for op in row for c in op]
    cells = np.array([index * len(table.op_names) + k for index, row in enumerate(table.choices)
                      for k, op in enumerate(row) for _ in op])
    conv_slot = np.array([slots.index(table.slot_of(c.name)) for c in convs])
    arrays = crossbar.layer_arrays(convs)
    per_size = jax.vmap(jax.vmap(lambda acc, size: crossbar.evaluate(arrays, acc, size),
                                 (None, 0)), (0, None))
    report = per_size(cost.space_accelerators(space), jnp.asarray(space.crossbar_size))
    combos = np.array(list(itertools.product(range(2), repeat=len(slots))))     # [F, slots]
    conv_size = combos[:, conv_slot]                                              # [F, convs]
    columns = np.arange(len(convs))
    weights = jnp.concatenate([jnp.ones(len(table.fixed)), op_probs.reshape(-1)[cells]])
    latency, energy, area = (jnp.sum(getattr(report, f)[:, conv_size, columns] * weights, -1)
                             for f in ("latency_s", "energy_pj", "area_mm2"))     # [A, F]
    indices = space_indices(space)
    p_accelerator = 1.0
    for i, knob in enumerate(space.knobs):
        p_accelerator *= jax.nn.softmax(hw_logits[knob] / temperature)[indices[:, i]]
    q = jax.nn.softmax(hw_logits["crossbar_size"] / temperature, axis=-1)
    p = p_accelerator[:, None] * jnp.prod(q[np.arange(len(slots)), combos], axis=-1)[None]
    return {"latency_s": jnp.sum(p * latency), "energy_pj": jnp.sum(p * energy),
            "area_mm2": jnp.sum(p * area), "edp_pj_s": jnp.sum(p * latency * energy),
            "edap_pj_s_mm2": jnp.sum(p * latency * energy * area)}


def test_expectation_with_summed_area_equals_brute_force_enumeration():
    rng = np.random.default_rng(2)
    logits = {key: jnp.asarray(rng.normal(size=value.shape), jnp.float32)
              for key, value in TINY_SPACE.init_logits(TINY_TABLE).items()}
    probs = jax.nn.softmax(jnp.asarray(rng.normal(size=(1, 2)), jnp.float32))
    temperature = 0.7
    reference = cost.reference_metrics(TINY_TABLE, TINY_SPACE)
    model = cost.prepare(TINY_TABLE, TINY_SPACE)
    brute = jax.jit(_brute_force)(probs, logits, temperature)
    brute_grad = jax.jit(jax.grad(lambda p, h: _brute_force(p, h, temperature)["edap_pj_s_mm2"],
                                  (0, 1)))(probs, logits)
    scale = float(reference.edap_pj_s_mm2)
    for estimator in ("expected", "exact"):
        def edap(p, h, estimator=estimator):
            if estimator == "expected":
                return model.expected(p, h, temperature, objective="edap", reference=reference)
            return model.exact(p, h, temperature, objective="edap", reference=reference)
        result = jax.jit(edap)(probs, logits)
        for field in METRICS:
            assert float(getattr(result, field)) == pytest.approx(float(brute[field]),
                                                                  rel=1e-5), (estimator, field)
        grad = jax.jit(jax.grad(lambda p, h: edap(p, h).objective, (0, 1)))(probs, logits)
        for got, want in zip(jax.tree.leaves(grad), jax.tree.leaves(brute_grad)):
            np.testing.assert_allclose(np.asarray(got) * scale, want, rtol=1e-4,
                                       atol=1e-5 * np.abs(want).max())
    sampled = jax.jit(lambda p, h: model.relaxed(p, h, jax.random.key(0), temperature,
                                                 num_samples=1000))(probs, logits)
    for field in METRICS:
        assert float(getattr(sampled, field)) == pytest.approx(float(brute[field]), rel=0.05)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), logit_scale=st.floats(0.0, 30.0),
       temperature=st.floats(0.05, 10.0), estimator=st.sampled_from(["sampled", "exact"]))
def test_gradients_are_finite(seed, logit_scale, temperature, estimator):
    rng = np.random.default_rng(seed)
    logits = {key: jnp.asarray(logit_scale * rng.normal(size=value.shape), jnp.float32)
              for key, value in SPACE.init_logits(TABLE).items()}
    mask = np.asarray(TABLE.op_mask)
    probs = jax.nn.softmax(jnp.asarray(np.where(mask, rng.normal(size=mask.shape), -np.inf),
                                       jnp.float32), axis=-1)
    value, grads = _edap_value_and_grad(probs, logits, jax.random.key(seed), temperature,
                                        estimator)
    chex.assert_tree_all_finite((value, grads))
    assert float(value) > 0


_edap_value_and_grad = jax.jit(jax.value_and_grad(
    lambda *args: _relaxed_edap(*args).objective, argnums=(0, 1)), static_argnums=4)


@pytest.mark.parametrize("objective", ["latency", "energy", "area"])
def test_best_design_finds_the_least_sum_over_accelerators_and_sizes(objective):
    """A sum over convs is least at every conv's least size: the exhaustive optimum, from sim."""
    field = cost.OBJECTIVE_METRICS[objective]
    model = cost.prepare(TINY_TABLE, TINY_SPACE)
    reference = cost.reference_metrics(TINY_TABLE, TINY_SPACE)
    op_indices = (1,)
    network = TINY_TABLE.network(op_indices)
    best = best_design(model, op_indices, objective, reference)
    least = min(sum(min(getattr(simulate_layer(layer, accelerator, CrossbarMapping(size)), field)
                        for size in TINY_SPACE.crossbar_size) for layer in network)
                for accelerator in TINY_SPACE.accelerators())
    assert getattr(best.metrics, field) == pytest.approx(least, rel=1e-5)
    report = simulate_network(network, best.design.accelerator,
                              best.design.mappings(network, TINY_TABLE))
    for metric in METRICS:
        assert getattr(best.metrics, metric) == pytest.approx(getattr(report, metric), rel=1e-5)
    assert best.feasible and best.num_accelerators == TINY_SPACE.num_accelerators


def test_best_design_edap_is_sims_and_best_case_bounds_it():
    """EDAP's best design (five per-conv size assignments per accelerator) is priced as sim prices
    it; the best case (every metric at its own least) bounds it from below."""
    model = cost.prepare(TINY_TABLE, TINY_SPACE)
    reference = cost.reference_metrics(TINY_TABLE, TINY_SPACE)
    best = best_design(model, (0,), "edap", reference, limits={"area_mm2": 1e3})
    network = TINY_TABLE.network((0,))
    report = simulate_network(network, best.design.accelerator,
                              best.design.mappings(network, TINY_TABLE))
    for metric in METRICS:
        assert getattr(best.metrics, metric) == pytest.approx(getattr(report, metric), rel=1e-5)
    floor = model.best_case(jax.nn.one_hot(jnp.asarray((0,)), 2))
    for metric in METRICS:
        assert float(getattr(floor, metric)) <= getattr(best.metrics, metric) * (1 + 1e-5)
    assert float(floor.area_mm2) == pytest.approx(best_design(model, (0,), "area",
                                                              reference).metrics.area_mm2,
                                                  rel=1e-5)


def test_the_relaxed_model_takes_the_templates_energy_table():
    table = CrossbarEnergyTable(adc_energy_pj=10.0, adc_growth_per_bit=1.5)
    model = cost.prepare(TINY_TABLE, TINY_SPACE, table)
    design = _design(TINY_SPACE, TINY_TABLE, (1, 1, 0, 0), lambda i: (16, 64)[i % 2])
    network = TINY_TABLE.network((0,))
    report = simulate_network(network, design.accelerator, design.mappings(network, TINY_TABLE),
                              energy_table=table)
    assert cost.design_cost(network, design, TINY_TABLE, table)["energy_pj"] == pytest.approx(
        report.energy_pj, rel=1e-5)
    result = jax.jit(lambda p, h: model.exact(p, h, 1.0))(
        jax.nn.one_hot(jnp.asarray((0,)), 2), TINY_SPACE.one_hot_logits(design, TINY_TABLE))
    assert float(result.energy_pj) == pytest.approx(report.energy_pj, rel=1e-5)
    assert float(result.edap_pj_s_mm2) == pytest.approx(report.edap_pj_s_mm2, rel=1e-5)
    with pytest.raises(ValueError, match="energy_table must be a sim.CrossbarEnergyTable or None"):
        cost.prepare(TINY_TABLE, TINY_SPACE, EnergyTable())
