"""The cost model's hardware templates: registry, knob schema, and the space built over it."""

import numpy as np
import pytest

from dianjax import cost
from dianjax.cost import systolic
from dianjax.nas.search_space import layer_table, quickstart_space
from sim import Accelerator
from sim import get_template as sim_template

TABLE = layer_table(quickstart_space())


def test_cost_and_sim_templates_pair_by_name():
    for name, template in cost.TEMPLATES.items():
        assert sim_template(name).architecture is template.architecture
    assert cost.get_template("systolic") is systolic.TEMPLATE
    with pytest.raises(ValueError, match=r"hardware template must be one of \['systolic'\]"):
        cost.get_template("crossbar")


def test_space_follows_the_schema():
    space = cost.HardwareSpace()
    schema = systolic.SCHEMA
    assert space.knobs == schema.knobs and space.mapping_knob == schema.mapping
    assert set(space.init_logits(TABLE)) == {*schema.knobs, schema.mapping}
    assert space.to_dict()["template"] == "systolic"
    assert cost.HardwareSpace.from_config(space.to_dict()) == space
    assert space.num_accelerators == 4 * 4 * 3 * 4 * 4 * 4 * 4
    assert isinstance(space.base_accelerator(), Accelerator)
    with pytest.raises(ValueError, match=r"config.hardware.template must be one of \['systolic'\]"):
        cost.HardwareSpace.from_config({"template": "loopnest"})
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
