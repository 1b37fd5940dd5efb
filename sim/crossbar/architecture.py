"""The architecture: a memristive-crossbar in-memory-computing accelerator (ISAAC / PUMA style).

Weights are stored as conductances in ``crossbar_size`` x ``crossbar_size`` crossbars (X rows =
X columns) of memristor cells holding ``cell_bits`` bits each, so a ``weight_bits`` weight spans
``ceil(weight_bits / cell_bits)`` adjacent columns, its slices. Inputs stream bit-serially
through ``dac_bits``-bit DACs on the rows, ``ceil(input_bits / dac_bits)`` input cycles per
input vector. Every column's current is held by a sample-and-hold and digitised by an ADC shared
by ``columns_per_adc`` columns (never by two crossbars: a crossbar narrower than that has one ADC),
whose resolution is ``adc_bits`` bits or ``"lossless"`` (:func:`lossless_adc_bits`). One
shift-and-add unit per ADC merges the digitised columns across input bits and weight slices.
Crossbars come ``crossbars_per_tile`` to a tile with a ``tile_buffer_kb`` KiB buffer for inputs,
outputs and partial sums.

Timing is in cycles of ``clock_mhz``, the ADC clock (one conversion per ADC per cycle): a
crossbar read (drive the rows, settle, sample the columns) takes ``crossbar_read_cycles``.

The defaults are ISAAC's (A. Shafiee et al., "ISAAC: A convolutional neural network accelerator
with in-situ analog arithmetic in crossbars", ISCA 2016, Table 6): 128 x 128 crossbars of 2-bit
cells, 16-bit weights and inputs, 1-bit DACs, 8-bit ADCs at 1.2 GS/s, one per 128 columns, 8
crossbars per in-situ multiply-accumulate unit (IMA, our tile); its 100 ns crossbar read cycle is
120 cycles of the 1.2 GHz ADC clock, and an IMA's share of its tile's 64 KB eDRAM (12 IMAs per
tile) is 64/12 KiB. ISAAC gets by with 8 ADC bits thanks to its weight-flipping encoding; the
lossless resolution of its crossbar is 9 bits.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from collections.abc import Mapping
from pathlib import Path

from sim import checks
from sim.arith import ceil_div

CROSSBAR_SIZES = (16, 32, 64, 128, 256)
"""Allowed crossbar sizes X (rows = columns): powers of two, NAX's 16-128 plus PUMA's 256."""

COLUMNS_PER_ADC = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Allowed ADC sharing: powers of two, so that the sharing divides every crossbar size."""

LOSSLESS = "lossless"
"""``adc_bits`` value asking for the lossless resolution (:func:`lossless_adc_bits`)."""

BIT_RANGES = {"cell_bits": (1, 8), "weight_bits": (1, 16), "input_bits": (1, 16),
              "dac_bits": (1, 8)}
"""Allowed ``[low, high]`` of each bit-width field (also the forward pass's and cost model's)."""
ADC_BITS_RANGE = (1, 32)
"""Allowed ``adc_bits`` (besides ``"lossless"``)."""

_FIELDS = ("crossbar_size", "cell_bits", "weight_bits", "input_bits", "dac_bits", "adc_bits",
           "columns_per_adc", "crossbars_per_tile", "tile_buffer_kb", "clock_mhz",
           "crossbar_read_cycles")


def lossless_adc_bits(crossbar_size: int, dac_bits: int, cell_bits: int) -> int:
    """The ADC resolution that digitises any column of a crossbar exactly (NAX's lossless ADC).

    A column sums at most ``crossbar_size`` products of a ``dac_bits`` input slice (at most
    ``2**dac_bits - 1``) and a ``cell_bits`` cell level (at most ``2**cell_bits - 1``), so its
    ``ceil(log2(crossbar_size * (2**dac_bits - 1) * (2**cell_bits - 1) + 1))`` bits hold every
    value it can take. All ``crossbar_size`` rows count, not the rows a layer uses: the ADC is
    hardware, built for the whole crossbar.
    """
    largest = crossbar_size * (2 ** dac_bits - 1) * (2 ** cell_bits - 1)
    return largest.bit_length()          # == ceil(log2(largest + 1))


