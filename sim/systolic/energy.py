"""Energy and area of the systolic array, from its action counts and the shared
:class:`sim.EnergyTable`.

Energy of a layer, by component (pJ; per-action prices and leakage from :mod:`sim.energy`):

    mac             = macs * mac                  (word-wide multiply, accumulator-wide add)
    register        = macs * register_accesses_per_mac * register
    sram[op]        = word accesses[op] * sram_energy_pj(op_kb / 2, word_bits)
    ofmap_sram     += psum accesses * sram_energy_pj(ofmap_kb / 2, accumulator_bits)
    dram            = DRAM words * dram
    dram_interface  = DRAM words * dram_interface              (the PHY moving them)
    leakage         = total_cycles * leakage_pj_per_cycle(PEs, word_bits, SRAM KiB, clock_mhz)

Word accesses are the array's ifmap and filter SRAM reads plus every SRAM's DRAM side (fills and
drains move words). Psum accesses are the array side of the ofmap SRAM, which holds partial sums
(accumulator-wide): SCALE-Sim's ofmap writes plus the read-modify-write reads of
:func:`ofmap_sram_reads`. Leakage runs for every cycle of the layer, stalls included, so a stall
costs energy.

Area (mm^2): ``PEs * pe_area + (ifmap_kb + filter_kb + ofmap_kb) * sram_area_mm2_per_kb`` plus the
DRAM interface, which grows with the bandwidth it sustains (infinite for an unbounded one).

Every function takes Python numbers or numpy / ``jax.numpy`` arrays: :mod:`dianjax.cost.systolic`
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
    dram_interface_pj: float
    leakage_pj: float

    @property
    def sram_pj(self) -> float:
        return self.ifmap_sram_pj + self.filter_sram_pj + self.ofmap_sram_pj

    @property
    def total_pj(self) -> float:
        return (self.mac_pj + self.register_pj + self.sram_pj + self.dram_pj
                + self.dram_interface_pj + self.leakage_pj)


def ofmap_sram_reads(ofmap_sram_writes, ofmap_words, accumulates):
    """Partial sums read back from the ofmap SRAM to be accumulated (read-modify-write).

    Where partial sums accumulate in the ofmap SRAM (``accumulates`` 1: ws and is, one write per
    row fold of every output), every write after an output's first reads the old partial sum:
    ``writes - outputs``. Output-stationary arrays accumulate in the PE (``accumulates`` 0): none.
    SCALE-Sim counts only the writes.
    """
    return accumulates * (ofmap_sram_writes - ofmap_words)


def layer_energy(macs, word_accesses: tuple, psum_accesses, dram_words, total_cycles,
                 accelerator: tuple, table: EnergyTable) -> EnergyBreakdown:
    """Energy of a layer from its action counts (equations in the module docstring).

    Args:
      macs: multiply-accumulates.
      word_accesses: word-wide accesses of the ifmap, filter and ofmap SRAMs (the array's ifmap and
        filter reads plus each SRAM's DRAM-side fills and drains).
      psum_accesses: accumulator-wide accesses of the ofmap SRAM by the array (writes plus
        read-modify-write reads).
      dram_words: words read from and written to DRAM.
      total_cycles: the layer's cycles, stalls included (leakage runs for all of them).
      accelerator: ``(num_pes, word_bits, sram_kb, clock_mhz)``, ``sram_kb`` the ifmap, filter and
        ofmap SRAM sizes in KiB (each double-buffered): :func:`energy_params`.
      table: the energy table.
    """
    num_pes, bits, sram_kb, clock_mhz = accelerator
    # bits moved through each SRAM, priced per bit: the ofmap SRAM's words and partial sums
    bits_moved = (word_accesses[0] * bits, word_accesses[1] * bits,
                  word_accesses[2] * bits + psum_accesses * table.accumulator_bits(bits))
    sram_pj = [moved * table.sram_energy_pj(kb / 2, 1) for moved, kb in zip(bits_moved, sram_kb)]
    leakage = table.leakage_pj_per_cycle(num_pes, bits, sram_kb[0] + sram_kb[1] + sram_kb[2],
                                         clock_mhz)
    return EnergyBreakdown(
        mac_pj=macs * table.mac_energy_pj(bits),
        register_pj=macs * table.register_accesses_per_mac * table.register_energy_pj(bits),
        ifmap_sram_pj=sram_pj[0], filter_sram_pj=sram_pj[1], ofmap_sram_pj=sram_pj[2],
        dram_pj=dram_words * table.dram_energy_pj(bits),
        dram_interface_pj=dram_words * table.dram_interface_energy_pj(bits),
        leakage_pj=total_cycles * leakage)


def area_mm2(accelerator: tuple, dram_bandwidth_words_per_cycle, table: EnergyTable):
    """The PE array, the three SRAMs and the DRAM interface (``accelerator``: as
    :func:`layer_energy` takes it)."""
    num_pes, bits, sram_kb, clock_mhz = accelerator
    return (num_pes * table.pe_area_mm2(bits)
            + (sram_kb[0] + sram_kb[1] + sram_kb[2]) * table.sram_area_mm2_per_kb
            + table.dram_interface_area_mm2(dram_bandwidth_words_per_cycle, bits, clock_mhz))


def energy_params(accelerator: Accelerator) -> tuple:
    """``(num_pes, word_bits, (ifmap_kb, filter_kb, ofmap_kb), clock_mhz)`` of ``accelerator``:
    what :func:`layer_energy` and :func:`area_mm2` price."""
    a = accelerator
    return a.num_pes, a.word_bits, (a.ifmap_sram_kb, a.filter_sram_kb, a.ofmap_sram_kb), a.clock_mhz


def accelerator_area_mm2(accelerator: Accelerator, table: EnergyTable) -> float:
    """Area of ``accelerator`` (mm^2); infinite if its DRAM bandwidth is unbounded."""
    return area_mm2(energy_params(accelerator), accelerator.dram_bandwidth_words_per_cycle, table)
