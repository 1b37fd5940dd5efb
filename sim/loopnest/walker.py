"""A brute-force loop-nest walker: the test oracle for :mod:`sim.loopnest.counts`.

It steps through every iteration of the nest for every instance, as Timeloop's nest analysis would
if it did not extrapolate (``TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION``), builds each tile as a box
of the dataspace, and applies the counting rules literally:

- a child's tile is compared with its previous tile (the one of the previous iteration of all the
  temporal loops above it, in their nest order): identical -> no fill (stationary reuse); different
  in exactly one axis and overlapping -> the new slab is filled (the sliding window's delta), if
  the translation is the one of the previous step (:data:`SLIDING_WINDOW_RULES` say what counts as
  the previous step); otherwise the whole tile is filled;
- at each step, children under one parent instance whose fills are the very same box are served by
  one parent read (multicast; for Outputs: spatially reduced into one update); a child whose fill
  is the box its X or Y neighbour filled in the previous step gets it over the link instead of from
  the parent (Weights and Inputs, between siblings of one fan-out), if that lowers the parent's
  reads over the run, into levels whose ``links`` are on;
- the MACs read one operand of each kind per MAC, grouped the same way across the MAC fan-out;
- Outputs are read-modify-written with first-read elision: a level's updates are what it delivers
  to its child, its reads those minus the distinct elements an instance holds over the run, and a
  child's fills from the parent exclude those distinct elements too; the outermost level is never
  filled.

It is slow (every iteration, every instance, explicit sets) and meant for tiny problems only.
"""

from __future__ import annotations

import itertools
import math

from sim.loopnest.architecture import LoopNestAccelerator
from sim.loopnest.counts import (
    SLIDING_WINDOW_RULES,
    AccessCounts,
    LoopNestCounts,
    aahr_delta,
    nest_loops,
)
from sim.loopnest.mapping import LoopNestMapping, kept, tile_extents, validate
from sim.loopnest.problem import DATASPACES, DIMS, Problem, rank_extent


def _box(problem: Problem, dataspace: str, offset: dict[str, int], extents: dict[str, int]):
    """The dataspace box (per rank: low, high exclusive) of an op-space box at ``offset``."""
    box = []
    for rank in problem.projection(dataspace):
        low = sum(c * offset[d] for d, c in rank)
        box.append((low, low + rank_extent(rank, extents)))
    return tuple(box)


def _points(box) -> frozenset:
    return frozenset(itertools.product(*(range(lo, hi) for lo, hi in box)))


def _size(box) -> int:
    return 0 if box is None else math.prod(hi - lo for lo, hi in box)


def _translation(previous, box):
    return tuple(b[0] - p[0] for p, b in zip(previous, box, strict=True))


class _History:
    """One instance's tile history under a sliding-window rule."""

    def __init__(self, rule: str):
        self.rule = rule
        self.box = None
        self.step = None          # the remembered translation (None: none)

    def fill(self, box):
        """The box filled when the tile becomes ``box`` (``None``: nothing)."""
        previous, self.box = self.box, box
        if previous is None:
            return box
        translation = _translation(previous, box)
        stationary = not any(translation)
        if self.rule == "stationary_keeps" and stationary:
            return aahr_delta(previous, box)
        if self.step is None or self.step == translation:
            self.step = translation
            return aahr_delta(previous, box)
        self.step = None
        return box


def walk(problem: Problem, accelerator: LoopNestAccelerator, mapping: LoopNestMapping,
         rule: str = SLIDING_WINDOW_RULES[0]) -> LoopNestCounts:
    """Every level's reads, fills and updates per dataspace, by stepping through the nest."""
    validate(problem, accelerator, mapping)
    if rule not in SLIDING_WINDOW_RULES:
        raise ValueError(f"walk.rule must be one of {list(SLIDING_WINDOW_RULES)}, got {rule!r}")
    loops = nest_loops(mapping)
    # each loop's stride in the operation space: the factors of its dimension inside it
    strides = []
    for i, (_, _, dim, _, _) in enumerate(loops):
        strides.append(math.prod(f for (_, _, d, f, _) in loops[i + 1:] if d == dim))
    keeps = kept(accelerator, mapping)
    levels = len(accelerator.levels)
    counts = {(lv.name, d): {"reads": 0, "fills": 0, "updates": 0}
              for lv in accelerator.levels for d in DATASPACES}
    for dataspace in DATASPACES:
        chain = [i for i in range(levels) if dataspace in keeps[i]]
        for parent, child in zip(chain, [*chain[1:], levels], strict=True):
            _pair(problem, accelerator, mapping, loops, strides, dataspace, parent, child, rule,
                  counts)
    return _assemble(problem, accelerator, mapping, loops, counts, keeps)


def _offset(loops, strides, indices) -> dict[str, int]:
    offset = dict.fromkeys(DIMS, 0)
    for (loop, stride, index) in zip(loops, strides, indices, strict=True):
        offset[loop[2]] += index * stride
    return offset


