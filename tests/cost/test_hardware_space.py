"""HardwareSpace / HardwareDesign: validation, enumeration, logits, discretize, mapping slots."""

import itertools
import json
import math

import ml_collections
import numpy as np
import pytest

from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.cost.systolic import KNOBS, SCHEMA

FOLD_ORDER = SCHEMA.mapping
from dianjax.nas.search_space import cifar_space, layer_table, quickstart_space
from sim import FOLD_ORDERS, Accelerator, Mapping

SMALL = HardwareSpace(rows=(16, 4), cols=(8,), dataflow=("os", "ws"), ifmap_sram_kb=(2, 1),
                      filter_sram_kb=(4,), ofmap_sram_kb=(1, 8, 2),
                      dram_bandwidth_words_per_cycle=(8.0, math.inf))
TABLE = layer_table(quickstart_space())


@pytest.mark.parametrize("changes, message", [
    ({"rows": ()}, "HardwareSpace.rows must be a non-empty tuple"),
    ({"cols": "16"}, "HardwareSpace.cols must be a non-empty tuple"),
    ({"ifmap_sram_kb": (8, 8)}, "HardwareSpace.ifmap_sram_kb has repeated choices"),
    ({"dataflow": ("os", "rs")}, r"HardwareSpace.dataflow must be one of \['ws', 'os', 'is'\]"),
    ({"fold_order": ("col_outer", "tiled")}, "HardwareSpace.fold_order must be one of"),
    ({"rows": (8, 0)}, "HardwareSpace.rows must be a positive integer, got 0"),
    ({"cols": (8.5,)}, "HardwareSpace.cols must be a positive integer"),
    ({"dram_bandwidth_words_per_cycle": (-1.0,)},
     "HardwareSpace.dram_bandwidth_words_per_cycle must be a number > 0"),
    ({"ofmap_sram_kb": (0.001,)}, "ofmap_sram_kb=0.001 holds fewer than 2 words"),
    ({"word_bits": 0}, "HardwareSpace.word_bits must be a positive integer"),
    ({"clock_mhz": -5.0}, "HardwareSpace.clock_mhz must be a number > 0"),
])
def test_invalid_spaces_raise_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        HardwareSpace(**changes)


def test_numeric_choices_are_sorted_and_categorical_ones_kept_in_order():
    assert SMALL.rows == (4, 16) and SMALL.ofmap_sram_kb == (1, 2, 8)
    assert SMALL.dataflow == ("os", "ws")
    assert SMALL.base_accelerator() == Accelerator(rows=4, cols=8, dataflow="os", ifmap_sram_kb=1,
                                                   filter_sram_kb=4, ofmap_sram_kb=1,
                                                   dram_bandwidth_words_per_cycle=8.0)
    assert [knob for knob, _ in SMALL.choices()] == list(KNOBS)


def test_accelerators_enumerate_every_combination_in_knob_order():
    accelerators = list(SMALL.accelerators())
    assert len(accelerators) == SMALL.num_accelerators == 2 * 1 * 2 * 2 * 1 * 3 * 2
    assert len(set(accelerators)) == len(accelerators)
    expected = [SMALL.accelerator(dict(zip(KNOBS, combo))) for combo in
                itertools.product(*(range(len(choices)) for _, choices in SMALL.choices()))]
    assert accelerators == expected
    for accelerator in accelerators:
        assert SMALL.accelerator(SMALL.indices(accelerator)) == accelerator
    assert HardwareSpace().num_accelerators == 4 ** 6 * 3


def test_accelerator_indices_errors():
    with pytest.raises(ValueError, match=r"index of rows must be in \[0, 2\), got 2"):
        SMALL.accelerator({**dict.fromkeys(KNOBS, 0), "rows": 2})
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['depth'\]"):
        SMALL.accelerator({**dict.fromkeys(KNOBS, 0), "depth": 0})
    with pytest.raises(ValueError, match=r"accelerator.rows=32 is not a choice .* \[4, 16\]"):
        SMALL.indices(Accelerator(rows=32, cols=8, dataflow="os", ifmap_sram_kb=1, filter_sram_kb=4,
                                  ofmap_sram_kb=1, dram_bandwidth_words_per_cycle=8.0))
    with pytest.raises(ValueError,
                       match="accelerator.word_bits=8 differs from the space.s word_bits=16"):
        SMALL.indices(Accelerator(rows=4, cols=8, dataflow="os", ifmap_sram_kb=1, filter_sram_kb=4,
                                  ofmap_sram_kb=1, dram_bandwidth_words_per_cycle=8.0, word_bits=8))


