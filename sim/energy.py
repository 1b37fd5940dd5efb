"""Energy per action and area per component: one overridable table, at 45 nm, word-width aware.

Units: energy in pJ, area in um^2 inside the table and mm^2 in results, sizes in KiB, widths in
bits. The default :class:`EnergyTable` is at the 45 nm node (0.9 V) of its main source,

  [H] M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,

whose 32-bit integer multiply (3.1 pJ, 3495 um^2) and add (0.1 pJ, 137 um^2), and 64-bit SRAM
accesses (8 KB: 10 pJ, 32 KB: 20 pJ, 1 MB: 100 pJ) and DRAM access (1.3-2.6 nJ; the low end is
used) give most entries. Completing it, at the same node:

  - a 32-bit register-file access, 1 pJ: [H] as tabulated by S. Han et al., "EIE", ISCA 2016, Tab. I;
  - register area, 5.98 um^2 per bit at 40 nm: the Aladdin table (Shao et al., ISCA 2014) shipped
    with Accelergy, scaled by (45/40)^2 to 7.57 um^2;
  - SRAM area: the 0.346 um^2 6T cell of Intel's 45 nm process (Mistry et al., IEDM 2007), 8192
    bits per KiB, at 50 % array efficiency: 0.00567 mm^2 per KiB.

Width scaling: a multiplier grows with the square of the word width, adders, registers and memory
accesses linearly. SRAM energy per access follows the power law fitted (least squares in log-log)
to the three SRAM points of [H],

    sram_energy_pj(kb) = 3.80 * kb ** 0.4726 * word_bits / 64,

where ``kb`` is the size of the bank accessed: half of an operand's SRAM, since it is
double-buffered. The closed form keeps the cost model differentiable in SRAM size.

The table prices actions; each hardware template counts its actions and sums them (the systolic
array's sums are in :mod:`sim.systolic.energy`). Every method takes Python numbers or numpy /
``jax.numpy`` arrays alike, so the differentiable cost model calls these same formulas.
"""

from __future__ import annotations

import dataclasses

from sim import checks

_UM2_PER_MM2 = 1e6


@dataclasses.dataclass(frozen=True)
class EnergyTable:
    """Per-action energies and per-component areas (see the module docstring for the sources)."""

    node_nm: int = 45                                # technology node of every entry
    reference_bits: int = 32                         # width of the mult/add/register entries
    mult_energy_pj: float = 3.1                      # integer multiply at reference_bits
    add_energy_pj: float = 0.1                       # integer add at reference_bits
    register_access_energy_pj: float = 1.0           # register access at reference_bits
    register_accesses_per_mac: int = 3               # two operands read, one partial sum updated
    sram_energy_pj_per_64bit_at_1kb: float = 3.80    # power-law prefactor, 64-bit access
    sram_energy_size_exponent: float = 0.4726        # power-law exponent in bank size (KiB)
    dram_energy_pj_per_64bit: float = 1300.0         # one 64-bit DRAM access
    mult_area_um2: float = 3495.0                    # multiplier at reference_bits
    add_area_um2: float = 137.0                      # adder at reference_bits
    register_area_um2_per_bit: float = 7.57          # one register bit
    pe_register_words: int = 3                       # word registers in a PE
    sram_area_mm2_per_kb: float = 0.00567            # SRAM incl. periphery, per KiB

    def __post_init__(self):
        owner = "EnergyTable"
        for field in ("node_nm", "reference_bits", "register_accesses_per_mac",
                      "pe_register_words"):
            checks.positive_int(owner, field, getattr(self, field))
        for field in ("mult_energy_pj", "add_energy_pj", "register_access_energy_pj",
                      "sram_energy_pj_per_64bit_at_1kb", "dram_energy_pj_per_64bit",
                      "mult_area_um2", "add_area_um2", "register_area_um2_per_bit",
                      "sram_area_mm2_per_kb"):
            checks.positive_number(owner, field, getattr(self, field))
        exponent = self.sram_energy_size_exponent
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or \
                not 0 <= exponent <= 1:
            raise ValueError(f"{owner}.sram_energy_size_exponent must be a number in [0, 1], "
                             f"got {exponent!r}")

    # -- energy per action, pJ -----------------------------------------------------------------
    def mac_energy_pj(self, word_bits: int) -> float:
        """One multiply-accumulate on ``word_bits``-bit words."""
        width = word_bits / self.reference_bits
        return self.mult_energy_pj * width ** 2 + self.add_energy_pj * width

    def register_energy_pj(self, word_bits: int) -> float:
        """One PE register access of one word."""
        return self.register_access_energy_pj * word_bits / self.reference_bits

    def sram_energy_pj(self, bank_kb, word_bits: int):
        """One word read or written in an SRAM bank of ``bank_kb`` KiB (power law in size)."""
        per_64bit = self.sram_energy_pj_per_64bit_at_1kb * bank_kb ** self.sram_energy_size_exponent
        return per_64bit * word_bits / 64

    def dram_energy_pj(self, word_bits: int) -> float:
        """One word read from or written to DRAM."""
        return self.dram_energy_pj_per_64bit * word_bits / 64

    # -- area, mm^2 ----------------------------------------------------------------------------
    def pe_area_mm2(self, word_bits: int) -> float:
        """One processing element: multiplier, adder and its word registers."""
        width = word_bits / self.reference_bits
        um2 = (self.mult_area_um2 * width ** 2 + self.add_area_um2 * width
               + self.pe_register_words * word_bits * self.register_area_um2_per_bit)
        return um2 / _UM2_PER_MM2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data) -> EnergyTable:
        checks.known_keys("EnergyTable", data, [f.name for f in dataclasses.fields(cls)])
        return cls(**data)
