"""The systolic-array template (SCALE-Sim's): architecture, mapping and exact simulation.

The pipeline, one stage per module:

1. :mod:`~sim.systolic.lowering`: a convolution group -> the ``S_r x S_c x T`` GEMM per dataflow;
2. :mod:`~sim.systolic.schedule`: GEMM + array -> folds, compute cycles, SRAM accesses
   (SCALE-Sim's);
3. :mod:`~sim.systolic.memory`: schedule + mapping + SRAM sizes -> DRAM traffic;
   + bandwidth -> stalls (ours, analytical; :mod:`~sim.systolic.memory_engine` steps it cycle by
   cycle), or :mod:`~sim.systolic.scalesim_memory` (SCALE-Sim 3.0.0's buffers, by name);
4. :mod:`~sim.systolic.energy`: action counts -> energy by component; architecture -> area;

run by :mod:`~sim.systolic.simulator` and reported by :mod:`~sim.systolic.report`.
:mod:`~sim.systolic.engine` steps the same schedule cycle by cycle: the test oracle.
"""

from sim.systolic.architecture import DATAFLOWS, Accelerator
from sim.systolic.mapping import FOLD_ORDERS, MAPPINGS, Mapping
from sim.systolic.report import LayerReport, NetworkReport
from sim.systolic.simulator import MEMORY_MODELS, simulate_layer
from sim.template import Template

TEMPLATE = Template(name="systolic", architecture=Accelerator, mapping=Mapping,
                    simulate_layer=simulate_layer, network_report=NetworkReport,
                    memory_models=MEMORY_MODELS)

__all__ = ["DATAFLOWS", "FOLD_ORDERS", "MAPPINGS", "MEMORY_MODELS", "TEMPLATE", "Accelerator",
           "LayerReport", "Mapping", "NetworkReport"]
