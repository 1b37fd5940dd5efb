"""Energy per action and area per component of a crossbar accelerator: one overridable table.

Units: energy in pJ, area in um^2 inside the table and mm^2 in results, buffer sizes in KiB.
Every default is ISAAC's, at its 32 nm node (A. Shafiee et al., ISCA 2016, Table 6), turned from
the powers it tabulates into energies per action at ISAAC's rates: a crossbar read (and its DAC
conversions and samples) every 100 ns, each ADC converting at 1.2 GS/s. The same numbers, per
component, are in PUMA's simulator (Ankit et al., ASPLOS 2019; ``puma-simulator``,
``include/constants.py``, "Models from ISAAC paper") and Accelergy's ISAAC library
(``accelergy-library-plug-in``, ``library/isaac/*.csv``), where the derivations below are written
out too.

  - ADC, 8-bit: 8 per IMA, 16 mW and 0.0096 mm^2 in all: 2 mW / 1.2 GS/s = 1.667 pJ per
    conversion, 1200 um^2 each (an 8-bit 1.2 GS/s SAR ADC, Kull et al., ISSCC 2013);
  - DAC, 1-bit: 8 x 128 per IMA, 4 mW and 0.00017 mm^2 in all: 3.9 uW x 100 ns = 0.391 pJ per
    conversion, 0.166 um^2 each;
  - sample-and-hold: 8 x 128 per IMA, 10 uW and 0.00004 mm^2 in all: 0.000977 pJ per sample,
    0.039 um^2 each;
  - memristor crossbar: 8 arrays of 128 x 128 2-bit cells, 2.4 mW and 0.0002 mm^2 in all:
    2.4 mW / 131072 cells x 100 ns = 0.00183 pJ per cell on a driven row per read, 0.00153 um^2
    per cell (energy and area per cell, so both scale with X^2, as PUMA's table of sizes does);
  - shift-and-add: 4 per IMA, 0.2 mW and 0.00024 mm^2 in all, one operation per ADC conversion
    of the IMA's 8 ADCs: 0.2 mW / 9.6 GS/s = 0.0208 pJ per operation, 60 um^2 each;
  - buffer (ISAAC's 64 KB tile eDRAM, 20.7 mW, 0.083 mm^2): 20.45 pJ per 256-bit access
    (Accelergy's derivation: the eDRAM's power over its reads and writes while the DACs consume
    an input buffer), 0.083 / 64 mm^2 per KiB. Energy per bit is taken independent of the size.

Resolution scaling, an assumption (ISAAC gives one point each): ADC energy and area double per
bit from the 8-bit point, ``adc_energy_pj * adc_growth_per_bit ** (bits - 8)``, as a SAR ADC's
capacitive DAC does and as Accelergy scales ISAAC's ADC (``pow_base(2)``); DACs likewise from
the 1-bit point. The growth factors are table fields, so another model is one override away.

The table is overridden field by field (``dataclasses.replace``) or from JSON (:meth:`load`), as
:class:`sim.EnergyTable` is. Leakage is not modelled: ISAAC's powers are spent per action here.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from sim import checks
from sim.energy import JsonTable

_UM2_PER_MM2 = 1e6


@dataclasses.dataclass(frozen=True)
class CrossbarEnergyTable(JsonTable):
    """Per-action energies and per-component areas of crossbars (sources: module docstring)."""

    node_nm: int = 32                                  # technology node of every entry
    adc_reference_bits: int = 8                        # resolution of the ADC entries
    adc_energy_pj: float = 16e-3 / 8 / 1.2e9 * 1e12     # 1.667 pJ per conversion
    adc_area_um2: float = 9600.0 / 8                   # 1200 um^2
    adc_growth_per_bit: float = 2.0                    # energy and area ratio per extra bit
    dac_reference_bits: int = 1                        # resolution of the DAC entries
    dac_energy_pj: float = 4e-3 / 1024 * 100e-9 * 1e12  # 0.391 pJ per conversion
    dac_area_um2: float = 170.0 / 1024                 # 0.166 um^2
    dac_growth_per_bit: float = 2.0                    # energy and area ratio per extra bit
    sample_hold_energy_pj: float = 10e-6 / 1024 * 100e-9 * 1e12   # 0.000977 pJ per sample
    sample_hold_area_um2: float = 40.0 / 1024          # 0.039 um^2
    cell_read_energy_pj: float = 2.4e-3 / (8 * 128 * 128) * 100e-9 * 1e12  # 0.00183 pJ
    cell_area_um2: float = 200.0 / (8 * 128 * 128)     # 0.00153 um^2
    shift_add_energy_pj: float = 0.2e-3 / (8 * 1.2e9) * 1e12   # 0.0208 pJ per operation
    shift_add_area_um2: float = 240.0 / 4              # 60 um^2
    buffer_energy_pj_per_256bit: float = 20.45         # one 256-bit buffer access
    buffer_area_mm2_per_kb: float = 0.083 / 64         # buffer incl. periphery, per KiB

    def __post_init__(self):
        owner = "CrossbarEnergyTable"
        for field in ("node_nm", "adc_reference_bits", "dac_reference_bits"):
            checks.positive_int(owner, field, getattr(self, field))
        for field in ("adc_energy_pj", "adc_area_um2", "dac_energy_pj", "dac_area_um2",
                      "sample_hold_energy_pj", "sample_hold_area_um2", "cell_read_energy_pj",
                      "cell_area_um2", "shift_add_energy_pj", "shift_add_area_um2",
                      "buffer_energy_pj_per_256bit", "buffer_area_mm2_per_kb"):
            checks.positive_number(owner, field, getattr(self, field))
        for field in ("adc_growth_per_bit", "dac_growth_per_bit"):
            checks.number_in(owner, field, getattr(self, field), 1.0, 4.0)

    # -- per action, pJ -------------------------------------------------------------------------
    def adc_scale(self, bits):
        """Energy and area of a ``bits`` ADC relative to the reference one."""
        return self.adc_growth_per_bit ** (bits - self.adc_reference_bits)

    def dac_scale(self, bits):
        """Energy and area of a ``bits`` DAC relative to the reference one."""
        return self.dac_growth_per_bit ** (bits - self.dac_reference_bits)

    def adc_conversion_energy_pj(self, bits):
        """One conversion of a ``bits`` ADC."""
        return self.adc_energy_pj * self.adc_scale(bits)

    def dac_conversion_energy_pj(self, bits):
        """One conversion of a ``bits`` DAC."""
        return self.dac_energy_pj * self.dac_scale(bits)

    def buffer_energy_pj(self, bits):
        """Moving ``bits`` bits in or out of the tile buffer."""
        return self.buffer_energy_pj_per_256bit * bits / 256

    # -- area, mm^2 -------------------------------------------------------------------------------
    def crossbar_area_mm2(self, crossbar_size, adcs, dac_bits, adc_bits):
        """One crossbar with its peripherals: X^2 cells, X DACs and X sample-and-holds (one per
        row and column), ``adcs`` ADCs each with its shift-and-add unit (one unit per ADC: 8 per
        ISAAC IMA where ISAAC has 4, about 1.4 % more tile area than ISAAC's)."""
        X = crossbar_size
        um2 = (X * X * self.cell_area_um2
               + X * (self.dac_area_um2 * self.dac_scale(dac_bits) + self.sample_hold_area_um2)
               + adcs * (self.adc_area_um2 * self.adc_scale(adc_bits) + self.shift_add_area_um2))
        return um2 / _UM2_PER_MM2

    def tile_area_mm2(self, crossbar_size, adcs, dac_bits, adc_bits, crossbars_per_tile,
                      buffer_kb):
        """A tile: ``crossbars_per_tile`` crossbars with peripherals and a ``buffer_kb`` buffer."""
        return (crossbars_per_tile * self.crossbar_area_mm2(crossbar_size, adcs, dac_bits,
                                                            adc_bits)
                + buffer_kb * self.buffer_area_mm2_per_kb)


class CrossbarEnergyBreakdown(NamedTuple):
    """Energy of one layer (or network) by component, pJ."""

    crossbar_pj: float
    dac_pj: float
    adc_pj: float
    sample_hold_pj: float
    shift_add_pj: float
    buffer_pj: float

    @property
    def total_pj(self) -> float:
        return (self.crossbar_pj + self.dac_pj + self.adc_pj + self.sample_hold_pj
                + self.shift_add_pj + self.buffer_pj)


def psum_bits(input_bits, weight_bits, window) -> int:
    """Width of an exact partial sum of a filter: ``input_bits + weight_bits + ceil(log2
    window)`` (a sum of ``window`` products of an input and a weight)."""
    return input_bits + weight_bits + (window - 1).bit_length()


def layer_energy(counts, dac_bits, adc_bits, input_bits, partial_sum_bits,
                 table: CrossbarEnergyTable) -> CrossbarEnergyBreakdown:
    """Energy of a layer from its counts (:class:`sim.crossbar.counts.CrossbarCounts`).

        crossbar     = cell_reads * cell_read
        dac          = dac_conversions * dac(dac_bits)
        adc          = adc_conversions * adc(adc_bits)
        sample_hold  = adc_conversions * sample_hold          (one sample per conversion)
        shift_add    = (shift_add_operations + psum_additions) * shift_add
        buffer       = (input reads + output writes) * input_bits * buffer per bit
                       + (psum reads + psum writes) * partial_sum_bits * buffer per bit

    Outputs are written at ``input_bits`` (requantised to the next layer's input precision).
    """
    moved_bits = ((counts.input_buffer_reads + counts.output_buffer_writes) * input_bits
                  + (counts.psum_buffer_reads + counts.psum_buffer_writes) * partial_sum_bits)
    return CrossbarEnergyBreakdown(
        crossbar_pj=counts.cell_reads * table.cell_read_energy_pj,
        dac_pj=counts.dac_conversions * table.dac_conversion_energy_pj(dac_bits),
        adc_pj=counts.adc_conversions * table.adc_conversion_energy_pj(adc_bits),
        sample_hold_pj=counts.adc_conversions * table.sample_hold_energy_pj,
        shift_add_pj=(counts.shift_add_operations + counts.psum_additions)
        * table.shift_add_energy_pj,
        buffer_pj=moved_bits * table.buffer_energy_pj(1))
