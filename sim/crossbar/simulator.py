"""The crossbar template's simulator: one layer on crossbars, in closed form.

The pipeline, one stage per module:

1. layer + mapping -> the crossbar size, and the ADC resolution on it
   (:mod:`sim.crossbar.mapping`, :mod:`sim.crossbar.architecture`)
2. weight-matrix tiling -> crossbars, utilisation, action counts and cycles
   (:mod:`sim.crossbar.counts`, exact)
3. counts -> energy by component; crossbars -> tiles -> area (:mod:`sim.crossbar.energy`)

There is one memory model, "analytical": the tile buffers keep up with the crossbars, and the
network's weights stay resident (weight-stationary), so no DRAM traffic is counted.
"""

from __future__ import annotations

from sim.crossbar.architecture import CrossbarAccelerator
from sim.crossbar.counts import crossbar_counts
from sim.crossbar.energy import (
    CrossbarEnergyBreakdown,
    CrossbarEnergyTable,
    layer_energy,
    psum_bits,
)
from sim.crossbar.mapping import CrossbarMapping
from sim.crossbar.report import CrossbarLayerReport
from sim.workload import Layer

MEMORY_MODELS = ("analytical",)


def simulate_layer(layer: Layer, accelerator: CrossbarAccelerator, mapping: CrossbarMapping,
                   table: CrossbarEnergyTable,
                   memory_model: str = MEMORY_MODELS[0]) -> CrossbarLayerReport:
    """Crossbars, action counts, cycles, energy, latency and area of one layer (inputs already
    checked by :func:`sim.simulate_layer`); ``memory_model`` is "analytical", the only one."""
    del memory_model    # one model: nothing to choose
    counts = crossbar_counts(layer, accelerator, mapping)
    size = counts.crossbar_size
    adc_bits = accelerator.adc_resolution_bits(size)
    window = (layer.C // layer.groups) * layer.R * layer.S
    partial_sum_bits = psum_bits(accelerator.input_bits, accelerator.weight_bits, window)
    energy = layer_energy(counts, accelerator.dac_bits, adc_bits, accelerator.input_bits,
                          partial_sum_bits, table)
    tile_area = table.tile_area_mm2(size, accelerator.adcs_per_crossbar(size),
                                    accelerator.dac_bits, adc_bits,
                                    accelerator.crossbars_per_tile, accelerator.tile_buffer_kb)
    fields = counts._asdict()
    del fields["crossbar_size"]
    return CrossbarLayerReport(
        name=layer.name, kind=layer.kind, crossbar_size=size, adc_bits=adc_bits,
        psum_bits=partial_sum_bits, weight_slices=accelerator.weight_slices,
        input_cycles=accelerator.input_cycles, macs=layer.macs, **fields,
        energy=CrossbarEnergyBreakdown(*(float(e) for e in energy)),
        latency_s=counts.total_cycles / (accelerator.clock_mhz * 1e6),
        area_mm2=counts.tiles * tile_area)