def test_config_and_dict_round_trip():
    data = SMALL.to_dict()
    assert HardwareSpace(**data) == SMALL
    config = ml_collections.ConfigDict({key: tuple(value) if isinstance(value, list) else value
                                        for key, value in data.items()})
    assert HardwareSpace.from_config(config) == SMALL
    assert HardwareSpace.from_config({"rows": [8, 4]}).rows == (4, 8)
    with pytest.raises(ValueError, match=r"hardware got unknown field\(s\) \['banks'\]"):
        HardwareSpace.from_config({"banks": (1, 2)})


def test_mapping_slots_cover_every_layer_of_every_derived_network():
    slots = TABLE.mapping_slots
    assert slots[0] == "stem" and slots[-2:] == ("head", "classifier")
    assert len(slots) == 3 + 3 * TABLE.num_layers
    assert TABLE.slot_of("layer3.mb_k5_e3.expand") == "layer3.expand"
    assert TABLE.slot_of("head") == "head"
    rng = np.random.default_rng(0)
    mask = np.asarray(TABLE.op_mask)
    for _ in range(20):
        ops = [int(rng.choice(np.flatnonzero(row))) for row in mask]
        network = TABLE.network(ops)
        assert {TABLE.slot_of(layer.name) for layer in network} <= set(slots)
    table = layer_table(cifar_space())
    assert len(table.mapping_slots) == 3 + 3 * 22


def test_logits_shapes_and_check_errors():
    logits = SMALL.init_logits(TABLE)
    assert set(logits) == {*KNOBS, FOLD_ORDER}
    assert logits["ofmap_sram_kb"].shape == (3,) and logits["ofmap_sram_kb"].dtype == np.float32
    assert logits[FOLD_ORDER].shape == (len(TABLE.mapping_slots), 2)
    assert not any(np.any(v) for v in logits.values())
    SMALL.check_logits(logits, TABLE)
    with pytest.raises(ValueError, match="hw_logits must have the keys"):
        SMALL.check_logits({k: v for k, v in logits.items() if k != "cols"}, TABLE)
    with pytest.raises(ValueError, match=r"hw_logits\['rows'\] must have shape \(2,\), got \(3,\)"):
        SMALL.check_logits({**logits, "rows": np.zeros(3)}, TABLE)


@pytest.mark.parametrize("fold_orders", [FOLD_ORDERS, ("row_outer",)])
def test_discretize_inverts_one_hot_logits(fold_orders):
    space = HardwareSpace(**{**SMALL.to_dict(), "fold_order": fold_orders})
    slots = TABLE.mapping_slots
    for index, accelerator in enumerate(space.accelerators()):
        orders = {slot: fold_orders[(index + i) % len(fold_orders)] for i, slot in enumerate(slots)}
        design = HardwareDesign(accelerator, orders)
        logits = space.one_hot_logits(design, TABLE)
        assert space.discretize(logits, TABLE) == design
    with pytest.raises(ValueError, match="fold_order 'col_outer' of slot 'stem' is not a choice"):
        HardwareSpace(fold_order=("row_outer",)).one_hot_logits(
            HardwareDesign(Accelerator(rows=8, cols=8, ifmap_sram_kb=16, filter_sram_kb=16,
                                       ofmap_sram_kb=16, dram_bandwidth_words_per_cycle=4.0),
                           {"stem": "col_outer"}), TABLE)


def test_design_mappings_and_round_trip():
    slots = TABLE.mapping_slots
    orders = {slot: FOLD_ORDERS[i % 2] for i, slot in enumerate(slots)}
    design = HardwareDesign(SMALL.base_accelerator(), orders)
    network = TABLE.network([1, 3, 0, 4])
    mappings = design.mappings(network, TABLE)
    assert list(mappings) == [layer.name for layer in network]
    for layer in network:
        assert mappings[layer.name] == Mapping(orders[TABLE.slot_of(layer.name)])
    assert HardwareDesign.from_dict(json.loads(json.dumps(design.to_dict()))) == design
    with pytest.raises(ValueError, match="has no mapping slot 'layer0.expand'"):
        HardwareDesign(SMALL.base_accelerator(), {"stem": "col_outer"}).mappings(network, TABLE)