def _pair(problem, accelerator, mapping, loops, strides, dataspace, parent, child, rule, counts):
    """Counts the transfers between kept ``parent`` and ``child`` (``child == len(levels)``: the
    MACs) for one dataspace, into ``counts``."""
    is_mac = child == len(accelerator.levels)
    above = [i for i, loop in enumerate(loops) if loop[0] < child]
    temporal = [i for i in above if loops[i][1] == "temporal"]
    outer_spatial = [i for i in above if loops[i][1] == "spatial" and loops[i][0] < parent]
    inner_spatial = [i for i in above if loops[i][1] == "spatial" and loops[i][0] >= parent]
    extents = dict.fromkeys(DIMS, 1) if is_mac else tile_extents(mapping, child)
    # a MAC's "tile" is one point, every iteration of every loop a new access
    if is_mac:
        temporal = [i for i, loop in enumerate(loops) if loop[1] == "temporal"]
        inner_spatial = [i for i, loop in enumerate(loops)
                         if loop[1] == "spatial" and loop[0] >= parent]
    ranges = {i: range(loops[i][3]) for i in range(len(loops))}
    parent_name = accelerator.levels[parent].name
    child_name = None if is_mac else accelerator.levels[child].name
    # siblings of one fan-out (the spatial loops of the level right above the child) sit on a grid
    sibling_loops = [i for i in inner_spatial if loops[i][0] == child - 1]
    for outer in itertools.product(*(ranges[i] for i in outer_spatial)):
        children = list(itertools.product(*(ranges[i] for i in inner_spatial)))
        histories = {c: _History(rule) for c in children}
        holds = {c: set() for c in children}
        per_step = []       # per step: {child: filled box or None}
        for steps in itertools.product(*(ranges[i] for i in temporal)):
            fills = {}
            for c in children:
                index = dict(zip(outer_spatial, outer, strict=True))
                index.update(zip(inner_spatial, c, strict=True))
                index.update(zip(temporal, steps, strict=True))
                full = [index.get(i, 0) for i in range(len(loops))]
                box = _box(problem, dataspace, _offset(loops, strides, full), extents)
                if dataspace == "Outputs":
                    holds[c] |= _points(box)
                fills[c] = box if is_mac else histories[c].fill(box)
            per_step.append(fills)
        parent_reads = _served(per_step, children, [])
        links = 0
        if dataspace != "Outputs" and not is_mac and sibling_loops and \
                accelerator.levels[child].links:
            linked, link_reads = _links(per_step, children, inner_spatial, sibling_loops, loops)
            if link_reads < parent_reads:
                parent_reads, links = link_reads, linked
        child_fills = sum(_size(f[c]) for f in per_step for c in children)
        if dataspace == "Outputs":
            # delivered psums come back as updates; the first touch of an element reads nothing
            counts[(parent_name, "Outputs")]["updates"] += parent_reads
            counts[(parent_name, "Outputs")]["reads"] += (
                parent_reads - len(set().union(*holds.values())))
            if child_name is not None:
                counts[(child_name, "Outputs")]["fills"] += (
                    child_fills - sum(len(h) for h in holds.values()))
        else:
            counts[(parent_name, dataspace)]["reads"] += parent_reads
            if child_name is not None:
                counts[(child_name, dataspace)]["fills"] += child_fills
                counts[(child_name, dataspace)]["reads"] += links


def _served(per_step, children, linked_steps):
    """Parent reads: per step, one read per distinct box among the children it serves."""
    total = 0
    for t, fills in enumerate(per_step):
        skip = linked_steps[t] if linked_steps else set()
        boxes = {fills[c] for c in children if fills[c] is not None and c not in skip}
        total += sum(_size(b) for b in boxes)
    return total


def _links(per_step, children, inner_spatial, sibling_loops, loops):
    """Fills a sibling had in the previous step (X or Y neighbour): how many words come over
    links, and the parent reads that remain."""
    positions = {}
    for c in children:
        index = dict(zip(inner_spatial, c, strict=True))
        coordinates = {"X": 0, "Y": 0}
        for i in sibling_loops:           # mixed radix, outer spatial loop most significant
            axis = loops[i][4]
            coordinates[axis] = coordinates[axis] * loops[i][3] + index[i]
        positions[c] = (coordinates["X"], coordinates["Y"], tuple(
            v for i, v in zip(inner_spatial, c, strict=True) if i not in sibling_loops))
    by_position = {p: c for c, p in positions.items()}
    linked_steps, words = [], 0
    for t, fills in enumerate(per_step):
        linked = set()
        if t > 0:
            previous = per_step[t - 1]
            for c in children:
                if fills[c] is None:
                    continue
                x, y, rest = positions[c]
                for nx, ny in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
                    n = by_position.get((nx, ny, rest))
                    if n is not None and previous[n] == fills[c]:
                        linked.add(c)
                        words += _size(fills[c])
                        break
        linked_steps.append(linked)
    return words, _served(per_step, children, linked_steps)


def _assemble(problem, accelerator, mapping, loops, counts, keeps) -> LoopNestCounts:
    """The walker's tallies as :class:`LoopNestCounts` (per-instance figures from totals)."""
    rows = []
    for i, level in enumerate(accelerator.levels):
        used = math.prod(loop[3] for loop in loops if loop[1] == "spatial" and loop[0] < i)
        extents = tile_extents(mapping, i)
        for dataspace in DATASPACES:
            tally = counts[(level.name, dataspace)]
            if dataspace not in keeps[i]:
                continue
            fills = 0 if i == 0 else tally["fills"]
            rows.append(AccessCounts(
                level=level.name, dataspace=dataspace, instances=used,
                tile_words=problem.tile_words(dataspace, extents),
                reads=tally["reads"], fills=fills, updates=tally["updates"]))
    temporal = math.prod(loop[3] for loop in loops if loop[1] == "temporal")
    return LoopNestCounts(macs=problem.macs, compute_cycles=temporal,
                          utilized_macs=problem.macs // temporal, accesses=tuple(rows))
