"""sim: the numpy-only accelerator simulator (the ground truth) and the shared workload descriptions.

What is exact and what is analytical. Compute cycles and SRAM access counts are SCALE-Sim 3.0.0's,
equal on recorded cross-check cases, and the fold schedule behind them is stepped cycle by cycle by
:mod:`sim.systolic.engine`. DRAM traffic and stall cycles come from an analytical memory model of
ours (:mod:`sim.systolic.memory`: double-buffered slices, one fold of look-ahead, one DRAM channel)
whose closed forms equal its cycle-level reference :mod:`sim.systolic.memory_engine`;
``memory_model="scalesim"`` reproduces SCALE-Sim's own memory system instead. Energy and area are
analytical: action counts priced by a cited per-action table (:mod:`sim.energy`). For crossbars
(:mod:`sim.crossbar`) the counts are exact under the stated mapping convention, and latency, energy
and area analytical (ISAAC's cited per-component figures). For loop-nest hierarchies
(:mod:`sim.loopnest`, Timeloop's vocabulary) the access counts follow Timeloop's rules exactly and
equal a brute-force walk of the nest; cycles, energy and area are analytical.

Layout: the workload (:mod:`sim.workload`: ``Layer``, ``Network``; reference networks in
:mod:`sim.networks`), the shared per-action energy table (:mod:`sim.energy`), the hardware templates
(:mod:`sim.template`, registered by name in :mod:`sim.registry`: the systolic array,
:mod:`sim.systolic`, memristive crossbars, :mod:`sim.crossbar`, and loop-nest hierarchies,
:mod:`sim.loopnest`) and the entry points
:func:`simulate_layer` / :func:`simulate_network`, which dispatch on the accelerator's template.

Importing ``sim`` never imports JAX: the simulator is the independent ground truth that the
differentiable cost model in ``dianjax`` is validated against.
"""

from sim.crossbar import (
    CrossbarAccelerator,
    CrossbarEnergyBreakdown,
    CrossbarEnergyTable,
    CrossbarLayerReport,
    CrossbarMapping,
    CrossbarNetworkReport,
    crossbar_counts,
)
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
    "CrossbarAccelerator",
    "CrossbarEnergyBreakdown",
    "CrossbarEnergyTable",
    "CrossbarLayerReport",
    "CrossbarMapping",
    "CrossbarNetworkReport",
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
    "crossbar_counts",
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
