"""sim: the exact, numpy-only accelerator simulator and the shared workload descriptions.

Layout: the workload (:mod:`sim.workload`: ``Layer``, ``Network``; reference networks in
:mod:`sim.networks`), the shared per-action energy table (:mod:`sim.energy`), the hardware templates
(:mod:`sim.template`, registered by name in :mod:`sim.registry`; today the systolic array,
:mod:`sim.systolic`) and the entry points :func:`simulate_layer` / :func:`simulate_network`, which
dispatch on the accelerator's template.

Importing ``sim`` never imports JAX: the simulator is the independent ground truth that the
differentiable cost model in ``dianjax`` is validated against.
"""

from sim.energy import EnergyTable
from sim.networks import NETWORKS, get_network, mobilenetv2, resnet20, vgg11
from sim.registry import TEMPLATES, get_template, template_of
from sim.simulator import simulate_layer, simulate_network
from sim.systolic.architecture import DATAFLOWS, Accelerator
from sim.systolic.energy import EnergyBreakdown
from sim.systolic.lowering import GemmShape, gemm_shape
from sim.systolic.mapping import FOLD_ORDERS, MAPPINGS, Mapping
from sim.systolic.report import LayerReport, NetworkReport
from sim.systolic.schedule import FoldSchedule, fold_schedule
from sim.template import Template
from sim.workload import Layer, Network

__all__ = [
    "DATAFLOWS",
    "FOLD_ORDERS",
    "MAPPINGS",
    "NETWORKS",
    "TEMPLATES",
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
    "Template",
    "fold_schedule",
    "gemm_shape",
    "get_network",
    "get_template",
    "mobilenetv2",
    "resnet20",
    "simulate_layer",
    "simulate_network",
    "template_of",
    "vgg11",
]
