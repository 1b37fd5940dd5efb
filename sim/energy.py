"""Energy per action, leakage power and area per component: one overridable table, at 45 nm.

Units: energy in pJ, power in uW, area in um^2 inside the table and mm^2 in results, sizes in KiB,
widths in bits, bandwidth in GB/s (1e9 bytes per second), clocks in MHz. The default
:class:`EnergyTable` is at the 45 nm node (0.9 V) of its main source,

  [H] M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,

whose 32-bit integer multiply (3.1 pJ, 3495 um^2) and add (0.1 pJ, 137 um^2), and 64-bit SRAM
accesses (8 KB: 10 pJ, 32 KB: 20 pJ, 1 MB: 100 pJ) and DRAM access (1.3-2.6 nJ; the low end is
used) give most entries. Completing it, at the same node:

  - a 32-bit register-file access, 1 pJ: [H] as tabulated by S. Han et al., "EIE", ISCA 2016, Tab. I;
  - register area, 5.98 um^2 per bit at 40 nm: the Aladdin table (Shao et al., ISCA 2014) shipped
    with Accelergy, scaled by (45/40)^2 to 7.57 um^2;
  - SRAM area: the 0.346 um^2 6T cell of Intel's 45 nm process (Mistry et al., IEDM 2007), 8192
    bits per KiB, at 50 % array efficiency: 0.00567 mm^2 per KiB.

Leakage (static power, charged for every cycle of a layer, stalls included):

  - multiplier 80 uW and adder 2.4 uW, 32-bit, at 40 nm: the same Aladdin table (its "leak" rows,
    0.08 pJ and 0.0024 pJ per 1 ns cycle; it gives registers no leakage), scaled to 45 nm by
    45/40 (leakage current grows with transistor width, which scales with the feature size):
    90 uW and 2.7 uW;
  - SRAM, 221 uW per KiB: the 100 nA/um off-current of Mistry et al.'s 45 nm transistors, through
    0.3 um of off transistor per 6T cell (the off pull-down, pull-up and access device holding a
    bit, 0.1 um each), at 0.9 V: 27 nW per bit, times 8192 bits (an estimate of the array alone,
    for a leaky high-performance process; periphery not counted).

Leakage power becomes energy per cycle through the accelerator's clock: ``uW / MHz = pJ``, so
``leakage_pj_per_cycle = leakage_uw / clock_mhz``; a faster clock leaks less per cycle.

DRAM interface (the accelerator-side PHY; [H]'s DRAM access prices the DRAM device):

  - energy, 0.868 pJ per bit: the 0.54 pJ/b short-reach link of J. Poulton et al., "A 0.54 pJ/b
    20 Gb/s ground-referenced single-ended short-reach serial link in 28 nm CMOS for advanced
    packaging applications", JSSC 2013, scaled to 45 nm by 45/28 (switched capacitance grows with
    the feature size);
  - area, 0.0201 mm^2 per GB/s: an HBM2 stack's 256 GB/s (1024 data pins at 2 Gb/s) needs about
    1700 signal micro-bumps ("HBM2: it's all about the PHY", Semiconductor Engineering, 2017) at
    the 55 um pitch of JEDEC JESD235, 5.14 mm^2 of bump field under its PHY. Bump-limited, so not
    scaled with the node.

The bandwidth of an interface is ``words/cycle * word_bits * clock_mhz / 8000`` GB/s. An unbounded
interface (``dram_bandwidth_words_per_cycle = math.inf``, the stall-free idealization) has infinite
area: it cannot be built, so it never wins an area-aware search; its energy per word is finite
(per-bit energy does not depend on the interface width).

Width scaling: a multiplier grows with the square of the word width, adders, registers and memory
accesses linearly. Partial sums are wider than a word: the accumulator (the PE's adder and the ofmap
SRAM's array-side accesses) is ``2 * word_bits + accumulator_guard_bits`` wide, the 16 guard bits
being those of the TPU's 8-bit multipliers and 32-bit accumulators (Jouppi et al., ISCA 2017); they
hold 2^16 products without overflow. SRAM energy per access follows the power law fitted (least
squares in log-log) to the three SRAM points of [H],

    sram_energy_pj(kb) = 3.80 * kb ** 0.4726 * bits / 64,

where ``kb`` is the size of the bank accessed: half of an operand's SRAM, since it is
double-buffered. The closed form keeps the cost model differentiable in SRAM size.

The table prices actions; each hardware template counts its actions and sums them (the systolic
array's sums are in :mod:`sim.systolic.energy`). Every method takes Python numbers or numpy /
``jax.numpy`` arrays alike, so the differentiable cost model calls these same formulas. A table is
overridden field by field (``dataclasses.replace``), from JSON (:meth:`EnergyTable.load`) or from an
Accelergy energy reference table (:meth:`EnergyTable.from_accelergy_ert`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from sim import checks

_UM2_PER_MM2 = 1e6
_BITS_PER_GBPS_PER_MHZ = 8000     # words/cycle * bits * MHz / 8000 = GB/s


class JsonTable:
    """JSON round trips of a frozen dataclass of fields (an energy table): ``to_dict``,
    ``from_dict`` / ``load`` of a possibly partial set of fields (missing ones keep their
    defaults, unknown ones are named), ``save``."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data) -> Self:
        """A table from a (possibly partial) dict of fields; missing fields keep their defaults."""
        checks.known_keys(cls.__name__, data, [f.name for f in dataclasses.fields(cls)])
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Writes every field to ``path`` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """A table from a JSON object of fields (as :meth:`save` writes; partial ones allowed)."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            message = f"{cls.__name__}.load({str(path)!r}) needs a JSON object of fields"
            raise ValueError(f"{message}, got {type(data).__name__}")  # noqa: TRY004
        return cls.from_dict(data)


@dataclasses.dataclass(frozen=True)
class EnergyTable(JsonTable):
    """Per-action energies, leakage powers and per-component areas (sources: module docstring)."""

    node_nm: int = 45                                # technology node of every entry
    reference_bits: int = 32                         # width of the mult/add/register entries
    accumulator_guard_bits: int = 16                 # accumulator = 2 * word_bits + these
    mult_energy_pj: float = 3.1                      # integer multiply at reference_bits
    add_energy_pj: float = 0.1                       # integer add at reference_bits
    register_access_energy_pj: float = 1.0           # register access at reference_bits
    register_accesses_per_mac: int = 3               # two operands read, one partial sum updated
    sram_energy_pj_per_64bit_at_1kb: float = 3.80    # power-law prefactor, 64-bit access
    sram_energy_size_exponent: float = 0.4726        # power-law exponent in bank size (KiB)
    dram_energy_pj_per_64bit: float = 1300.0         # one 64-bit DRAM access
    dram_interface_pj_per_bit: float = 0.868         # the PHY, per bit moved
    mult_leakage_uw: float = 90.0                    # multiplier at reference_bits
    add_leakage_uw: float = 2.7                      # adder at reference_bits
    sram_leakage_uw_per_kb: float = 221.0            # SRAM array, per KiB
    mult_area_um2: float = 3495.0                    # multiplier at reference_bits
    add_area_um2: float = 137.0                      # adder at reference_bits
    register_area_um2_per_bit: float = 7.57          # one register bit
    pe_register_words: int = 3                       # word registers in a PE
    sram_area_mm2_per_kb: float = 0.00567            # SRAM incl. periphery, per KiB
    dram_interface_mm2_per_gbps: float = 0.0201      # PHY area per GB/s of bandwidth

    def __post_init__(self):
        owner = "EnergyTable"
        for field in ("node_nm", "reference_bits", "register_accesses_per_mac",
                      "pe_register_words"):
            checks.positive_int(owner, field, getattr(self, field))
        checks.non_negative_int(owner, "accumulator_guard_bits", self.accumulator_guard_bits)
        for field in ("mult_energy_pj", "add_energy_pj", "register_access_energy_pj",
                      "sram_energy_pj_per_64bit_at_1kb", "dram_energy_pj_per_64bit",
                      "dram_interface_pj_per_bit", "mult_area_um2", "add_area_um2",
                      "register_area_um2_per_bit", "sram_area_mm2_per_kb",
                      "dram_interface_mm2_per_gbps"):
            checks.positive_number(owner, field, getattr(self, field))
        for field in ("mult_leakage_uw", "add_leakage_uw", "sram_leakage_uw_per_kb"):
            checks.number_in(owner, field, getattr(self, field), 0, high_open=True)
        checks.number_in(owner, "sram_energy_size_exponent", self.sram_energy_size_exponent, 0, 1)

    # -- widths --------------------------------------------------------------------------------
    def accumulator_bits(self, word_bits):
        """Width of a partial sum: a full product (``2 * word_bits``) plus the guard bits."""
        return 2 * word_bits + self.accumulator_guard_bits

    def _multiplier_and_adder(self, multiplier, adder, word_bits):
        """A ``word_bits`` multiplier's figure (quadratic in width) plus the accumulator-wide
        adder's (linear), from their figures at ``reference_bits``."""
        return (multiplier * (word_bits / self.reference_bits) ** 2
                + adder * self.accumulator_bits(word_bits) / self.reference_bits)

    # -- energy per action, pJ -----------------------------------------------------------------
    def mac_energy_pj(self, word_bits):
        """One multiply (``word_bits`` wide) accumulated by the accumulator-wide adder."""
        return self._multiplier_and_adder(self.mult_energy_pj, self.add_energy_pj, word_bits)

    def register_energy_pj(self, word_bits):
        """One PE register access of one word."""
        return self.register_access_energy_pj * word_bits / self.reference_bits

    def sram_energy_pj(self, bank_kb, bits):
        """One ``bits``-wide read or write in an SRAM bank of ``bank_kb`` KiB (power law)."""
        per_64bit = self.sram_energy_pj_per_64bit_at_1kb * bank_kb ** self.sram_energy_size_exponent
        return per_64bit * bits / 64

    def dram_energy_pj(self, word_bits):
        """One word read from or written to the DRAM device."""
        return self.dram_energy_pj_per_64bit * word_bits / 64

    def dram_interface_energy_pj(self, word_bits):
        """One word through the accelerator's DRAM interface (PHY)."""
        return self.dram_interface_pj_per_bit * word_bits

    # -- leakage -------------------------------------------------------------------------------
    def pe_leakage_uw(self, word_bits):
        """Static power of one processing element: its multiplier and accumulator-wide adder."""
        return self._multiplier_and_adder(self.mult_leakage_uw, self.add_leakage_uw, word_bits)

    def leakage_pj_per_cycle(self, num_pes, word_bits, sram_kb, clock_mhz):
        """Energy leaked per clock cycle by ``num_pes`` PEs and ``sram_kb`` KiB of SRAM at
        ``clock_mhz`` MHz (uW / MHz = pJ)."""
        uw = num_pes * self.pe_leakage_uw(word_bits) + sram_kb * self.sram_leakage_uw_per_kb
        return uw / clock_mhz

    # -- area, mm^2 ----------------------------------------------------------------------------
    def mac_area_mm2(self, word_bits):
        """One MAC unit: a ``word_bits`` multiplier and the accumulator-wide adder."""
        return self._multiplier_and_adder(self.mult_area_um2, self.add_area_um2,
                                          word_bits) / _UM2_PER_MM2

    def register_area_mm2(self, bits):
        """``bits`` bits of registers."""
        return bits * self.register_area_um2_per_bit / _UM2_PER_MM2

    def pe_area_mm2(self, word_bits):
        """One processing element: a MAC unit and its word registers."""
        um2 = (self._multiplier_and_adder(self.mult_area_um2, self.add_area_um2, word_bits)
               + self.pe_register_words * word_bits * self.register_area_um2_per_bit)
        return um2 / _UM2_PER_MM2

    def dram_interface_area_mm2(self, bandwidth_words_per_cycle, word_bits, clock_mhz):
        """The DRAM interface (PHY) of a bandwidth in words per cycle: infinite if unbounded."""
        gbps = bandwidth_words_per_cycle * word_bits * clock_mhz / _BITS_PER_GBPS_PER_MHZ
        return gbps * self.dram_interface_mm2_per_gbps

    @classmethod
    def from_accelergy_ert(cls, path: str | Path, base: EnergyTable | None = None, *,
                           word_bits: int, sram_kb: Mapping[str, float] | None = None,
                           clock_mhz: float | None = None,
                           ignore: tuple[str, ...] = ()) -> EnergyTable:
        """``base`` (default: the 45 nm table) with the entries an Accelergy ERT prices replaced.

        Reads an Accelergy (v0.3 or later) ``ERT_summary.yaml``: ``ERT_summary.table_summary`` is a
        list of components, each with a ``name`` and ``actions``, each action a ``name`` and an
        ``energy`` (or ``average_energy``) in pJ. See :data:`ERT_ROLES` for how components are
        recognised (by their last name segment) and which actions set which fields.

        Args:
          path: the ERT_summary.yaml file.
          base: the table whose other fields are kept.
          word_bits: bits per word of the ERT's components (the energies are per word access and
            per ``word_bits``-wide multiply); they are rescaled to the table's reference widths.
          sram_kb: the size (KiB) of every SRAM component's bank, by its full ERT name; SRAM energy
            and leakage are size-dependent, so each SRAM component needs one.
          clock_mhz: the clock the ERT's ``leak`` energies (pJ per cycle) were computed at; needed
            only if a component leaks.
          ignore: full ERT names of components to skip (a NoC, an address generator, ...).

        Raises:
          ValueError: naming the file and the entry: an unrecognised component, a recognised one
          without its energy action, an SRAM without a size, a leak without a clock, or a
          combination the table cannot hold.
        """
        import yaml  # only this reader needs PyYAML; sim itself stays numpy-only

        base = cls() if base is None else base
        checks.positive_int("EnergyTable.from_accelergy_ert", "word_bits", word_bits)
        where = f"EnergyTable.from_accelergy_ert({str(path)!r})"
        document = yaml.safe_load(Path(path).read_text())
        summary = document.get("ERT_summary") if isinstance(document, dict) else None
        components = summary.get("table_summary") if isinstance(summary, dict) else None
        if not isinstance(components, list):
            allowed = "a YAML mapping 'ERT_summary' holding a 'table_summary' list of components"
            message = f"{where}: not an Accelergy ERT summary; allowed: {allowed}"
            raise ValueError(message)  # noqa: TRY004
        readings = _ert_readings(components, where, ignore)
        return _apply_ert(base, readings, where, word_bits, dict(sram_kb or {}), clock_mhz)


