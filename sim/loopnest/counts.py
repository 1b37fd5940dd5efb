"""Exact access counts of a mapping, in closed form, with Timeloop's semantics.

Per storage level, per dataspace it keeps, over the instances the mapping uses (Timeloop's
"utilized instances"): reads (served to the child level or the MACs, and to a neighbour over a
link), fills (from the parent level) and updates (Outputs written back by the child). The rules,
stated once here and walked literally by :mod:`sim.loopnest.walker` (the test oracle):

1. **Tiles.** A level's tile of a dataspace is the box its loops and those below it touch
   (:mod:`sim.loopnest.mapping`); a dataspace bypassed by a level goes to the next level out that
   keeps it, and the tiles between them are those of the kept levels (Timeloop masks the rest).
2. **Fills.** A child's tile is refilled only when it changes between consecutive iterations of the
   temporal loops above it (all of them, in nest order): identical -> nothing (stationary reuse);
   moved along one axis, overlapping the previous tile, by the same translation as the previous
   step -> the new slab (the sliding window's delta, e.g. an input halo); otherwise the whole tile.
   What "the previous step" is differs between Timeloop's two sliding-window rules
   (:data:`SLIDING_WINDOW_RULES`). The first tile is filled whole.
3. **Multicast and spatial reduction.** At each step, children under one parent instance whose
   fills are the same box get one parent read (for Outputs, one reduced update); boxes that only
   overlap are not merged.
4. **Links.** A child whose fill is the box its X or Y neighbour (in the fan-out right above it)
   filled one step before gets it from that neighbour: a read at the neighbour instead of a parent
   read. Used per (level, dataspace) when it lowers the parent's reads; Weights and Inputs only,
   and only into levels whose ``links`` are on.
5. **MACs.** The innermost level keeping a dataspace serves one operand per MAC and step, grouped
   across the MAC fan-out as in 3.
6. **Outputs** (read-modify-write, first-read elision): a level's updates are the partial sums it
   delivers to its child (which come back); its reads are those minus the distinct elements one of
   its instances holds over the run (the first touch reads nothing), and a child's fills exclude
   its own distinct elements likewise. Draining to the parent is the parent's update, not a read.
7. The outermost level is never filled.

Timeloop's own nest analysis by default extrapolates a temporal loop from its first two
iterations, which differs from stepping every iteration (rule 2) only when one dimension is split
over two or more loops above a tile that slides; both counts here step every iteration, as
Timeloop does with ``TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import NamedTuple

from sim.loopnest.architecture import LoopNestAccelerator
from sim.loopnest.mapping import LoopNestMapping, kept, tile_extents, validate
from sim.loopnest.problem import DATASPACES, DIMS, Problem, rank_extent

SLIDING_WINDOW_RULES = ("stationary_resets", "stationary_keeps")
"""When a tile moving by the same translation as before is filled by its delta only.

``"stationary_resets"`` (the default; Timeloop before its 2025 change, which most published
reference outputs used): the translation is compared with the previous step's, a stationary step
(translation 0) included, so a stationary step after a moving one, or a moving one after a
stationary one, refills the whole tile. ``"stationary_keeps"`` (Timeloop since 2025,
``OperationSpace::SaveAndSubtractIfSameStride``): stationary steps are skipped in that comparison.
In both, a translation that differs from the remembered one refills the whole tile and forgets
it."""


class Loop(NamedTuple):
    """One loop of the flattened nest."""

    level: int          # storage level index (outermost 0)
    kind: str           # "temporal" or "spatial"
    dim: str
    factor: int
    axis: str | None    # "X" / "Y" for spatial loops


@dataclasses.dataclass(frozen=True)
class AccessCounts:
    """One (level, dataspace): words per action over ``instances`` (the instances used)."""

    level: str
    dataspace: str
    instances: int
    tile_words: int       # one instance's tile
    reads: int
    fills: int
    updates: int


@dataclasses.dataclass(frozen=True)
class LoopNestCounts:
    """Every kept (level, dataspace)'s counts, and the compute side."""

    macs: int
    compute_cycles: int          # temporal iterations: MACs / utilized MACs
    utilized_macs: int
    accesses: tuple[AccessCounts, ...]

    def of(self, level: str, dataspace: str) -> AccessCounts | None:
        """The counts of ``dataspace`` at ``level`` (``None`` if the level does not keep it)."""
        return next((a for a in self.accesses if a.level == level and a.dataspace == dataspace),
                    None)