def check_crossbar_size(owner: str, value: object) -> int:
    """Returns ``value`` if it is one of :data:`CROSSBAR_SIZES`, else raises a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        message = f"{owner}.crossbar_size must be one of {list(CROSSBAR_SIZES)}"
        raise ValueError(f"{message}, got {value!r}")  # noqa: TRY004
    return checks.one_of(owner, "crossbar_size", int(value), CROSSBAR_SIZES)


@dataclasses.dataclass(frozen=True)
class CrossbarAccelerator:
    """A memristive-crossbar accelerator (see the module docstring); validated on construction."""

    crossbar_size: int = 128
    cell_bits: int = 2
    weight_bits: int = 16
    input_bits: int = 16
    dac_bits: int = 1
    adc_bits: int | str = 8
    columns_per_adc: int = 128
    crossbars_per_tile: int = 8
    tile_buffer_kb: float = 64 / 12
    clock_mhz: float = 1200.0
    crossbar_read_cycles: int = 120

    def __post_init__(self):
        owner = "CrossbarAccelerator"
        check_crossbar_size(owner, self.crossbar_size)
        for field, (low, high) in BIT_RANGES.items():
            checks.int_in(owner, field, getattr(self, field), low, high)
        if self.adc_bits != LOSSLESS:
            low, high = ADC_BITS_RANGE
            if (isinstance(self.adc_bits, bool) or not isinstance(self.adc_bits, numbers.Integral)
                    or not low <= self.adc_bits <= high):
                raise ValueError(f"{owner}.adc_bits must be an integer in [{low}, {high}] or "
                                 f"{LOSSLESS!r}, got {self.adc_bits!r}")
        checks.positive_int(owner, "columns_per_adc", self.columns_per_adc)
        checks.one_of(owner, "columns_per_adc", self.columns_per_adc, COLUMNS_PER_ADC)
        checks.positive_int(owner, "crossbars_per_tile", self.crossbars_per_tile)
        checks.positive_int(owner, "crossbar_read_cycles", self.crossbar_read_cycles)
        checks.positive_number(owner, "tile_buffer_kb", self.tile_buffer_kb)
        checks.positive_number(owner, "clock_mhz", self.clock_mhz)

    # -- derived sizes ------------------------------------------------------------------------
    @property
    def weight_slices(self) -> int:
        """Adjacent columns (cells) one weight spans: ``ceil(weight_bits / cell_bits)``."""
        return ceil_div(self.weight_bits, self.cell_bits)

    @property
    def input_cycles(self) -> int:
        """Bit-serial input cycles per input vector: ``ceil(input_bits / dac_bits)``."""
        return ceil_div(self.input_bits, self.dac_bits)

    def adc_resolution_bits(self, crossbar_size: int | None = None) -> int:
        """The ADC resolution on crossbars of ``crossbar_size`` (default: the architecture's):
        ``adc_bits``, or the lossless resolution of that size."""
        size = self.crossbar_size if crossbar_size is None else crossbar_size
        if self.adc_bits == LOSSLESS:
            return lossless_adc_bits(size, self.dac_bits, self.cell_bits)
        return self.adc_bits

    def adcs_per_crossbar(self, crossbar_size: int | None = None) -> int:
        """ADCs of one crossbar of ``crossbar_size``: one per ``columns_per_adc`` columns, at
        least one (an ADC never serves two crossbars)."""
        size = self.crossbar_size if crossbar_size is None else crossbar_size
        return size // min(self.columns_per_adc, size)

    # -- serialization ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in _FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CrossbarAccelerator:
        checks.known_keys("CrossbarAccelerator", data, _FIELDS)
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> CrossbarAccelerator:
        return cls.from_dict(json.loads(Path(path).read_text()))
