"""Cycle-level memory reference: double-buffered SRAMs and one DRAM channel, stepped cycle by cycle.

The slow test oracle for :mod:`sim.systolic.memory` (as :mod:`sim.systolic.engine` is for the fold
schedule). It replays a group's folds in the mapping's loop order and, instead of closed forms,

* keeps, per operand, the set of slices resident in its SRAM, and decides what to keep from
  *reuse*: after a fold, a slice stays only if a later fold uses it again, and only if it fits:
  every reused slice of the operand at once when the whole footprint fits one half (``D <= B``);
  else the slice alone when the very next fold reuses it and it fits one half; else nothing;
* fetches a fold's input slices that are not resident; reads a partial-sum slice back when it was
  written out before; writes an ofmap slice back when it is not kept (finished or spilled);
* steps cycles: the first fold's loads, then per fold its compute cycles (one per cycle) alongside
  the channel moving up to ``bw`` words per cycle of the next fold's loads and the previous fold's
  write-backs (one fold of look-ahead), the next fold starting when both are done; then the last
  fold's write-backs.

Slices are exact fractions of words (``D / n``, as in the fast model), and a bandwidth is taken as
the exact rational value of its float. A slice larger than a half streams through it (the fold's
loads still complete before the fold starts), as in the fast model. Groups are identical and run
one after another, each from empty SRAMs, so a layer's counts are ``groups`` times one group's.
The compute side of a fold is its ``cycles_per_fold`` (:mod:`sim.systolic.schedule`, itself equal
to the cycle-stepping :mod:`sim.systolic.engine` and to SCALE-Sim). Use it on small problems: it
runs a Python loop over cycles.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

from sim.systolic.lowering import GemmShape
from sim.systolic.memory import OPERANDS, operand_roles, outer_inner_folds
from sim.systolic.schedule import FoldSchedule


class MemoryRun(NamedTuple):
    """What the memory reference counted for one layer (words and cycles, all groups)."""

    stall_cycles: int
    total_cycles: int
    ifmap_dram_reads: int
    filter_dram_reads: int
    ofmap_dram_reads: int
    ofmap_dram_writes: int


def _slice_index(role: str, outer: int, inner: int, inner_folds: int) -> int:
    return {"outer": outer, "inner": inner, "both": outer * inner_folds + inner}[role]


def _keeps(footprint: int, size: Fraction, buffer: int, reused_later: bool,
           reused_next: bool) -> bool:
    """Whether a slice stays in SRAM after a fold (the reuse rule of the module docstring)."""
    if not reused_later:
        return False
    return footprint <= buffer or (reused_next and size <= buffer)


def _transfer_cycles(words: Fraction, bandwidth) -> int:
    """Cycles the channel takes for ``words``, moving up to ``bandwidth`` words per cycle."""
    cycles = 0
    while words > 0:
        words -= min(bandwidth, words)
        cycles += 1
    return cycles


def fold_traffic(gemm: GemmShape, schedule: FoldSchedule, dataflow: str, fold_order: str,
                 buffers: tuple[int, int, int]):
    """Per fold, in loop order: words loaded before it and written back after it, per operand.

    Returns ``(loads, drains)``: lists of ``F`` dicts ``{operand: Fraction words}``; reads of the
    ofmap are partial sums read back.
    """
    roles = operand_roles(dataflow, fold_order)
    outer_folds, inner_folds = outer_inner_folds(schedule, fold_order)
    footprints = (gemm.ifmap_words, gemm.filter_words, gemm.ofmap_words)
    order = [(o, i) for o in range(outer_folds) for i in range(inner_folds)]
    loads = [dict.fromkeys(OPERANDS, Fraction(0)) for _ in order]
    drains = [dict.fromkeys(OPERANDS, Fraction(0)) for _ in order]
    for operand, role, footprint, buffer in zip(OPERANDS, roles, footprints, buffers):
        slices = [_slice_index(role, o, i, inner_folds) for o, i in order]
        size = Fraction(footprint, {"outer": outer_folds, "inner": inner_folds,
                                    "both": len(order)}[role])
        last_use = {s: k for k, s in enumerate(slices)}
        resident, written = set(), set()
        for k, s in enumerate(slices):
            # A missing input slice is fetched; a spilled partial-sum slice is read back.
            if s not in resident and (operand != "ofmap" or s in written):
                loads[k][operand] += size
            resident.add(s)
            later = last_use[s] > k
            if not _keeps(footprint, size, buffer, later, k + 1 < len(slices)
                          and slices[k + 1] == s):
                resident.discard(s)
                if operand == "ofmap":
                    drains[k][operand] += size
                    written.add(s)
            assert not resident or len(resident) * size <= buffer      # what stays fits a half
    return loads, drains


def run_memory(gemm: GemmShape, schedule: FoldSchedule, dataflow: str, fold_order: str,
               buffers: tuple[int, int, int], dram_bandwidth_words_per_cycle) -> MemoryRun:
    """Steps one group's folds and its DRAM channel; counts for the whole layer."""
    loads, drains = fold_traffic(gemm, schedule, dataflow, fold_order, buffers)
    bandwidth = dram_bandwidth_words_per_cycle
    unbounded = math.isinf(bandwidth)
    rate = None if unbounded else Fraction(bandwidth)
    folds, per_fold = len(loads), schedule.cycles_per_fold

    def moved(words: Fraction) -> int:
        return 0 if unbounded else _transfer_cycles(words, rate)

    cycles = moved(sum(loads[0].values()))
    for k in range(folds):
        words = (sum(loads[k + 1].values()) if k + 1 < folds else 0) + \
            (sum(drains[k - 1].values()) if k > 0 else 0)
        compute, pending = per_fold, Fraction(words)
        while compute > 0 or (pending > 0 and not unbounded):
            compute = max(0, compute - 1)
            if not unbounded:
                pending -= min(rate, pending)
            cycles += 1
    cycles += moved(sum(drains[-1].values()))

    def total(operand, per_fold_words):
        count = sum(words[operand] for words in per_fold_words)
        assert count.denominator == 1, (operand, count)
        return gemm.groups * int(count)

    stall = cycles - folds * per_fold
    return MemoryRun(stall_cycles=gemm.groups * stall,
                     total_cycles=gemm.groups * (folds * per_fold - 1 + stall),
                     ifmap_dram_reads=total("ifmap", loads),
                     filter_dram_reads=total("filter", loads),
                     ofmap_dram_reads=total("ofmap", loads),
                     ofmap_dram_writes=total("ofmap", drains))
