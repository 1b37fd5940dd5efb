"""sim: the exact, numpy-only accelerator simulator and the shared workload/architecture descriptions.

Importing ``sim`` never imports JAX: the simulator is the independent ground truth that the
differentiable cost model in ``dianjax`` is validated against.
"""

from sim.architecture import DATAFLOWS, Accelerator
from sim.networks import NETWORKS, get_network, mobilenetv2, resnet20, vgg11
from sim.workload import Layer, Network

__all__ = [
    "DATAFLOWS",
    "NETWORKS",
    "Accelerator",
    "Layer",
    "Network",
    "get_network",
    "mobilenetv2",
    "resnet20",
    "vgg11",
]
