"""The loop-nest template: DIAN's generic accelerator, in Timeloop's vocabulary.

A memory hierarchy of storage levels (DRAM, buffers, scratchpads; per level its depth, word and
block size, instances and mesh, bandwidth, the dataspaces it may keep) over an array of MACs, and
per layer a mapping: per level, temporal loops (dimension, factor) in order, spatial loops over the
fan-out below it, and the dataspaces it keeps.

What is exact and what is analytical. The access counts (reads, fills, updates per level and
dataspace) follow Timeloop's semantics rule by rule (:mod:`~sim.loopnest.counts`) and equal a
brute-force walk through every iteration of the nest (:mod:`~sim.loopnest.walker`) in the tests;
they have not been compared with a Timeloop binary (none is installable here). Cycles (compute
cycles throttled by each level's bandwidth), energy (actions priced per vector access by the cited
45 nm table or an Accelergy ERT) and area are analytical.

The pipeline, one stage per module:

1. :mod:`~sim.loopnest.problem`: the layer as a loop nest and its dataspace projections;
2. :mod:`~sim.loopnest.architecture`: the hierarchy; :mod:`~sim.loopnest.presets` (Eyeriss-like,
   weight- and output-stationary); :mod:`~sim.loopnest.generic` (DIAN's generic accelerator of a
   few knobs, the co-search's);
3. :mod:`~sim.loopnest.mapping`: the mapping and its validation;
4. :mod:`~sim.loopnest.counts`: access counts in closed form;
5. :mod:`~sim.loopnest.energy`: prices per action and area per component;

run by :mod:`~sim.loopnest.simulator` (cycles, energy, latency, area) and reported by
:mod:`~sim.loopnest.report`. :mod:`~sim.loopnest.timeloop_yaml` reads Timeloop's problem,
architecture and mapping YAML into these descriptions and writes problems and mappings back. The
mapping search is :func:`dianjax.cost.loopnest_mapper.search_mappings`.
"""

from sim.loopnest.architecture import (
    COMPONENTS,
    ComputeLevel,
    LoopNestAccelerator,
    StorageLevel,
)
from sim.loopnest.counts import (
    SLIDING_WINDOW_RULES,
    AccessCounts,
    LoopNestCounts,
    access_counts,
)
from sim.loopnest.energy import ERT_ACTIONS, ComponentPrices, LoopNestEnergyTable
from sim.loopnest.generic import DATAFLOWS, GenericAccelerator
from sim.loopnest.mapping import LevelMapping, LoopNestMapping, validate
from sim.loopnest.presets import PRESETS, preset
from sim.loopnest.problem import DATASPACES, DIMS, Problem
from sim.loopnest.report import LoopNestLayerReport, LoopNestNetworkReport
from sim.loopnest.simulator import MEMORY_MODELS, evaluate, simulate_layer
from sim.loopnest.timeloop_yaml import (
    dump_mapping,
    dump_problem,
    load_architecture,
    load_mapping,
    load_problem,
    save_mapping,
)
from sim.template import Template

TEMPLATE = Template(name="loopnest", architecture=LoopNestAccelerator, mapping=LoopNestMapping,
                    simulate_layer=simulate_layer, network_report=LoopNestNetworkReport,
                    memory_models=MEMORY_MODELS, energy_table=LoopNestEnergyTable)

__all__ = ["COMPONENTS", "DATAFLOWS", "DATASPACES", "DIMS", "ERT_ACTIONS", "MEMORY_MODELS", "PRESETS",
           "SLIDING_WINDOW_RULES", "TEMPLATE", "AccessCounts", "ComponentPrices", "ComputeLevel", "GenericAccelerator",
           "LevelMapping", "LoopNestAccelerator", "LoopNestCounts", "LoopNestEnergyTable",
           "LoopNestLayerReport", "LoopNestMapping", "LoopNestNetworkReport", "Problem",
           "StorageLevel", "access_counts", "dump_mapping", "dump_problem", "evaluate",
           "load_architecture", "load_mapping", "load_problem", "preset", "save_mapping",
           "simulate_layer", "validate"]
