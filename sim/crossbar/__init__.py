"""The memristive-crossbar in-memory-computing template (ISAAC / PUMA / NeuroSim style, for NAX).

Weights sit in X x X memristor crossbars, bit-sliced over adjacent columns; inputs stream
bit-serially through DACs; columns are digitised by shared ADCs and merged by shift-and-add units.

What is exact and what is analytical. The counts are exact under the stated mapping convention
(:mod:`~sim.crossbar.mapping`: PUMA / NeuroSim-style tiling of each group's weight matrix, whole
filters per crossbar, a crossbar's peripherals always working whole): crossbars, tiles, used
cells and utilisation, MVM operations, DAC and ADC conversions, cell reads, shift-adds and buffer
accesses, proved against a brute-force tiling of the weight matrix in the tests. Latency is an
analytical model: a two-stage pipeline of crossbar read and ADC sweep per bit-serial input cycle,
layers one after another, digital work and buffers taken to keep up. Energy and area are
analytical: counts priced by ISAAC's per-component figures (:mod:`~sim.crossbar.energy`, each one
cited), with an assumed resolution scaling for ADCs and DACs. Nothing here is a circuit simulation:
device and circuit non-idealities change accuracy, not these counts.

The pipeline, one stage per module:

1. :mod:`~sim.crossbar.architecture`: the accelerator (ISAAC's defaults) and the ADC resolution;
2. :mod:`~sim.crossbar.mapping`: a layer's weight matrix on crossbars (per-layer crossbar size);
3. :mod:`~sim.crossbar.counts`: crossbars, action counts and cycles, in closed form;
4. :mod:`~sim.crossbar.energy`: counts -> energy by component; tiles -> area;

run by :mod:`~sim.crossbar.simulator` and reported by :mod:`~sim.crossbar.report` (network
latency, energy, area, EDP and EDAP).
"""

from sim.crossbar.architecture import (
    COLUMNS_PER_ADC,
    CROSSBAR_SIZES,
    LOSSLESS,
    CrossbarAccelerator,
    lossless_adc_bits,
)
from sim.crossbar.counts import CrossbarCounts, crossbar_counts
from sim.crossbar.energy import CrossbarEnergyBreakdown, CrossbarEnergyTable
from sim.crossbar.mapping import CrossbarMapping
from sim.crossbar.report import CrossbarLayerReport, CrossbarNetworkReport
from sim.crossbar.simulator import MEMORY_MODELS, simulate_layer
from sim.template import Template

TEMPLATE = Template(name="crossbar", architecture=CrossbarAccelerator, mapping=CrossbarMapping,
                    simulate_layer=simulate_layer, network_report=CrossbarNetworkReport,
                    memory_models=MEMORY_MODELS, energy_table=CrossbarEnergyTable)

__all__ = ["COLUMNS_PER_ADC", "CROSSBAR_SIZES", "LOSSLESS", "MEMORY_MODELS", "TEMPLATE",
           "CrossbarAccelerator", "CrossbarCounts", "CrossbarEnergyBreakdown",
           "CrossbarEnergyTable", "CrossbarLayerReport", "CrossbarMapping",
           "CrossbarNetworkReport", "crossbar_counts", "lossless_adc_bits"]
