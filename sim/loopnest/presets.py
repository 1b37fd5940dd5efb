"""Reference loop-nest accelerators, 16-bit words, 200 MHz (Eyeriss v1's clock).

- ``eyeriss_like``: Eyeriss's row-stationary organisation as in Timeloop's example design (Chen et
  al., "Eyeriss", ISSCC 2016 / JSSC 2017; the timeloop-accelergy-exercises' ``eyeriss_like``):
  DRAM; a 128 KiB shared global buffer (65,536 words, 4-word blocks, 16 words/cycle each way)
  that keeps Inputs and Outputs; 14 PE columns (a container: the X fan-out) of 12 PEs (the Y
  fan-out), each PE with an ifmap scratchpad (12 words, Inputs), a weight scratchpad (192 words,
  Weights) and a psum scratchpad (16 words, Outputs), 2 words/cycle each way; 168 MACs.
- ``simple_weight_stationary``: DRAM; a 64 KiB global buffer (32,768 words, 4-word blocks, 16
  words/cycle); 16 x 16 PEs, each with a 64-word register file that keeps Weights only.
- ``simple_output_stationary``: the same with a 16-word register file per PE that keeps Outputs
  only.

DRAM moves 4 words (64 bits) per cycle each way in all three (an LPDDR4 x64 channel's width; our
choice, the example design gives none); its interface area follows from that bandwidth. The PEs
have no neighbour links (``links=False``): every fill comes from the level above, by multicast
where PEs share it.
"""

from __future__ import annotations

from collections.abc import Callable

from sim import checks
from sim.loopnest.architecture import ComputeLevel, LoopNestAccelerator, StorageLevel

_CLOCK_MHZ = 200.0
_DRAM_WORDS_PER_CYCLE = 4


def _dram() -> StorageLevel:
    return StorageLevel("DRAM", "DRAM", None, block_size=4,
                        read_bandwidth_words_per_cycle=_DRAM_WORDS_PER_CYCLE,
                        write_bandwidth_words_per_cycle=_DRAM_WORDS_PER_CYCLE)


def eyeriss_like() -> LoopNestAccelerator:
    """Eyeriss's row-stationary design (module docstring)."""
    spad = {"component": "regfile", "instances": 168, "mesh_x": 14,
            "read_bandwidth_words_per_cycle": 2, "write_bandwidth_words_per_cycle": 2,
            "links": False}
    return LoopNestAccelerator("eyeriss_like", (
        _dram(),
        StorageLevel("shared_glb", "SRAM", 65536, block_size=4,
                     read_bandwidth_words_per_cycle=16, write_bandwidth_words_per_cycle=16,
                     keeps=("Inputs", "Outputs")),
        StorageLevel("PE_column", "container", 0, instances=14, mesh_x=14, keeps=()),
        StorageLevel("ifmap_spad", depth_words=12, keeps=("Inputs",), **spad),
        StorageLevel("weights_spad", depth_words=192, keeps=("Weights",), **spad),
        StorageLevel("psum_spad", depth_words=16, keeps=("Outputs",), **spad),
    ), ComputeLevel("mac", instances=168, mesh_x=14), clock_mhz=_CLOCK_MHZ)


def _simple(name: str, keeps: tuple[str, ...], depth: int) -> LoopNestAccelerator:
    return LoopNestAccelerator(name, (
        _dram(),
        StorageLevel("global_buffer", "SRAM", 32768, block_size=4,
                     read_bandwidth_words_per_cycle=16, write_bandwidth_words_per_cycle=16),
        StorageLevel("pe_regfile", "regfile", depth, instances=256, mesh_x=16,
                     read_bandwidth_words_per_cycle=2, write_bandwidth_words_per_cycle=2,
                     keeps=keeps, links=False),
    ), ComputeLevel("mac", instances=256, mesh_x=16), clock_mhz=_CLOCK_MHZ)


def simple_weight_stationary() -> LoopNestAccelerator:
    """16 x 16 PEs whose register files keep weights (module docstring)."""
    return _simple("simple_weight_stationary", ("Weights",), 64)


def simple_output_stationary() -> LoopNestAccelerator:
    """16 x 16 PEs whose register files keep partial sums (module docstring)."""
    return _simple("simple_output_stationary", ("Outputs",), 16)


PRESETS: dict[str, Callable[[], LoopNestAccelerator]] = {
    "eyeriss_like": eyeriss_like,
    "simple_weight_stationary": simple_weight_stationary,
    "simple_output_stationary": simple_output_stationary,
}


def preset(name: str) -> LoopNestAccelerator:
    """The preset called ``name`` (:data:`PRESETS`)."""
    return PRESETS[checks.one_of("loopnest preset", "name", name, tuple(PRESETS))]()
