"""DIAN's generic accelerator as a parametrized loop-nest hierarchy: what the co-search varies.

A :class:`GenericAccelerator` is a :class:`~sim.loopnest.architecture.LoopNestAccelerator` built
from a few knobs: DRAM (``dram_bandwidth_words_per_cycle`` each way, 4-word blocks); a global
buffer (SRAM) of ``glb_kb`` KiB that may keep every dataspace (4-word blocks,
``glb_bandwidth_words_per_cycle``); a ``pe_rows`` x ``pe_cols`` array of PEs, each with a
``rf_words``-word register file (``rf_bandwidth_words_per_cycle``, no neighbour links) and one MAC.
Each layer's mapping chooses its dataflow (:data:`DATAFLOWS`): the one dataspace the register
files keep (the others bypass them to the global buffer), and its loops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sim import checks
from sim.loopnest.architecture import ComputeLevel, LoopNestAccelerator, StorageLevel

DATAFLOWS = ("weight_stationary", "output_stationary", "input_stationary")
"""A layer's dataflow on the generic accelerator: which dataspace the PE register files keep."""

STATIONARY = {"weight_stationary": "Weights", "output_stationary": "Outputs",
              "input_stationary": "Inputs"}

KNOB_FIELDS = ("pe_rows", "pe_cols", "glb_kb", "rf_words", "dram_bandwidth_words_per_cycle",
               "glb_bandwidth_words_per_cycle", "rf_bandwidth_words_per_cycle", "word_bits",
               "clock_mhz")

LEVEL_NAMES = ("DRAM", "global_buffer", "pe_regfile")


def dataflow_keep(dataflow: str) -> tuple[str, ...]:
    """The dataspaces the PE register files keep under ``dataflow``."""
    return (STATIONARY[checks.one_of("mapping", "dataflow", dataflow, DATAFLOWS)],)


@dataclasses.dataclass(frozen=True)
class GenericAccelerator(LoopNestAccelerator):
    """The generic accelerator of a few knobs (module docstring); validated on construction."""

    name: str = dataclasses.field(default="generic", init=False)
    levels: tuple = dataclasses.field(default=(), init=False)
    compute: ComputeLevel = dataclasses.field(default=None, init=False)
    clock_mhz: float = 200.0
    pe_rows: int = 16
    pe_cols: int = 16
    glb_kb: float = 64.0
    rf_words: int = 64
    dram_bandwidth_words_per_cycle: float = 4.0
    glb_bandwidth_words_per_cycle: float = 16.0
    rf_bandwidth_words_per_cycle: float = 2.0
    word_bits: int = 16

    def __post_init__(self):
        owner = "GenericAccelerator"
        for field in ("pe_rows", "pe_cols", "rf_words", "word_bits"):
            checks.positive_int(owner, field, getattr(self, field))
        for field in ("glb_kb", "dram_bandwidth_words_per_cycle",
                      "glb_bandwidth_words_per_cycle", "rf_bandwidth_words_per_cycle"):
            checks.positive_number(owner, field, getattr(self, field))
        glb_words = self.glb_kb * 8192 / self.word_bits
        if glb_words != int(glb_words):
            raise ValueError(f"{owner}.glb_kb={self.glb_kb} is not a whole number of "
                             f"{self.word_bits}-bit words; allowed: multiples of "
                             f"{self.word_bits / 8192} KiB")
        pes = self.pe_rows * self.pe_cols
        levels = (
            StorageLevel("DRAM", "DRAM", None, word_bits=self.word_bits, block_size=4,
                         read_bandwidth_words_per_cycle=self.dram_bandwidth_words_per_cycle,
                         write_bandwidth_words_per_cycle=self.dram_bandwidth_words_per_cycle),
            StorageLevel("global_buffer", "SRAM", int(glb_words), word_bits=self.word_bits,
                         block_size=4,
                         read_bandwidth_words_per_cycle=self.glb_bandwidth_words_per_cycle,
                         write_bandwidth_words_per_cycle=self.glb_bandwidth_words_per_cycle),
            StorageLevel("pe_regfile", "regfile", self.rf_words, word_bits=self.word_bits,
                         instances=pes, mesh_x=self.pe_cols,
                         read_bandwidth_words_per_cycle=self.rf_bandwidth_words_per_cycle,
                         write_bandwidth_words_per_cycle=self.rf_bandwidth_words_per_cycle,
                         links=False))
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "compute", ComputeLevel("mac", instances=pes,
                                                         mesh_x=self.pe_cols,
                                                         word_bits=self.word_bits))
        super().__post_init__()

    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in KNOB_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> GenericAccelerator:
        checks.known_keys("GenericAccelerator", data, KNOB_FIELDS)
        return cls(**data)
