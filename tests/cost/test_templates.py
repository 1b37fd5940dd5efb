"""The cost model's hardware templates: registry, knob schema, and the space built over it."""

import jax
import numpy as np
import pytest

from dianjax import cost
from dianjax.cost import crossbar, systolic
from dianjax.cost.hardware_space import HardwareDesign
from dianjax.nas.search_space import SearchSpace, layer_table, quickstart_space
from sim import Accelerator, simulate_network
from sim import get_template as sim_template

TABLE = layer_table(quickstart_space())


def test_cost_and_sim_templates_pair_by_name():
    for name, template in cost.TEMPLATES.items():   # the loop nest: a family of hierarchies
        assert issubclass(template.architecture, sim_template(name).architecture)
    assert cost.get_template("systolic") is systolic.TEMPLATE
    assert cost.get_template("crossbar") is crossbar.TEMPLATE is cost.TEMPLATES["crossbar"]
    assert cost.TEMPLATE_NAMES == ("systolic", "crossbar", "loopnest")
    with pytest.raises(ValueError, match=r"hardware template must be one of "
                                         r"\['systolic', 'crossbar', 'loopnest'\], got 'eyeriss'"):
        cost.get_template("eyeriss")


def test_space_follows_the_schema():
    space = cost.HardwareSpace()
    schema = systolic.SCHEMA
    assert space.knobs == schema.knobs and space.mapping_knob == schema.mapping
    assert set(space.init_logits(TABLE)) == {*schema.knobs, schema.mapping}
    assert space.to_dict()["template"] == "systolic"
    assert cost.HardwareSpace.from_config(space.to_dict()) == space
    assert space.num_accelerators == 4 * 4 * 3 * 4 * 4 * 4 * 4
    assert isinstance(space.base_accelerator(), Accelerator)
    with pytest.raises(ValueError, match=r"config.hardware.template must be one of "
                                         r"\['systolic', 'crossbar', 'loopnest'\]"):
        cost.HardwareSpace.from_config({"template": "eyeriss"})
    with pytest.raises(ValueError, match=r"config.hardware.dram_bandwidth was renamed"):
        cost.HardwareSpace.from_config({"dram_bandwidth": (4.0,)})
    with pytest.raises(AttributeError, match="HardwareSpace has no field 'banks'"):
        _ = space.banks


def test_layer_table_carries_every_convs_slot():
    slots = TABLE.mapping_slots
    assert slots[0] == "stem" and slots[-2:] == ("head", "classifier")
    convs = [c for row in TABLE.choices for op in row for c in op]
    assert len(TABLE.conv_slots) == len(TABLE.fixed) + len(convs)
    for layer_index, row in enumerate(TABLE.choices):
        for op in row:
            positions = [TABLE.slot_of(c.name) for c in op]
            # the slot comes from the block position, not from parsing: a 3-conv op uses all three
            expected = [f"layer{layer_index}.{p}" for p in ("expand", "depthwise", "project")]
            assert positions == expected[-len(op):] if op else positions == []
    with pytest.raises(ValueError, match="is not a conv of this layer table"):
        TABLE.slot_of("conv1")


def test_relaxed_model_uses_the_template_of_its_space():
    model = cost.prepare(TABLE, cost.HardwareSpace())
    stacked = cost.space_accelerators(cost.HardwareSpace(rows=(8,), cols=(8, 16)))
    assert isinstance(stacked, systolic.AcceleratorArrays) and len(stacked.rows) == 2 * 3 * 4 ** 4
    np.testing.assert_array_equal(model.fold_orders, [0, 1])


# -- every template, through the generic interface only ---------------------------------------------

TINY_TABLE = layer_table(SearchSpace(image_size=8, in_channels=2, num_classes=2, stem_channels=4,
                                     stages=((8, 1, 2),), op_names=("mb_k3_e1", "mb_k3_e3"),
                                     head_channels=8))
SMALL_SPACES = {
    "systolic": {"rows": (4, 8), "cols": (8,), "dataflow": ("ws", "os"), "ifmap_sram_kb": (1,),
                 "filter_sram_kb": (1,), "ofmap_sram_kb": (1, 4),
                 "dram_bandwidth_words_per_cycle": (8.0,)},
    "crossbar": {"adc_bits": (4, "lossless"), "cell_bits": (2,), "dac_bits": (1, 2),
                 "columns_per_adc": (16,), "crossbar_size": (16, 32, 128)},
    "loopnest": {"pe_rows": (4, 8), "pe_cols": (4,), "glb_kb": (4, 16), "rf_words": (16,),
                 "dram_bandwidth_words_per_cycle": (4.0,),
                 "dataflow": ("weight_stationary", "output_stationary")},
}


@pytest.mark.parametrize("name", cost.TEMPLATE_NAMES)
def test_every_template_prices_a_design_as_sim_through_the_interface(name):
    """Space, discrete cost, one-hot relaxed cost (sampled and exact), best_design: sim's figures."""
    template = cost.get_template(name)
    space = cost.HardwareSpace(name, **SMALL_SPACES[name])
    assert set(space.init_logits(TINY_TABLE)) == {*template.schema.knobs, template.schema.mapping}
    assert isinstance(space.base_accelerator(), template.architecture)
    assert cost.HardwareSpace.from_config(space.to_dict()) == space
    choices = space.mapping_choices
    last_choices = {knob: len(values) - 1 for knob, values in space.choices()}
    design = HardwareDesign(space.accelerator(last_choices),
                            {slot: choices[i % len(choices)]
                             for i, slot in enumerate(TINY_TABLE.mapping_slots)})
    op_indices = (1,)
    network = TINY_TABLE.network(op_indices)
    report = simulate_network(network, design.accelerator, design.mappings(network, TINY_TABLE))
    edp = report.energy_pj * report.latency_s
    simulated = {"latency_s": report.latency_s, "energy_pj": report.energy_pj,
                 "area_mm2": report.area_mm2, "edp_pj_s": edp,
                 "edap_pj_s_mm2": edp * report.area_mm2}
    priced = cost.design_cost(network, design, TINY_TABLE)
    model = cost.prepare(TINY_TABLE, space)
    reference = cost.reference_metrics(TINY_TABLE, space)
    probs = jax.nn.one_hot(np.asarray(op_indices), len(TINY_TABLE.op_names))
    logits = space.one_hot_logits(design, TINY_TABLE)
    relaxed = [jax.jit(lambda p, h, e=estimator: model.relaxed(p, h, jax.random.key(0), 1.0,
                                                               estimator=e))(probs, logits)
               for estimator in ("sampled", "exact")]
    for field, value in simulated.items():
        assert priced[field] == pytest.approx(value, rel=1e-5), field
        for result in relaxed:
            assert float(getattr(result, field)) == pytest.approx(value, rel=1e-5), field
    best = cost.best_design(model, op_indices, "edap", reference)
    rerun = simulate_network(network, best.design.accelerator,
                             best.design.mappings(network, TINY_TABLE))
    for field in ("latency_s", "energy_pj", "area_mm2"):
        assert getattr(best.metrics, field) == pytest.approx(getattr(rerun, field), rel=1e-5)
