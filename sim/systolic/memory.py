"""The memory model: double-buffered SRAM tiles, DRAM traffic per operand, and stall cycles.

Units: words (one activation or weight) and cycles; ``dram_bandwidth_words_per_cycle`` in words
per cycle.

**Buffers.** Each operand's SRAM (ifmap, filter, ofmap) is split into two halves: the array works
on one half while the other is filled from (or drained to) DRAM. A tile therefore holds
``B = sram_words // 2`` words (:func:`buffer_words`).

**Reuse and tiles.** Per group the three operands have DRAM footprints ``D`` (unique words, see
:class:`sim.systolic.lowering.GemmShape`). Each operand is indexed by the row fold, the column fold
or both:

    dataflow  ifmap  filter  ofmap
    "os"      row    col     both
    "ws"      row    both    col     (partial sums accumulate over the row folds)
    "is"      both   row     col     (partial sums accumulate over the row folds)

The mapping (:mod:`sim.systolic.mapping`) makes one fold loop outer, with ``O`` iterations, and the
other inner, with ``I``. An operand crosses the DRAM interface ``passes`` times:

    indexed by both:   passes = 1                                 (each word used in one fold)
    indexed by outer:  passes = 1 if ceil(D / O) <= B else I      (its slice stays for the inner loop)
    indexed by inner:  passes = 1 if D <= B else O                (re-fetched every outer iteration
                                                                   unless the whole operand fits)

DRAM traffic per group: ``ifmap_dram_reads = passes_ifmap * D_ifmap``, likewise for the filter;
``ofmap_dram_writes = passes_ofmap * D_ofmap`` and ``ofmap_dram_reads = (passes_ofmap - 1) *
D_ofmap`` (spilled partial sums are written and read back). A layer moves ``groups`` times that.

**Stalls.** A group moves ``W`` words in all, spread evenly over its ``F`` folds (the prefetcher
streams continuously): ``W / F`` words per fold. While one fold computes (``L = cycles_per_fold``
cycles) the next fold's inputs load and the previous fold's outputs drain, ``W / F`` words; when
that takes longer than ``L`` the array waits for the difference. The first fold's inputs and the
last fold's outputs (``W / F`` words together) cannot overlap compute. With ``bw`` the DRAM
bandwidth, ``W / (F * bw) + (F - 1) * max(0, W / (F * bw) - L)`` cycles, in integer-exact form:

    stall_per_group = ceil((W + (F - 1) * max(0, W - F * L * bw)) / (F * bw))
    stall_cycles    = groups * stall_per_group

``bw = inf`` gives zero stalls, and a lower ``bw`` never gives fewer stall cycles. This memory model
is ours: SCALE-Sim's own DRAM figures come from its trace-driven buffers and are not reproduced
(its compute cycles and SRAM counts are, see :mod:`sim.systolic.schedule`).

All functions take Python numbers or equally-shaped numpy arrays (selects, maxima and ceilings
through :mod:`sim.arith`), so they transcribe one to one into ``jax.numpy``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim import checks
from sim.arith import ceil, ceil_div, maximum, select
from sim.systolic.architecture import DATAFLOWS, Accelerator
from sim.systolic.lowering import GemmShape
from sim.systolic.mapping import FOLD_ORDERS
from sim.systolic.schedule import FoldSchedule

OPERANDS = ("ifmap", "filter", "ofmap")

# Which fold loop indexes each operand (ifmap, filter, ofmap), per dataflow.
OPERAND_INDEX = {"os": ("row", "col", "both"),
                 "ws": ("row", "both", "col"),
                 "is": ("both", "row", "col")}


class DramTraffic(NamedTuple):
    """Words crossing the DRAM interface for a whole layer, and the passes per operand."""

    ifmap_passes: int
    filter_passes: int
    ofmap_passes: int
    ifmap_dram_reads: int
    filter_dram_reads: int
    ofmap_dram_reads: int
    ofmap_dram_writes: int

    @property
    def total_words(self):
        return (self.ifmap_dram_reads + self.filter_dram_reads + self.ofmap_dram_reads
                + self.ofmap_dram_writes)


def buffer_words(accelerator: Accelerator) -> tuple[int, int, int]:
    """Words of one double-buffer half of the ifmap, filter and ofmap SRAMs."""
    return tuple(accelerator.sram_words(operand) // 2 for operand in OPERANDS)


def operand_passes(index: str, footprint_words, buffer, outer_folds, inner_folds):
    """How many times an operand crosses the DRAM interface (see the module docstring).

    Args:
      index: which loop indexes the operand: "both", "outer" or "inner".
      footprint_words: the operand's unique words per group ``D``.
      buffer: words of one half of its SRAM ``B``.
      outer_folds, inner_folds: iterations ``O`` and ``I`` of the outer and inner fold loops.
    """
    checks.one_of("operand_passes", "index", index, ("both", "outer", "inner"))
    if index == "both":
        return 0 * footprint_words + 1    # 1, shaped like the footprint
    if index == "outer":
        return select(ceil_div(footprint_words, outer_folds) <= buffer, 1, inner_folds)
    return select(footprint_words <= buffer, 1, outer_folds)


def dram_traffic(gemm: GemmShape, schedule: FoldSchedule, dataflow: str, fold_order: str,
                 buffers: tuple[int, int, int]) -> DramTraffic:
    """DRAM reads and writes of a layer for its GEMM, schedule, dataflow and fold order.

    Args:
      gemm: the layer's per-group GEMM and footprints (:func:`sim.systolic.lowering.gemm_shape`).
      schedule: its fold schedule (:func:`sim.systolic.schedule.fold_schedule`).
      dataflow: "os", "ws" or "is".
      fold_order: "col_outer" or "row_outer" (:class:`sim.systolic.mapping.Mapping`).
      buffers: words of one half of the ifmap, filter and ofmap SRAMs (:func:`buffer_words`).
    """
    checks.one_of("dram_traffic", "dataflow", dataflow, DATAFLOWS)
    checks.one_of("dram_traffic", "fold_order", fold_order, FOLD_ORDERS)
    outer = "col" if fold_order == "col_outer" else "row"
    folds = {"row": schedule.row_folds, "col": schedule.col_folds}
    outer_folds = folds[outer]
    inner_folds = folds["row" if outer == "col" else "col"]
    footprints = (gemm.ifmap_words, gemm.filter_words, gemm.ofmap_words)
    passes = []
    for index, footprint, buffer in zip(OPERAND_INDEX[dataflow], footprints, buffers):
        role = "both" if index == "both" else ("outer" if index == outer else "inner")
        passes.append(operand_passes(role, footprint, buffer, outer_folds, inner_folds))
    groups = gemm.groups
    return DramTraffic(
        ifmap_passes=passes[0], filter_passes=passes[1], ofmap_passes=passes[2],
        ifmap_dram_reads=groups * passes[0] * gemm.ifmap_words,
        filter_dram_reads=groups * passes[1] * gemm.filter_words,
        ofmap_dram_reads=groups * (passes[2] - 1) * gemm.ofmap_words,
        ofmap_dram_writes=groups * passes[2] * gemm.ofmap_words)


def stall_cycles(traffic: DramTraffic, schedule: FoldSchedule, groups,
                 dram_bandwidth_words_per_cycle):
    """Cycles the array waits for DRAM in a layer (double-buffered, see the module docstring).

    Args:
      traffic: the layer's DRAM traffic (:func:`dram_traffic`).
      schedule: one group's fold schedule.
      groups: how many times the group's GEMM runs.
      dram_bandwidth_words_per_cycle: words per cycle, ``> 0``; ``math.inf`` gives zero stalls.
    """
    positive = (dram_bandwidth_words_per_cycle > 0
                if isinstance(dram_bandwidth_words_per_cycle, (int, float))
                else np.all(np.asarray(dram_bandwidth_words_per_cycle) > 0))
    if not positive:
        raise ValueError(f"stall_cycles.dram_bandwidth_words_per_cycle must be > 0, "
                         f"got {dram_bandwidth_words_per_cycle!r}")
    bandwidth = dram_bandwidth_words_per_cycle * 1.0
    words = traffic.total_words // groups
    folds = schedule.folds
    fold_words_capacity = folds * schedule.cycles_per_fold * bandwidth
    exposed = words + (folds - 1) * maximum(0.0, words - fold_words_capacity)
    return groups * ceil(exposed / (folds * bandwidth))