# -- Accelergy ERT reader ---------------------------------------------------------------------

ERT_ROLES = (
    ("dram", ("dram",), ("read", "write")),
    ("multiplier", ("multiplier",), ("multiply", "compute")),
    ("adder", ("adder",), ("add", "compute")),
    ("mac", ("mac",), ("mac_random", "mac", "compute")),
    ("register", ("regfile", "register", "reg", "spad", "scratchpad"), ("read", "write", "access")),
    ("sram", ("sram", "buffer", "glb", "cache"), ("read", "write")),
)
"""How :meth:`EnergyTable.from_accelergy_ert` reads an ERT: ``(role, keywords, actions)`` rows,
tried in order. A component takes the first role one of whose keywords occurs in its last name
segment (lower-cased, ``[..]`` ranges dropped: ``system.PE[0..15].LMAC[0..3]`` -> ``lmac`` ->
``mac``). Its energy per action is the mean over the listed actions it has (read and write alike);
other actions (``idle``, ``update``, ...) are not used, except ``leak``, its leakage energy per
cycle (Accelergy's convention), which needs the ``clock_mhz`` it was computed at.

    role        sets (after rescaling from ``word_bits`` to the table's widths)
    dram        dram_energy_pj_per_64bit
    multiplier  mult_energy_pj, mult_leakage_uw
    adder       add_energy_pj, add_leakage_uw (the adder taken accumulator-wide)
    mac         mult_energy_pj and add_energy_pj (leakage: mult_ and add_leakage_uw) scaled by one
                factor, keeping their split, so that one MAC costs the ERT's energy
    register    register_access_energy_pj
    sram        sram_energy_pj_per_64bit_at_1kb (the exponent kept), sram_leakage_uw_per_kb

Several components of one role are averaged. DRAM and registers have no leakage field: a non-zero
``leak`` on them is an error, as is a ``mac`` together with a ``multiplier`` or ``adder``.
"""


