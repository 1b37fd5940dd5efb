"""Energy and area of the systolic array, from its action counts and the shared
:class:`sim.EnergyTable`.

Energy of a layer, by component (pJ; per-action prices from :mod:`sim.energy`):

    mac        = macs * (mult + add)
    register   = macs * register_accesses_per_mac * register          (two operands, one partial sum)
    sram[op]   = (array-side SRAM accesses[op] + DRAM words of op) * sram_energy_pj(op_kb / 2)
    dram       = DRAM words * dram

Area (mm^2): ``rows * cols * pe_area + (ifmap_kb + filter_kb + ofmap_kb) * sram_area_mm2_per_kb``.

Both functions take Python numbers or numpy / ``jax.numpy`` arrays: :mod:`dianjax.cost.systolic`
prices its counts with them, so the two sides share one formula.
"""

from __future__ import annotations

from typing import NamedTuple

from sim.energy import EnergyTable
from sim.systolic.architecture import Accelerator


class EnergyBreakdown(NamedTuple):
    """Energy of one layer (or network) by component, pJ."""

    mac_pj: float
    register_pj: float
    ifmap_sram_pj: float
    filter_sram_pj: float
    ofmap_sram_pj: float
    dram_pj: float

    @property
    def sram_pj(self) -> float:
        return self.ifmap_sram_pj + self.filter_sram_pj + self.ofmap_sram_pj

    @property
    def total_pj(self) -> float:
        return self.mac_pj + self.register_pj + self.sram_pj + self.dram_pj


def layer_energy(macs, sram_accesses: tuple, dram_words, word_bits, sram_kb: tuple,
                 table: EnergyTable) -> EnergyBreakdown:
    """Energy of a layer from its action counts (equations in the module docstring).

    Args:
      macs: multiply-accumulates.
      sram_accesses: words read or written in the ifmap, filter and ofmap SRAMs, counting both the
        array side and the DRAM side (fills and drains).
      dram_words: words read from and written to DRAM.
      word_bits: bits per word.
      sram_kb: sizes of the ifmap, filter and ofmap SRAMs (KiB), each double-buffered.
      table: the energy table.
    """
    bits = word_bits
    sram_pj = [accesses * table.sram_energy_pj(kb / 2, bits)
               for accesses, kb in zip(sram_accesses, sram_kb)]
    return EnergyBreakdown(
        mac_pj=macs * table.mac_energy_pj(bits),
        register_pj=macs * table.register_accesses_per_mac * table.register_energy_pj(bits),
        ifmap_sram_pj=sram_pj[0], filter_sram_pj=sram_pj[1], ofmap_sram_pj=sram_pj[2],
        dram_pj=dram_words * table.dram_energy_pj(bits))


def area_mm2(num_pes, word_bits, sram_kb: tuple, table: EnergyTable):
    """The PE array plus the three SRAMs (``sram_kb``: ifmap, filter, ofmap sizes in KiB)."""
    return num_pes * table.pe_area_mm2(word_bits) + (sram_kb[0] + sram_kb[1] + sram_kb[2]) * \
        table.sram_area_mm2_per_kb


def sram_kb(accelerator: Accelerator) -> tuple[float, float, float]:
    """The ifmap, filter and ofmap SRAM sizes of ``accelerator`` (KiB)."""
    return accelerator.ifmap_sram_kb, accelerator.filter_sram_kb, accelerator.ofmap_sram_kb


def accelerator_area_mm2(accelerator: Accelerator, table: EnergyTable) -> float:
    """Area of ``accelerator`` (mm^2)."""
    return area_mm2(accelerator.num_pes, accelerator.word_bits, sram_kb(accelerator), table)
