"""The architecture: a systolic-array accelerator template (SCALE-Sim's), shared by sim and cost model.

A ``rows`` x ``cols`` array of MAC processing elements runs one of three dataflows: weight- ("ws"),
output- ("os") or input-stationary ("is"). Three on-chip SRAMs feed it, one per operand, sized in KiB
(1 KiB = 1024 bytes) and double-buffered by the simulator. DRAM supplies
``dram_bandwidth_words_per_cycle`` words per cycle (``math.inf``: unbounded, no stalls). One word is
``word_bits`` bits; the clock runs at ``clock_mhz`` MHz.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path

from sim import checks

DATAFLOWS = ("ws", "os", "is")

_FIELDS = ("rows", "cols", "dataflow", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb",
           "dram_bandwidth_words_per_cycle", "word_bits", "clock_mhz")


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """A systolic-array accelerator; validated on construction."""

    rows: int = 32
    cols: int = 32
    dataflow: str = "ws"
    ifmap_sram_kb: float = 64.0
    filter_sram_kb: float = 64.0
    ofmap_sram_kb: float = 32.0
    dram_bandwidth_words_per_cycle: float = 16.0
    word_bits: int = 16
    clock_mhz: float = 500.0

    def __post_init__(self):
        owner = "Accelerator"
        checks.positive_int(owner, "rows", self.rows)
        checks.positive_int(owner, "cols", self.cols)
        checks.one_of(owner, "dataflow", self.dataflow, DATAFLOWS)
        for field in ("ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb", "clock_mhz"):
            checks.positive_number(owner, field, getattr(self, field))
        checks.positive_number(owner, "dram_bandwidth_words_per_cycle",
                               self.dram_bandwidth_words_per_cycle, allow_inf=True)
        checks.positive_int(owner, "word_bits", self.word_bits)
        for operand in ("ifmap", "filter", "ofmap"):
            if self.sram_words(operand) < 2:
                raise ValueError(
                    f"{owner}.{operand}_sram_kb={getattr(self, operand + '_sram_kb')} holds fewer "
                    f"than 2 words of {self.word_bits} bits; allowed: room for a double buffer")

    @property
    def num_pes(self) -> int:
        return self.rows * self.cols

    def sram_words(self, operand: str) -> int:
        """Capacity of one operand's SRAM in words (``operand`` in ifmap, filter, ofmap)."""
        kb = getattr(self, f"{operand}_sram_kb")
        return int(kb * 1024 * 8) // self.word_bits

    def to_dict(self) -> dict:
        data = {field: getattr(self, field) for field in _FIELDS}
        if math.isinf(self.dram_bandwidth_words_per_cycle):
            data["dram_bandwidth_words_per_cycle"] = "inf"
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Accelerator:
        checks.known_keys("Accelerator", data, _FIELDS)
        data = dict(data)
        if data.get("dram_bandwidth_words_per_cycle") == "inf":
            data["dram_bandwidth_words_per_cycle"] = math.inf
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Accelerator:
        return cls.from_dict(json.loads(Path(path).read_text()))
