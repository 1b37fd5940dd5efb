"""Reference CNNs for 32x32 (CIFAR) input, as workload descriptions.

Only layers that do multiply-accumulates appear; pooling, batch norm, activations and parameter-free
shortcuts are free in this model (their effect on later layers' shapes is kept).

- ResNet-20: He et al., "Deep Residual Learning for Image Recognition" (2016), Sec. 4.2, with
  parameter-free (option A) shortcuts: 40.55 M MACs.
- MobileNetV2 (CIFAR stem): Sandler et al. (2018) Table 2, with the first conv and the second
  stage at stride 1 for 32x32 input; the expansion conv is omitted when t == 1, as in the paper.
- VGG-11 (CIFAR): Simonyan & Zisserman (2015) configuration A, with one 512->classes classifier.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.workload import Layer, Network


def resnet20(num_classes: int = 10, batch: int = 1) -> Network:
    """ResNet-20 for CIFAR: 3 stages of 3 basic blocks with 16/32/64 channels."""
    layers = [Layer.conv("conv1", 3, 16, 32, 32, 3, N=batch)]
    channels, size = 16, 32
    for stage, width in enumerate((16, 32, 64), start=1):
        for block in range(3):
            stride = 2 if (block == 0 and stage > 1) else 1
            prefix = f"stage{stage}.block{block}"
            layers.append(Layer.conv(f"{prefix}.conv1", channels, width, size, size, 3,
                                     stride=stride, N=batch))
            size //= stride
            layers.append(Layer.conv(f"{prefix}.conv2", width, width, size, size, 3, N=batch))
            channels = width
    layers.append(Layer.fc("fc", channels, num_classes, N=batch))
    return Network("resnet20", tuple(layers))


# (expansion t, output channels c, repeats n, first stride s), Sandler et al. Table 2, CIFAR strides.
_MOBILENETV2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenetv2(num_classes: int = 10, batch: int = 1) -> Network:
    """MobileNetV2 with a stride-1 stem for 32x32 input (inverted residual blocks)."""
    layers = [Layer.conv("stem", 3, 32, 32, 32, 3, N=batch)]
    channels, size = 32, 32
    for stage, (expansion, width, repeats, first_stride) in enumerate(_MOBILENETV2_STAGES, 1):
        for block in range(repeats):
            stride = first_stride if block == 0 else 1
            hidden = channels * expansion
            prefix = f"stage{stage}.block{block}"
            if expansion != 1:
                layers.append(Layer.pointwise(f"{prefix}.expand", channels, hidden, size, size,
                                              N=batch))
            layers.append(Layer.depthwise(f"{prefix}.depthwise", hidden, size, size, 3,
                                          stride=stride, N=batch))
            size = (size + 2 - 3) // stride + 1
            layers.append(Layer.pointwise(f"{prefix}.project", hidden, width, size, size, N=batch))
            channels = width
    layers.append(Layer.pointwise("head", channels, 1280, size, size, N=batch))
    layers.append(Layer.fc("fc", 1280, num_classes, N=batch))
    return Network("mobilenetv2", tuple(layers))


# Configuration A: channel counts, "M" = 2x2 max pool.
_VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def vgg11(num_classes: int = 10, batch: int = 1) -> Network:
    """VGG-11 for CIFAR: eight 3x3 convs with five 2x2 max pools, then one classifier layer."""
    layers, channels, size = [], 3, 32
    for item in _VGG11:
        if item == "M":
            size //= 2
            continue
        layers.append(Layer.conv(f"conv{len(layers) + 1}", channels, item, size, size, 3, N=batch))
        channels = item
    layers.append(Layer.fc("fc", channels * size * size, num_classes, N=batch))
    return Network("vgg11", tuple(layers))


NETWORKS: dict[str, Callable[..., Network]] = {
    "resnet20": resnet20,
    "mobilenetv2": mobilenetv2,
    "vgg11": vgg11,
}


def get_network(name: str, num_classes: int = 10, batch: int = 1) -> Network:
    """Looks a reference network up by name."""
    if name not in NETWORKS:
        raise ValueError(f"network must be one of {sorted(NETWORKS)}, got {name!r}")
    return NETWORKS[name](num_classes=num_classes, batch=batch)
