"""Search space validation, op availability and the layer table's exact shapes and MAC counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dianjax.nas.search_space import (MBCONV_OPS, OPS, RESIDUAL_OPS, SPACES, SearchSpace,
                                      cifar_space, get_space, imagenet_space, layer_table,
                                      quickstart_space)
from sim.workload import Network

TINY = dict(image_size=4, in_channels=1, num_classes=2, stem_channels=2,
            stages=((2, 1, 1), (4, 1, 2)), op_names=("mb_k3_e1", "mb_k3_e3", "skip"),
            head_channels=8)


def test_ops_registry_order():
    assert OPS == ("mb_k3_e1", "mb_k3_e3", "mb_k3_e6", "mb_k5_e1", "mb_k5_e3", "mb_k5_e6",
                   "mb_k7_e1", "mb_k7_e3", "mb_k7_e6", "skip", "res_k3", "res_k5", "res_k7")
    assert MBCONV_OPS == OPS[:10]
    assert RESIDUAL_OPS == ("res_k3", "res_k5", "res_k7", "skip")


def test_layer_table_macs_equal_hand_count():
    table = layer_table(SearchSpace(**TINY))
    # stem 1->2 channels, 4x4, 3x3 kernel
    assert [layer.macs for layer in table.fixed] == [2 * 16 * 1 * 9, 8 * 4 * 4, 8 * 2]
    # layer 0 (2->2, stride 1, 4x4): e1 = dw 2*16*9 + proj 2*2*16; e3 = exp 6*2*16 + dw 6*16*9
    # + proj 2*6*16; skip is free. Layer 1 (2->4, stride 2, 4x4 -> 2x2): skip unavailable.
    expected = [[288 + 64, 192 + 864 + 192, 0], [72 + 32, 192 + 216 + 96, 0]]
    np.testing.assert_array_equal(table.macs(), expected)
    assert [layer.name for layer in table.choices[0][1]] == [
        "layer0.mb_k3_e3.expand", "layer0.mb_k3_e3.depthwise", "layer0.mb_k3_e3.project"]
    assert [layer.kind for layer in table.choices[1][0]] == ["depthwise", "pointwise"]
    assert table.choices[1][2] == () and table.op_mask == ((True, True, True), (True, True, False))


def test_layer_table_batch_scales_macs():
    space = quickstart_space()
    np.testing.assert_array_equal(layer_table(space, batch=3).macs(), 3 * layer_table(space).macs())


def test_network_orders_stem_choices_head():
    table = layer_table(SearchSpace(**TINY))
    network = table.network((2, 1))
    assert isinstance(network, Network)
    assert [layer.name for layer in network] == [
        "stem", "layer1.mb_k3_e3.expand", "layer1.mb_k3_e3.depthwise", "layer1.mb_k3_e3.project",
        "head", "classifier"]
    with pytest.raises(ValueError, match=r"op_indices\[1\]=2 is not an available op"):
        table.network((0, 2))
    with pytest.raises(ValueError, match="one entry per searchable layer"):
        table.network((0,))


@pytest.mark.parametrize("name,layers,ops,final", [("quickstart", 4, 5, 4), ("cifar", 22, 10, 4),
                                                   ("imagenet", 22, 10, 7)])
def test_bundled_spaces(name, layers, ops, final):
    space = get_space(name)
    assert (space.num_layers, space.num_ops, space.final_size) == (layers, ops, final)
    mask = space.op_mask()
    assert mask.shape == (layers, ops) and mask.dtype == np.bool_
    for slot, row in zip(space.slots(), mask):
        assert row[list(space.op_names).index("skip")] == (
            slot.stride == 1 and slot.in_channels == slot.out_channels)
        assert row[:-1].all()


def test_num_classes_override():
    assert cifar_space(100).num_classes == 100 and imagenet_space().image_size == 224
    assert get_space("cifar", num_classes=100) == cifar_space(100)
    assert hash(quickstart_space()) == hash(quickstart_space())
    assert set(SPACES) == {"quickstart", "cifar_small", "cifar", "imagenet", "nax_quickstart",
                           "nax_cifar"}


@pytest.mark.parametrize("field,value,message", [
    ("image_size", 0, r"SearchSpace\.image_size must be a positive integer"),
    ("num_classes", 1, r"SearchSpace\.num_classes must be >= 2"),
    ("stem_channels", 2.5, r"SearchSpace\.stem_channels must be a positive integer"),
    ("stages", (), r"SearchSpace\.stages must hold at least one"),
    ("stages", ((4, 1),), r"SearchSpace\.stages\[0\] must be \(out_channels"),
    ("stages", ((4, 0, 1),), r"SearchSpace\.stages\[0\]\.num_layers must be a positive integer"),
    ("op_names", ("mb_k9_e1",), r"SearchSpace\.op_names must be one of \['mb_k3_e1'"),
    ("op_names", ("skip", "skip"), r"SearchSpace\.op_names has duplicates"),
    ("op_names", ("skip",), r"leaves searchable layer 1 .* with no available op"),
])
def test_bad_space_rejected(field, value, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(**{**TINY, field: value})


def test_unknown_space_name():
    with pytest.raises(ValueError, match=r"search space\.name must be one of \['quickstart'"):
        get_space("mnist")


@settings(max_examples=40, deadline=None)
@given(image_size=st.integers(1, 20), stem_stride=st.integers(1, 2),
       stages=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 3), st.integers(1, 2)),
                       min_size=1, max_size=3),
       batch=st.integers(1, 3))
def test_layer_table_chains_shapes(image_size, stem_stride, stages, batch):
    space = SearchSpace(image_size=image_size, in_channels=3, num_classes=5, stem_channels=4,
                        stages=tuple(stages), head_channels=6, stem_stride=stem_stride)
    table = layer_table(space, batch)
    for slot, row, mask_row in zip(space.slots(), table.choices, space.op_mask()):
        for layers, available in zip(row, mask_row):
            if not layers:
                continue
            assert available and layers[0].C == slot.in_channels and layers[-1].M == slot.out_channels
            assert (layers[0].H, layers[-1].P) == (slot.in_size, slot.out_size)
            assert all(layer.N == batch for layer in layers)
            for before, after in zip(layers, layers[1:]):
                assert (before.M, before.P, before.Q) == (after.C, after.H, after.W)
    rng = np.random.default_rng(image_size)
    choice = [rng.choice(np.flatnonzero(row)) for row in space.op_mask()]
    network = table.network(choice)
    assert network.layers[0].P == space.stem_size and network.layers[-2].H == space.final_size
    assert network.macs == sum(l.macs for l in table.fixed) + sum(
        table.macs()[i, k] for i, k in enumerate(choice))


RESIDUAL_TINY = dict(image_size=4, in_channels=1, num_classes=2, stem_channels=2,
                     stages=((2, 1, 1), (4, 1, 2)), op_names=RESIDUAL_OPS, head_channels=0)


def test_residual_layer_table_macs_and_slots_equal_hand_count():
    table = layer_table(SearchSpace(**RESIDUAL_TINY))
    # stem 1->2 on 4x4 with 3x3; no head conv: the classifier reads the last stage's 4 channels
    assert [layer.name for layer in table.fixed] == ["stem", "classifier"]
    assert [layer.macs for layer in table.fixed] == [2 * 16 * 9, 4 * 2]
    # layer 0 (2->2, stride 1, 4x4): two kxk convs, identity shortcut; skip allowed
    assert table.macs()[0].tolist() == [2 * 2 * 16 * 2 * 9, 2 * 2 * 16 * 2 * 25,
                                        2 * 2 * 16 * 2 * 49, 0]
    # layer 1 (2->4, stride 2, 4x4 -> 2x2): conv1 at the stride, conv2, 1x1 strided shortcut
    assert table.macs()[1].tolist() == [4 * 4 * 2 * 9 + 4 * 4 * 4 * 9 + 4 * 4 * 2,
                                        4 * 4 * 2 * 25 + 4 * 4 * 4 * 25 + 4 * 4 * 2,
                                        4 * 4 * 2 * 49 + 4 * 4 * 4 * 49 + 4 * 4 * 2, 0]
    assert table.op_mask[1] == (True, True, True, False)
    assert table.mapping_slots == ("stem", "layer0.conv1", "layer0.conv2", "layer0.shortcut",
                                   "layer1.conv1", "layer1.conv2", "layer1.shortcut",
                                   "classifier")
    assert table.slot_of("layer1.res_k5.shortcut") == "layer1.shortcut"


def test_nax_cifar_space_all_res_k3_is_resnet20():
    space = get_space("nax_cifar")
    table = layer_table(space)
    network = table.network([space.op_index("res_k3")] * space.num_layers)
    convs = [layer for layer in network if "shortcut" not in layer.name]
    # ResNet-20: a 3x3 stem, 9 blocks of two 3x3 convs, one fully-connected layer
    assert len(convs) == 1 + 9 * 2 + 1
    assert [layer.name for layer in network if "shortcut" in layer.name] == [
        "layer3.res_k3.shortcut", "layer6.res_k3.shortcut"]
    # every 3x3 conv but the two strided ones 2,359,296 MACs (those half), He et al.'s ~41M;
    # plus the two 1x1 projection shortcuts
    stem, blocks, fc = 32 * 32 * 16 * 3 * 9, 18 * 2_359_296 - 2 * 1_179_648, 64 * 10
    assert network.macs == stem + blocks + fc + 32 * 16 * 16 * 16 + 64 * 32 * 8 * 8


def test_mbconv_spaces_keep_their_ops_and_slots():
    for space in (cifar_space(), imagenet_space()):
        assert space.op_names == MBCONV_OPS
        assert space.block_positions == ("expand", "depthwise", "project")