def nest_loops(mapping: LoopNestMapping) -> list[Loop]:
    """The whole nest outermost first: per level, its temporal loops then its spatial loops."""
    loops = []
    for index, level in enumerate(mapping.levels):
        loops += [Loop(index, "temporal", d, f, None) for d, f in level.temporal if f > 1]
        loops += [Loop(index, "spatial", d, f, a) for d, f, a in level.spatial if f > 1]
    return loops


def aahr_delta(previous, box):
    """``box`` minus ``previous`` as Timeloop's axis-aligned hyper-rectangles subtract: ``None``
    if equal, the slab that is new if they differ along one axis and overlap, else all of ``box``
    (boxes: per rank ``(low, high)``, high exclusive)."""
    if previous == box:
        return None
    differ = [a for a, (p, b) in enumerate(zip(previous, box, strict=True)) if p != b]
    if len(differ) != 1:
        return box
    a = differ[0]
    (plo, phi), (blo, bhi) = previous[a], box[a]
    if bhi <= plo or blo >= phi or (bhi - blo) != (phi - plo):
        return box
    slab = (phi, bhi) if blo > plo else (blo, plo)
    return box[:a] + (slab,) + box[a + 1:]


# -- the closed form ------------------------------------------------------------------------------

def _op_strides(loops: list[Loop]) -> list[int]:
    """Each loop's step in the operation space: the factors of its dimension inside it."""
    return [math.prod(inner.factor for inner in loops[i + 1:] if inner.dim == loop.dim)
            for i, loop in enumerate(loops)]


def _translation(problem: Problem, dataspace: str, dim: str, step: int) -> tuple[int, ...]:
    """How far (per rank) a dataspace box moves when ``dim``'s offset grows by ``step``."""
    return tuple(sum(c * step for d, c in rank if d == dim)
                 for rank in problem.projection(dataspace))


class _Geometry(NamedTuple):
    extents: tuple[int, ...]       # the tile's extent per rank
    size: int


def _delta(geometry: _Geometry, translation) -> tuple[int, tuple | None]:
    """Words filled, and the filled box relative to the new tile (``(lows, extents)``; ``None`` if
    nothing), when the tile moves by ``translation`` and may keep the overlap."""
    if not any(translation):
        return 0, None
    moved = [a for a, t in enumerate(translation) if t]
    extents = geometry.extents
    if len(moved) == 1 and abs(translation[moved[0]]) < extents[moved[0]]:
        a, t = moved[0], translation[moved[0]]
        lows = tuple((extents[a] - t if t > 0 else 0) if i == a else 0
                     for i in range(len(extents)))
        widths = tuple(abs(t) if i == a else e for i, e in enumerate(extents))
        return math.prod(widths), (lows, widths)
    return geometry.size, _whole(geometry)


def _whole(geometry: _Geometry):
    return (tuple(0 for _ in geometry.extents), geometry.extents)


def _step(rule: str, geometry: _Geometry, state, translation):
    """One step of the sliding-window rule: (words, relative filled box, new state)."""
    if rule == "stationary_keeps" and not any(translation):
        return 0, None, state
    if state is None or state == translation:
        words, box = _delta(geometry, translation)
        return words, box, translation
    return geometry.size, _whole(geometry), None


class _Walk(NamedTuple):
    """The fills of one child instance over the run, and what links could carry."""

    fills: int
    steps: tuple          # ((link vector or None, words, count), ...) per kind of step


