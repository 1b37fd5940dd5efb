"""Lowering a layer to the per-group GEMM of each dataflow."""

import pytest

from sim import Layer, gemm_shape


@pytest.mark.parametrize("dataflow, expected", [
    ("os", (2 * 7 * 7, 24, 12 * 3 * 3)),
    ("ws", (12 * 3 * 3, 24, 2 * 7 * 7)),
    ("is", (12 * 3 * 3, 2 * 7 * 7, 24)),
])
def test_grouped_batched_conv(dataflow, expected):
    # N=2, C=48 in 4 groups of 12, M=96 in 4 groups of 24, 14x14 -> 7x7 at stride 2
    layer = Layer.conv("c", C=48, M=96, H=14, W=14, kernel=3, stride=2, groups=4, N=2)
    gemm = gemm_shape(layer, dataflow)
    assert (gemm.Sr, gemm.Sc, gemm.T) == expected
    assert gemm.groups == 4
    assert gemm.ifmap_words == 2 * 12 * 14 * 14
    assert gemm.filter_words == 24 * 12 * 3 * 3
    assert gemm.ofmap_words == 2 * 24 * 7 * 7
    assert gemm.groups * gemm.Sr * gemm.Sc * gemm.T == layer.macs


def test_depthwise_is_one_channel_per_group():
    gemm = gemm_shape(Layer.depthwise("dw", C=32, H=8, W=8, kernel=3), "ws")
    assert (gemm.Sr, gemm.Sc, gemm.T, gemm.groups) == (9, 1, 64, 32)


def test_fc_layer():
    gemm = gemm_shape(Layer.fc("fc", 64, 10, N=3), "os")
    assert (gemm.Sr, gemm.Sc, gemm.T) == (3, 10, 64)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match=r"gemm_shape.dataflow must be one of \['ws', 'os', 'is'\]"):
        gemm_shape(Layer.fc("fc", 4, 4), "row_stationary")
    with pytest.raises(ValueError, match="layer must be a sim.Layer, got dict"):
        gemm_shape({"C": 4}, "ws")
