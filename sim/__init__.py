"""sim: the exact, numpy-only accelerator simulator and the shared workload/architecture descriptions.

Importing ``sim`` never imports JAX: the simulator is the independent ground truth that the
differentiable cost model in ``dianjax`` is validated against.
"""

from sim.systolic.architecture import DATAFLOWS, Accelerator
from sim.systolic.energy import EnergyBreakdown, EnergyTable
from sim.systolic.lowering import GemmShape, gemm_shape
from sim.systolic.mapping import FOLD_ORDERS, MAPPINGS, Mapping
from sim.networks import NETWORKS, get_network, mobilenetv2, resnet20, vgg11
from sim.systolic.report import LayerReport, NetworkReport
from sim.systolic.schedule import FoldSchedule, fold_schedule
from sim.systolic.simulator import simulate_layer, simulate_network
from sim.workload import Layer, Network

__all__ = [
    "DATAFLOWS",
    "FOLD_ORDERS",
    "MAPPINGS",
    "NETWORKS",
    "Accelerator",
    "EnergyBreakdown",
    "EnergyTable",
    "FoldSchedule",
    "GemmShape",
    "Layer",
    "LayerReport",
    "Mapping",
    "Network",
    "NetworkReport",
    "fold_schedule",
    "gemm_shape",
    "get_network",
    "mobilenetv2",
    "resnet20",
    "simulate_layer",
    "simulate_network",
    "vgg11",
]