def _child_walk(rule: str, geometry: _Geometry, translations, factors) -> _Walk:
    """Fills of one child instance whose temporal loops above (outer to inner) move its tile by
    ``translations`` per step and have ``factors``; by a memoized sweep of the loops (the tile at a
    step of loop j moves by that loop's translation minus the wrap-around of the loops inside)."""
    steps = []
    for j, t in enumerate(translations):
        wrap = [sum((factors[i] - 1) * translations[i][r] for i in range(j + 1, len(factors)))
                for r in range(len(t))]
        steps.append(tuple(a - w for a, w in zip(t, wrap, strict=True)))
    @functools.cache
    def sweep(j, state, last):
        """Words filled over a sweep of loops j..end (its first tile excluded), the state and
        last filled box after it, and its link tallies ({(vector, words): count})."""
        if j == len(factors):
            return 0, state, last, ()
        words = 0
        links: dict = {}
        for index in range(factors[j]):
            if index:
                filled, box, state = _step(rule, geometry, state, steps[j])
                words += filled
                if filled:
                    vector = _link_vector(steps[j], box, last)
                    links[(vector, filled)] = links.get((vector, filled), 0) + 1
                last = box
            inner, state, last, inner_links = sweep(j + 1, state, last)
            words += inner
            for key, count in inner_links:
                links[key] = links.get(key, 0) + count
        return words, state, last, tuple(links.items())

    words, _, _, links = sweep(0, None, _whole(geometry))
    return _Walk(fills=geometry.size + words,
                 steps=tuple((vector, filled, count) for (vector, filled), count in links))


def _link_vector(translation, box, last):
    """The offset a neighbour must have for this step's filled box to be the one it filled a step
    before (``None`` if the two boxes differ in shape or the previous step filled nothing)."""
    if last is None or box[1] != last[1]:
        return None
    return tuple(t + b - p for t, b, p in zip(translation, box[0], last[0], strict=True))


def _spatial_offsets(problem, dataspace, loops, strides, chosen):
    """Every child's box offset (per rank) over the spatial loops ``chosen`` (indices into
    ``loops``), keyed by the loops' index tuple."""
    offsets = {}
    for index in itertools.product(*(range(loops[i].factor) for i in chosen)):
        offset = dict.fromkeys(DIMS, 0)
        for i, k in zip(chosen, index, strict=True):
            offset[loops[i].dim] += k * strides[i]
        offsets[index] = tuple(sum(c * offset[d] for d, c in rank)
                               for rank in problem.projection(dataspace))
    return offsets


def _link_plan(offsets, chosen, siblings, loops, vectors):
    """For each link vector: how many children get their fill over a link, and how many distinct
    boxes the others need from the parent (children keyed as in :func:`_spatial_offsets`)."""
    position = {}
    for index in offsets:
        coordinates = {"X": 0, "Y": 0}
        rest = []
        for i, k in zip(chosen, index, strict=True):
            if i in siblings:
                axis = loops[i].axis
                coordinates[axis] = coordinates[axis] * loops[i].factor + k
            else:
                rest.append(k)
        position[index] = (coordinates["X"], coordinates["Y"], tuple(rest))
    at = {p: index for index, p in position.items()}
    plan = {}
    for vector in vectors:
        linked = set()
        if vector is not None:
            for index, (x, y, rest) in position.items():
                for nx, ny in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
                    n = at.get((nx, ny, rest))
                    if n is not None and tuple(
                            a - b for a, b in zip(offsets[n], offsets[index], strict=True)) \
                            == vector:
                        linked.add(index)
                        break
        rest_boxes = {offsets[i] for i in offsets if i not in linked}
        plan[vector] = (len(linked), len(rest_boxes))
    return plan


