"""The memory model: double-buffered SRAM slices, DRAM traffic per operand, and stall cycles.

Units: words (one activation or weight) and cycles; ``dram_bandwidth_words_per_cycle`` in words
per cycle. This model is ours and analytical; :mod:`sim.systolic.memory_engine` steps it cycle by
cycle, and the closed forms here equal that reference exactly (tested on hypothesis cases).
SCALE-Sim's own trace-driven buffers are a separate, named model (``memory_model="scalesim"``).

**Buffers.** Each operand's SRAM (ifmap, filter, ofmap) is split into two halves: the array works
on one half while the other is filled from (or drained to) DRAM. A half holds
``B = sram_words // 2`` words (:func:`buffer_words`).

**Slices.** Per group the operands have DRAM footprints ``D`` (unique words, see
:class:`sim.systolic.lowering.GemmShape`). The mapping (:mod:`sim.systolic.mapping`) runs the folds
in a two-deep loop nest, fold ``k = o * I + i`` with ``O`` outer and ``I`` inner iterations
(``F = O * I`` folds). Each operand is indexed by the row fold, the column fold or both:

    dataflow  ifmap  filter  ofmap
    "os"      row    col     both
    "ws"      row    both    col     (partial sums accumulate over the row folds)
    "is"      both   row     col     (partial sums accumulate over the row folds)

so its *role* (:func:`operand_roles`) is "outer", "inner" or "both", and it is cut into ``n`` equal
slices of ``D / n`` words (``n = O``, ``I`` or ``F``; a slice is a real number of words: the model
spreads the operand's unique words evenly over its slices, and totals are whole words). Which
slices stay in SRAM is decided per operand (:func:`holds`):

    outer: holds if ceil(D / O) <= B    its slice stays for the whole inner loop
    inner: holds if D <= B              the whole operand stays once loaded
    both:  every slice is used by one fold only

**Traffic.** An input slice is fetched when a fold needs it and it is not held; an ofmap slice is
written back after its last fold when held, else after every fold, and a spilled partial sum is
read back before the next fold that accumulates into it. Per operand this is ``passes`` crossings
of the whole footprint (:func:`operand_passes`):

    both: 1;   outer: 1 if held else I;   inner: 1 if held else O

``ifmap_dram_reads = groups * passes_ifmap * D_ifmap`` (likewise the filter),
``ofmap_dram_writes = groups * passes_ofmap * D_ofmap``, ``ofmap_dram_reads = groups *
(passes_ofmap - 1) * D_ofmap``.

**Timing (one fold of look-ahead).** Before fold ``k`` runs, its missing input slices and
read-backs (``X_k`` words) must be in SRAM; after it, its finished outputs (``Y_k`` words) leave.
The memory controller works one fold ahead and one behind on one shared DRAM channel: the first
fold's inputs load before any compute; while fold ``k`` computes (``C = cycles_per_fold`` cycles)
the channel moves ``X_{k+1} + Y_{k-1}`` words, and fold ``k + 1`` starts when both are done (its
inputs sit in the half the channel filled, and the ofmap half it writes is the one just drained);
the last fold's outputs drain after it. With ``bw`` words per cycle, per group

    stall = ceil(X_0 / bw) + sum_k max(0, ceil((X_{k+1} + Y_{k-1}) / bw) - C) + ceil(Y_{F-1} / bw)

(``X_F = Y_{-1} = 0``). ``X_{k+1}`` and ``Y_{k-1}`` depend on the fold only through whether it is
the first or last of its inner and of its outer loop, so the sum over ``F`` folds is a sum over
3 x 3 classes (first, middle, last of each loop) weighted by their sizes (:func:`stall_cycles`):
constant time per layer, hence also in the differentiable cost model. Words are counted in units of
``1 / F`` word so that every slice is an integer number of units. Bursts count: an outer slice
loads in one fold, not spread over the inner loop, which is why a finite channel can stall even
when the average demand fits (a single averaged formula would under-count by Jensen's inequality).
``bw = inf`` gives zero stalls, and a lower ``bw`` never gives fewer stall cycles. A grouped layer
runs its groups one after another, each with its own first load and last drain.

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
ROLES = ("outer", "inner", "both")

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


def operand_roles(dataflow: str, fold_order: str) -> tuple[str, str, str]:
    """The role ("outer", "inner" or "both") of the ifmap, filter and ofmap fold loops."""
    checks.one_of("operand_roles", "dataflow", dataflow, DATAFLOWS)
    checks.one_of("operand_roles", "fold_order", fold_order, FOLD_ORDERS)
    outer = "col" if fold_order == "col_outer" else "row"
    return tuple("both" if index == "both" else ("outer" if index == outer else "inner")
                 for index in OPERAND_INDEX[dataflow])


def outer_inner_folds(schedule: FoldSchedule, fold_order: str):
    """Iterations ``(O, I)`` of the outer and inner fold loops."""
    checks.one_of("outer_inner_folds", "fold_order", fold_order, FOLD_ORDERS)
    if fold_order == "col_outer":
        return schedule.col_folds, schedule.row_folds
    return schedule.row_folds, schedule.col_folds


def holds(role: str, footprint_words, buffer, outer_folds, inner_folds):
    """Whether an operand's slice ("outer") or whole footprint ("inner") stays in one SRAM half;
    True for "both" (each slice is used by a single fold)."""
    checks.one_of("holds", "role", role, ROLES)
    if role == "both":
        return 0 * footprint_words == 0    # True, shaped like the footprint
    if role == "outer":
        return ceil_div(footprint_words, outer_folds) <= buffer
    return footprint_words <= buffer


def operand_passes(role: str, footprint_words, buffer, outer_folds, inner_folds):
    """How many times an operand crosses the DRAM interface (see the module docstring).

    Args:
      role: "both", "outer" or "inner" (:func:`operand_roles`).
      footprint_words: the operand's unique words per group ``D``.
      buffer: words of one half of its SRAM ``B``.
      outer_folds, inner_folds: iterations ``O`` and ``I`` of the outer and inner fold loops.
    """
    checks.one_of("operand_passes", "role", role, ROLES)
    if role == "both":
        return 0 * footprint_words + 1    # 1, shaped like the footprint
    held = holds(role, footprint_words, buffer, outer_folds, inner_folds)
    return select(held, 1, inner_folds if role == "outer" else outer_folds)


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
    roles = operand_roles(dataflow, fold_order)
    outer_folds, inner_folds = outer_inner_folds(schedule, fold_order)
    footprints = (gemm.ifmap_words, gemm.filter_words, gemm.ofmap_words)
    passes = [operand_passes(role, footprint, buffer, outer_folds, inner_folds)
              for role, footprint, buffer in zip(roles, footprints, buffers)]
    groups = gemm.groups
    return DramTraffic(
        ifmap_passes=passes[0], filter_passes=passes[1], ofmap_passes=passes[2],
        ifmap_dram_reads=groups * passes[0] * gemm.ifmap_words,
        filter_dram_reads=groups * passes[1] * gemm.filter_words,
        ofmap_dram_reads=groups * (passes[2] - 1) * gemm.ofmap_words,
        ofmap_dram_writes=groups * passes[2] * gemm.ofmap_words)


def slice_units(role: str, footprint_words, outer_folds, inner_folds):
    """Words of one slice of an operand, in units of ``1 / F`` word (an integer)."""
    checks.one_of("slice_units", "role", role, ROLES)
    if role == "both":
        return footprint_words
    return footprint_words * (inner_folds if role == "outer" else outer_folds)


def _by_position(role: str, held, units, at_outer_edge, at_inner_edge):
    """Units an operand moves at a fold, when it moves only at an edge of the loop it is
    indexed by (its first fold for loads, its last for drains) while held, and at every fold
    otherwise."""
    if role == "both":
        return units
    edge = at_inner_edge if role == "outer" else at_outer_edge
    return select(held, select(edge, units, 0 * units), units)


def fold_loads(roles, held, units, first_outer, first_inner):
    """Units ``X`` fetched before a fold: missing input slices and partial-sum read-backs.

    Args:
      roles, held, units: per operand (ifmap, filter, ofmap): its role, whether it is held
        (:func:`holds`) and its slice in units (:func:`slice_units`).
      first_outer, first_inner: whether the fold is the first of the outer / of the inner loop.
    """
    loads = 0
    for operand in (0, 1):
        loads = loads + _by_position(roles[operand], held[operand], units[operand], first_outer,
                                     first_inner)
    role, unit = roles[2], units[2]
    if role != "both":
        first_visit = first_inner if role == "outer" else first_outer
        loads = loads + select(held[2], 0 * unit, select(first_visit, 0 * unit, unit))
    return loads


def fold_drains(roles, held, units, last_outer, last_inner):
    """Units ``Y`` written back after a fold (finished or spilled ofmap slices); arguments as
    :func:`fold_loads`, with whether the fold is the last of the outer / of the inner loop."""
    return _by_position(roles[2], held[2], units[2], last_outer, last_inner)


def _loop_classes(iterations):
    """(first, last, how many) for the first, the last and the middle iterations of a loop."""
    one = iterations == 1
    return ((True, one, 0 * iterations + 1),
            (False, True, select(one, 0 * iterations, 0 * iterations + 1)),
            (False, False, maximum(0 * iterations, iterations - 2)))


def stall_cycles(gemm: GemmShape, schedule: FoldSchedule, dataflow: str, fold_order: str,
                 buffers: tuple[int, int, int], dram_bandwidth_words_per_cycle):
    """Cycles the array waits for DRAM in a layer (one fold of look-ahead, module docstring).

    Args:
      gemm, schedule, dataflow, fold_order, buffers: as :func:`dram_traffic`.
      dram_bandwidth_words_per_cycle: words per cycle, ``> 0``; ``math.inf`` gives zero stalls.

    Exact (equal to :mod:`sim.systolic.memory_engine`) when the float64 quotients of the ceilings
    are exact, e.g. for bandwidths that are multiples of a power of two such as 0.25 or 16.
    """
    bandwidth = dram_bandwidth_words_per_cycle
    positive = (bandwidth > 0 if isinstance(bandwidth, (int, float))
                else np.all(np.asarray(bandwidth) > 0))
    if not positive:
        raise ValueError(f"stall_cycles.dram_bandwidth_words_per_cycle must be > 0, "
                         f"got {bandwidth!r}")
    roles = operand_roles(dataflow, fold_order)
    outer_folds, inner_folds = outer_inner_folds(schedule, fold_order)
    footprints = (gemm.ifmap_words, gemm.filter_words, gemm.ofmap_words)
    held = [holds(r, d, b, outer_folds, inner_folds)
            for r, d, b in zip(roles, footprints, buffers)]
    units = [slice_units(r, d, outer_folds, inner_folds) for r, d in zip(roles, footprints)]
    units_per_cycle = schedule.folds * (bandwidth * 1.0)

    def cycles(moved_units):
        return ceil(moved_units / units_per_cycle)

    # X and Y at each (first of the outer loop, first of the inner loop), resp. (last, last).
    flags = ((True, True), (True, False), (False, True), (False, False))
    loads = {f: fold_loads(roles, held, units, *f) for f in flags}
    drains = {f: fold_drains(roles, held, units, *f) for f in flags}

    stall = cycles(loads[True, True]) + cycles(drains[True, True])
    inner_classes = _loop_classes(inner_folds)
    for first_o, last_o, count_o in _loop_classes(outer_folds):
        for first_i, last_i, count_i in inner_classes:
            # Fold k = (o, i): the next fold and the previous one, across loop boundaries. Only
            # ``last_o`` may be an array (a loop of one iteration is both first and last).
            next_loads = select(last_i, select(last_o, 0, loads[False, True]),
                                loads[first_o, False])
            previous_drains = select(first_i, select(first_o, 0, drains[False, True]),
                                     select(last_o, drains[True, False], drains[False, False]))
            waiting = maximum(0, cycles(next_loads + previous_drains) - schedule.cycles_per_fold)
            stall = stall + count_o * count_i * waiting
    return gemm.groups * stall
