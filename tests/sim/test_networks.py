"""Reference networks: MAC counts against hand-computed totals."""

import pytest

from sim import networks
from sim.workload import Network


def _conv_macs(size, c, m, k=3, groups=1):
    return size * size * m * (c // groups) * k * k


def test_resnet20_macs_hand_count():
    # conv1 + 6 convs/stage at 16/32/64 channels (32x32, 16x16, 8x8), the first of stages 2-3
    # strided from the previous width, plus the 64->10 classifier.
    expected = (_conv_macs(32, 3, 16)
                + 6 * _conv_macs(32, 16, 16)
                + _conv_macs(16, 16, 32) + 5 * _conv_macs(16, 32, 32)
                + _conv_macs(8, 32, 64) + 5 * _conv_macs(8, 64, 64)
                + 64 * 10)
    net = networks.resnet20()
    assert net.macs == expected == 40_551_040  # the "~41 M MACs" of the paper
    assert len(net) == 20  # 19 convs + fc: that's the "20"
    assert net.filter_words == 268_336  # weights of convs + fc: the paper's "0.27 M" parameters


def test_vgg11_macs_hand_count():
    expected = (_conv_macs(32, 3, 64) + _conv_macs(16, 64, 128) + _conv_macs(8, 128, 256)
                + _conv_macs(8, 256, 256) + _conv_macs(4, 256, 512) + _conv_macs(4, 512, 512)
                + 2 * _conv_macs(2, 512, 512) + 512 * 10)
    assert networks.vgg11().macs == expected == 152_769_536


def test_mobilenetv2_macs_hand_count():
    total, channels, size = _conv_macs(32, 3, 32), 32, 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = channels * t
            if t != 1:
                total += size * size * channels * hidden
            size_out = size // stride
            total += _conv_macs(size_out, hidden, hidden, groups=hidden)
            total += size_out * size_out * hidden * c
            channels, size = c, size_out
    total += size * size * 320 * 1280 + 1280 * 10
    net = networks.mobilenetv2()
    assert net.macs == total == 87_976_448
    assert sum(layer.kind == "depthwise" for layer in net) == 17


@pytest.mark.parametrize("name", sorted(networks.NETWORKS))
def test_batch_and_classes(name, tmp_path):
    net = networks.get_network(name, num_classes=100, batch=4)
    assert all(layer.N == 4 for layer in net)
    assert net.layers[-1].M == 100
    assert net.macs == 4 * networks.get_network(name, num_classes=100).macs
    net.save(tmp_path / "n.json")
    assert Network.load(tmp_path / "n.json") == net


def test_unknown_network_named():
    with pytest.raises(ValueError, match=r"network must be one of \['mobilenetv2', 'resnet20', 'vgg11'\]"):
        networks.get_network("resnet18")