def _ert_energy(action: dict, where: str, component: str) -> float:
    value = action.get("energy", action.get("average_energy"))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{where}: component {component!r} action {action.get('name')!r} needs an "
                         f"'energy' or 'average_energy' >= 0 (pJ), got {value!r}")
    return float(value)


def _ert_readings(components: list, where: str, ignore) -> dict[str, list]:
    """``{role: [(name, energy_pj, leak_pj_per_cycle or None), ...]}`` of the recognised
    components (``None``: the component has no ``leak`` action)."""
    readings: dict[str, list] = {}
    unrecognised = []
    for component in components:
        name = component.get("name") if isinstance(component, dict) else None
        actions = component.get("actions") if isinstance(component, dict) else None
        if not isinstance(name, str) or not isinstance(actions, list):
            message = (f"{where}: table_summary entry {component!r} needs a 'name' and an "
                       "'actions' list")
            raise ValueError(message)  # noqa: TRY004
        if name in ignore:
            continue
        leaf = re.sub(r"\[[^\]]*\]", "", name).split(".")[-1].lower()
        role = next(((role, wanted) for role, keywords, wanted in ERT_ROLES
                     if any(keyword in leaf for keyword in keywords)), None)
        if role is None:
            unrecognised.append(name)
            continue
        energies = {a.get("name"): _ert_energy(a, where, name) for a in actions
                    if isinstance(a, dict)}
        used = [energies[action] for action in role[1] if action in energies]
        if not used:
            raise ValueError(f"{where}: component {name!r} ({role[0]}) has none of the actions "
                             f"{list(role[1])}; found {sorted(map(str, energies))}")
        readings.setdefault(role[0], []).append((name, sum(used) / len(used),
                                                 energies.get("leak")))
    if unrecognised:
        keywords = [keyword for _, words, _ in ERT_ROLES for keyword in words]
        raise ValueError(f"{where}: unrecognised component(s) {unrecognised}; allowed: a last name "
                         f"segment containing one of {keywords}, or the name in ignore=")
    return readings


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _apply_ert(base: EnergyTable, readings: dict, where: str, word_bits: int,
               sram_kb: dict, clock_mhz) -> EnergyTable:
    """``base`` with the fields the ERT ``readings`` set (see :data:`ERT_ROLES`)."""
    arithmetic = [name for role in ("mac", "multiplier", "adder") for name, *_ in
                  readings.get(role, [])]
    if "mac" in readings and ("multiplier" in readings or "adder" in readings):
        raise ValueError(f"{where}: components {arithmetic} mix a 'mac' with a 'multiplier' or "
                         "'adder'; allowed: either mac components or multiplier/adder ones")
    leaks = [(role, name, leak) for role, rows in readings.items() for name, _, leak in rows
             if leak]
    no_field = [name for role, name, _ in leaks if role in ("dram", "register")]
    if no_field:
        raise ValueError(f"{where}: component(s) {no_field} leak, but the table has no leakage "
                         "field for DRAM or register files; allowed: leak 0, or the name in "
                         "ignore=")
    if leaks and clock_mhz is None:
        raise ValueError(f"{where}: component(s) {[name for _, name, _ in leaks]} leak; pass "
                         "clock_mhz, the clock their leak energies are per cycle of")
    if clock_mhz is not None:
        checks.positive_number("EnergyTable.from_accelergy_ert", "clock_mhz", clock_mhz)

    def energy(role):
        return _mean(e for _, e, _ in readings[role])

    def leakage_uw(role, per=lambda name: 1.0):
        """Mean leakage power (uW) of the role's components that have a leak action, or None."""
        rows = [(name, leak) for name, _, leak in readings[role] if leak is not None]
        return _mean(leak * (clock_mhz or 0.0) / per(name) for name, leak in rows) if rows \
            else None

    ref = base.reference_bits
    square = (ref / word_bits) ** 2
    accumulator = ref / base.accumulator_bits(word_bits)
    changes = {}
    if "dram" in readings:
        changes["dram_energy_pj_per_64bit"] = energy("dram") * 64 / word_bits
    if "register" in readings:
        changes["register_access_energy_pj"] = energy("register") * ref / word_bits
    if "multiplier" in readings:
        changes["mult_energy_pj"] = energy("multiplier") * square
        if (uw := leakage_uw("multiplier")) is not None:
            changes["mult_leakage_uw"] = uw * square
    if "adder" in readings:
        changes["add_energy_pj"] = energy("adder") * accumulator
        if (uw := leakage_uw("adder")) is not None:
            changes["add_leakage_uw"] = uw * accumulator
    if "mac" in readings:
        scale = energy("mac") / base.mac_energy_pj(word_bits)
        changes.update(mult_energy_pj=base.mult_energy_pj * scale,
                       add_energy_pj=base.add_energy_pj * scale)
        if (uw := leakage_uw("mac")) is not None:
            scale = uw / base.pe_leakage_uw(word_bits)
            changes.update(mult_leakage_uw=base.mult_leakage_uw * scale,
                           add_leakage_uw=base.add_leakage_uw * scale)
    if "sram" in readings:
        missing = [name for name, *_ in readings["sram"] if name not in sram_kb]
        if missing:
            raise ValueError(f"{where}: SRAM component(s) {missing} need their bank size; allowed: "
                             "sram_kb={full ERT name: KiB} for every SRAM component")
        for name, *_ in readings["sram"]:
            checks.positive_number("EnergyTable.from_accelergy_ert", f"sram_kb[{name!r}]",
                                   sram_kb[name])
        exponent = base.sram_energy_size_exponent
        changes["sram_energy_pj_per_64bit_at_1kb"] = _mean(
            e * 64 / word_bits / sram_kb[name] ** exponent for name, e, _ in readings["sram"])
        if (uw := leakage_uw("sram", per=sram_kb.__getitem__)) is not None:
            changes["sram_leakage_uw_per_kb"] = uw
    return dataclasses.replace(base, **changes)
