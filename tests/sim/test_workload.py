"""Layer and Network descriptions: derived sizes, validation errors, JSON round trips."""

import dataclasses

import pytest

from sim.workload import Layer, Network


def test_conv_derived_sizes():
    layer = Layer(name="c", N=2, C=4, M=8, H=9, W=7, R=3, S=3, stride=2, padding=1)
    assert (layer.P, layer.Q) == (5, 4)  # floor((9+2-3)/2)+1, floor((7+2-3)/2)+1
    assert layer.macs == 2 * 8 * 5 * 4 * 4 * 3 * 3
    assert layer.ifmap_words == 2 * 4 * 9 * 7
    assert layer.filter_words == 8 * 4 * 3 * 3
    assert layer.ofmap_words == 2 * 8 * 5 * 4
    assert layer.kind == "conv"


def test_depthwise_grouped_pointwise_fc():
    dw = Layer.depthwise("dw", C=32, H=8, W=8, kernel=3, stride=2)
    assert dw.kind == "depthwise" and (dw.P, dw.Q) == (4, 4)
    assert dw.macs == 32 * 4 * 4 * 9 and dw.filter_words == 32 * 9
    grouped = Layer.conv("g", C=8, M=16, H=4, W=4, kernel=3, groups=4)
    assert grouped.kind == "grouped" and grouped.macs == 16 * 16 * 2 * 9
    pw = Layer.pointwise("pw", C=8, M=4, H=5, W=5)
    assert pw.kind == "pointwise" and pw.macs == 8 * 4 * 25
    fc = Layer.fc("fc", 64, 10, N=3)
    assert fc.kind == "fc" and fc.macs == 3 * 640 and (fc.P, fc.Q) == (1, 1)


def test_with_batch_scales_macs_and_activations_not_weights():
    layer = Layer.conv("c", 3, 16, 8, 8, 3)
    big = layer.with_batch(4)
    assert big.macs == 4 * layer.macs and big.filter_words == layer.filter_words
    assert big.ifmap_words == 4 * layer.ifmap_words


@pytest.mark.parametrize("field", ["N", "C", "M", "H", "W", "R", "S", "stride", "groups"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_non_positive_or_non_integer_sizes_rejected(field, bad):
    values = dict(name="x", N=1, C=4, M=4, H=8, W=8, R=3, S=3, stride=1, padding=1, groups=1)
    values[field] = bad
    with pytest.raises(ValueError, match=rf"Layer\('x'\)\.{field} must be a positive integer, got"):
        Layer(**values)


@pytest.mark.parametrize("bad", [-1, 0.5])
def test_bad_padding_rejected(bad):
    with pytest.raises(ValueError, match=r"\.padding must be an integer >= 0"):
        Layer(name="x", C=1, M=1, H=4, W=4, padding=bad)


@pytest.mark.parametrize("kernel, field", [({"R": 7}, "R"), ({"S": 7}, "S")])
def test_kernel_larger_than_padded_input_rejected(kernel, field):
    with pytest.raises(ValueError, match=rf"\.{field}=7 is larger than the padded input"):
        Layer(name="x", C=1, M=1, H=4, W=4, padding=1, **kernel)


def test_kernel_equal_to_padded_input_allowed():
    assert Layer(name="x", C=1, M=1, H=4, W=4, R=6, S=6, padding=1).P == 1


@pytest.mark.parametrize("channels, field", [({"C": 6, "M": 8}, "C"), ({"C": 8, "M": 6}, "M")])
def test_channels_not_divisible_by_groups_rejected(channels, field):
    with pytest.raises(ValueError, match=rf"\.{field}=6 is not divisible by groups=4"):
        Layer(name="x", H=4, W=4, groups=4, **channels)


def test_empty_name_rejected():
    with pytest.raises(ValueError, match="Layer.name must be a non-empty string"):
        Layer(name="", C=1, M=1)


def test_layer_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Layer.fc("fc", 2, 2).C = 3


def test_network_validation():
    layer = Layer.fc("fc", 2, 2)
    with pytest.raises(ValueError, match="at least one Layer"):
        Network("n", ())
    with pytest.raises(ValueError, match=r"duplicate names \['fc'\]"):
        Network("n", (layer, layer))
    with pytest.raises(ValueError, match=r"layers\[1\] must be a Layer, got dict"):
        Network("n", (layer, {"name": "x"}))


def test_json_round_trip(tmp_path):
    net = Network("n", (Layer.conv("a", 3, 8, 16, 16, 3, stride=2, N=2),
                        Layer.depthwise("b", 8, 8, 8, 5), Layer.fc("c", 8, 10, N=2)))
    path = tmp_path / "net.json"
    net.save(path)
    assert Network.load(path) == net
    assert Layer.from_dict(net.layers[0].to_dict()) == net.layers[0]


def test_json_unknown_and_invalid_fields_rejected():
    data = Layer.fc("fc", 2, 2).to_dict()
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['kernel'\]"):
        Layer.from_dict({**data, "kernel": 3})
    with pytest.raises(ValueError, match=r"\.M must be a positive integer, got 0"):
        Layer.from_dict({**data, "M": 0})
    with pytest.raises(ValueError, match=r"Network got unknown field\(s\) \['layer'\]"):
        Network.from_dict({"name": "n", "layer": []})