def access_counts(problem: Problem, accelerator: LoopNestAccelerator, mapping: LoopNestMapping,
                  rule: str = SLIDING_WINDOW_RULES[0]) -> LoopNestCounts:
    """Every kept (level, dataspace)'s reads, fills and updates (module docstring), exactly."""
    validate(problem, accelerator, mapping)
    if rule not in SLIDING_WINDOW_RULES:
        raise ValueError(f"access_counts.rule must be one of {list(SLIDING_WINDOW_RULES)}, got "
                         f"{rule!r}")
    loops = nest_loops(mapping)
    strides = _op_strides(loops)
    keeps = kept(accelerator, mapping)
    count = len(accelerator.levels)
    compute_cycles = math.prod(loop.factor for loop in loops if loop.kind == "temporal")
    used = [math.prod(loop.factor for loop in loops if loop.kind == "spatial" and loop.level < i)
            for i in range(count + 1)]
    tally = {(i, d): [0, 0, 0] for i in range(count) for d in DATASPACES}     # reads fills updates
    for dataspace in DATASPACES:
        chain = [i for i in range(count) if dataspace in keeps[i]]
        for parent, child in zip(chain, [*chain[1:], count], strict=True):
            links = child < count and accelerator.levels[child].links
            _count_pair(problem, loops, strides, dataspace, parent, child, count, rule, used,
                        compute_cycles, mapping, tally, links)
    rows = []
    for i, level in enumerate(accelerator.levels):
        extents = tile_extents(mapping, i)
        for dataspace in DATASPACES:
            if dataspace in keeps[i]:
                reads, fills, updates = tally[(i, dataspace)]
                rows.append(AccessCounts(level=level.name, dataspace=dataspace, instances=used[i],
                                         tile_words=problem.tile_words(dataspace, extents),
                                         reads=reads, fills=0 if i == 0 else fills,
                                         updates=updates))
    return LoopNestCounts(macs=problem.macs, compute_cycles=compute_cycles,
                          utilized_macs=used[count], accesses=tuple(rows))


def _partition(problem: Problem, loops: list[Loop], index: int) -> int:
    """Distinct Outputs elements one instance of level ``index`` holds over the run."""
    relevant = problem.relevant("Outputs")
    split = math.prod(loop.factor for loop in loops
                      if loop.kind == "spatial" and loop.level < index and loop.dim in relevant)
    return problem.size_words("Outputs") // split


def _count_pair(problem, loops, strides, dataspace, parent, child, count, rule, used,
                compute_cycles, mapping, tally, may_link):
    """Adds the transfers between kept ``parent`` and ``child`` (``count``: the MACs)."""
    is_mac = child == count
    chosen = [i for i, loop in enumerate(loops)
              if loop.kind == "spatial" and parent <= loop.level < child]
    offsets = _spatial_offsets(problem, dataspace, loops, strides, chosen)
    distinct = len(set(offsets.values()))
    parents = used[parent]
    if is_mac:
        per_child, links = compute_cycles, 0
        served = compute_cycles * distinct
    else:
        extents = tile_extents(mapping, child)
        ranks = tuple(rank_extent(rank, extents) for rank in problem.projection(dataspace))
        geometry = _Geometry(ranks, math.prod(ranks))
        above = [i for i, loop in enumerate(loops) if loop.kind == "temporal" and loop.level < child]
        walk = _child_walk(rule, geometry,
                           [_translation(problem, dataspace, loops[i].dim, strides[i])
                            for i in above],
                           [loops[i].factor for i in above])
        per_child = walk.fills
        served, links = per_child * distinct, 0
        siblings = {i for i in chosen if loops[i].level == child - 1}
        if dataspace != "Outputs" and siblings and may_link:
            plan = _link_plan(offsets, chosen, siblings, loops, {v for v, _, _ in walk.steps})
            first = geometry.size * distinct
            linked_served = first + sum(words * n * plan[v][1] for v, words, n in walk.steps)
            if linked_served < served:
                served = linked_served
                links = sum(words * n * plan[v][0] for v, words, n in walk.steps)
    children = len(offsets)
    if dataspace == "Outputs":
        tally[(parent, dataspace)][2] += served * parents
        tally[(parent, dataspace)][0] += (served - _partition(problem, loops, parent)) * parents
        if not is_mac:
            tally[(child, dataspace)][1] += (
                (per_child - _partition(problem, loops, child)) * children * parents)
    else:
        tally[(parent, dataspace)][0] += served * parents
        if not is_mac:
            tally[(child, dataspace)][1] += per_child * children * parents
            tally[(child, dataspace)][0] += links * parents
