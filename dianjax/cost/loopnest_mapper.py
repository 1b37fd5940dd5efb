"""The mapping search of the loop-nest template: the best mapping of one layer on one accelerator.

Candidates are drawn on the host in numpy and counted and priced in one jitted call per batch by
:mod:`dianjax.cost.loopnest` (sim's counts, for the whole batch at once):

1. spatial loops: given (``spatial=``), or per fan-out axis one dimension unrolled by its largest
   divisor that fits (or none), drawn uniformly;
2. temporal tiling: per dimension, an ordered factorization of what the spatial loops leave over
   the levels that hold temporal loops, drawn uniformly among all of them; candidates whose tiles
   do not fit are dropped before counting;
3. loop order per level: one of the canonical stationary orders (:data:`ORDERS`: weights,
   inputs or outputs stay put under the innermost loops) or a uniformly random permutation;
4. the best ``elites`` candidates are refined for ``rounds`` rounds: each mutant moves one prime
   factor of one dimension between two levels or redraws one level's order.

Kept dataspaces are the architecture's unless ``keep=`` names what some levels keep (no bypass
search). The winner is returned as a
:class:`sim.LoopNestMapping` together with sim's exact report of it (so what is returned is sim's
figure, not the array model's). Where the candidate space is small enough (``exhaustive_limit``)
every tiling with every canonical order is counted instead of sampling.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import time
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dianjax.cost import loopnest as arrays
from sim.loopnest import (
    DATASPACES,
    DIMS,
    LevelMapping,
    LoopNestAccelerator,
    LoopNestEnergyTable,
    LoopNestLayerReport,
    LoopNestMapping,
    Problem,
    evaluate,
)
from sim.loopnest.mapping import validate

OBJECTIVES = ("edp", "energy", "latency")

ORDERS = {
    "weights_stationary": ("G", "M", "C", "S", "R", "N", "Q", "P"),
    "inputs_stationary": ("G", "N", "C", "Q", "P", "S", "R", "M"),
    "outputs_stationary": ("G", "N", "M", "Q", "P", "C", "S", "R"),
    "outputs_stationary_rows": ("G", "N", "M", "C", "Q", "P", "S", "R"),
}
"""Loop orders (outer to inner) whose innermost loops leave one dataspace's tile in place: N, P, Q
do not index Weights, M does not index Inputs, C, R, S do not index Outputs."""

_BATCH = 2048
_MIN_BATCH = 256


@dataclasses.dataclass(frozen=True)
class MapperResult:
    """The best mapping found, sim's report of it, and what the search did."""

    mapping: LoopNestMapping
    report: LoopNestLayerReport
    objective: str
    candidates: int          # counted by the array model
    valid: int               # of which tiles and spatial loops fit
    seconds: float


def _prime_factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return [*out, n] if n > 1 else out


def _smallest_primes(largest: int) -> np.ndarray:
    """``[n] -> the smallest prime factor of n`` for n < ``largest`` (1 for 0 and 1): a sieve."""
    table = np.arange(max(largest, 2))
    for d in range(2, int(largest ** 0.5) + 1):
        if table[d] == d:
            multiples = table[d * d::d]
            table[d * d::d] = np.where(multiples == np.arange(d * d, largest, d), d, multiples)
    table[:2] = 1
    return table


@functools.cache
def _factorizations(n: int, parts: int) -> np.ndarray:
    """Every ordered factorization of ``n`` into ``parts`` factors, [count, parts]."""
    if parts == 1:
        return np.array([[n]], np.int64)
    rows = []
    for d in range(1, n + 1):
        if n % d == 0:
            for rest in _factorizations(n // d, parts - 1):
                rows.append([d, *rest])
    return np.array(rows, np.int64)


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


class _Space:
    """What a candidate of one (problem, accelerator) may be."""

    def __init__(self, problem: Problem, accelerator: LoopNestAccelerator, spatial, keep=None):
        self.accelerator = accelerator
        self.levels = len(accelerator.levels)
        self.bounds = np.array([problem.bounds[d] for d in DIMS], np.int64)
        self.temporal_levels = [i for i, lv in enumerate(accelerator.levels)
                                if lv.component != "container"]
        keep = dict(keep or {})
        names = [lv.name for lv in accelerator.levels]
        unknown = sorted(set(keep) - set(names))
        if unknown:
            raise ValueError(f"search_mappings.keep names unknown level(s) {unknown}; allowed: "
                             f"{names}")
        for name, kept in keep.items():
            allowed = accelerator.levels[names.index(name)].keeps
            if isinstance(kept, str) or not set(kept) <= set(allowed):
                raise ValueError(f"search_mappings.keep[{name!r}] must be a tuple of dataspaces "
                                 f"among {list(allowed)}, got {kept!r}")
        self.keep = np.array([[ds in keep.get(lv.name, lv.keeps) for ds in DATASPACES]
                              for lv in accelerator.levels], bool)
        self.depth = np.array([np.inf if lv.depth_words is None else lv.depth_words
                               for lv in accelerator.levels], np.float64)
        self.projection = arrays.problem_arrays(problem).projection
        self.orders = np.array([[DIMS.index(d) for d in order] for order in ORDERS.values()])
        self.spatial_options = self._spatial_options(spatial)
        self.smallest_prime = _smallest_primes(int(self.bounds.max()) + 1)

    def _spatial_options(self, spatial) -> list[np.ndarray]:
        """Every spatial choice as ([L, NDIM] factors, [L, NDIM] axes), as a list of pairs."""
        if spatial is not None:
            factors = np.ones((self.levels, len(DIMS)), np.int64)
            axes = np.zeros((self.levels, len(DIMS)), np.int64)
            names = [lv.name for lv in self.accelerator.levels]
            for name, loops in dict(spatial).items():
                if name not in names:
                    raise ValueError(f"search_mappings.spatial names unknown level {name!r}; "
                                     f"allowed: {names}")
                i = names.index(name)
                level = LevelMapping(spatial=tuple(loops))     # checks dims, factors, axes
                for dim, factor, axis in level.spatial:
                    factors[i, DIMS.index(dim)] = factor
                    axes[i, DIMS.index(dim)] = "XY".index(axis)
                for axis, fan in zip("XY", self.accelerator.fanout(i), strict=True):
                    used = level.factor_on(axis)
                    if used > fan:
                        raise ValueError(f"search_mappings.spatial[{name!r}]: the {axis} factors "
                                         f"multiply to {used}, more than the fan-out {fan}")
            uneven = [DIMS[d] for d in range(len(DIMS))
                      if self.bounds[d] % factors[:, d].prod()]
            if uneven:
                raise ValueError(f"search_mappings.spatial: the factors of {uneven} do not divide "
                                 f"the problem's bounds {dict(zip(DIMS, self.bounds.tolist()))}")
            return [(factors, axes)]
        slots = [(i, a, f) for i in range(self.levels)
                 for a, f in enumerate(self.accelerator.fanout(i)) if f > 1]
        options = []
        for choice in itertools.product(*[[None, *range(len(DIMS))] for _ in slots]):
            factors = np.ones((self.levels, len(DIMS)), np.int64)
            axes = np.zeros((self.levels, len(DIMS)), np.int64)
            left = self.bounds.copy()
            ok = True
            for (level, axis, fan), dim in zip(slots, choice, strict=True):
                if dim is None:
                    continue
                if factors[level, dim] > 1 or left[dim] == 1:   # one loop per dim per level
                    ok = False
                    break
                factor = _largest_divisor_at_most(int(left[dim]), fan)
                if factor == 1:
                    ok = False
                    break
                factors[level, dim], axes[level, dim] = factor, axis
                left[dim] //= factor
            if ok:
                options.append((factors, axes))
        return options

    def tile_words(self, temporal, spatial) -> np.ndarray:
        """[B, L, 3] every level's tile of every dataspace."""
        below = np.cumprod((temporal * spatial)[:, ::-1], axis=1)[:, ::-1]
        extent = np.einsum("drk,blk->bldr", self.projection, below - 1) + 1
        return extent.prod(axis=-1)

    def fits(self, temporal, spatial) -> np.ndarray:
        words = (self.tile_words(temporal, spatial) * self.keep[None]).sum(axis=-1)
        return np.all(words <= self.depth[None], axis=1)

    def sample(self, rng: np.random.Generator, count: int):
        """``count`` random candidates (temporal, order, spatial, axis)."""
        pick = rng.integers(len(self.spatial_options), size=count)
        spatial = np.stack([self.spatial_options[k][0] for k in pick])
        axis = np.stack([self.spatial_options[k][1] for k in pick])
        temporal = np.ones((count, self.levels, len(DIMS)), np.int64)
        left = self.bounds[None, :] // spatial.prod(axis=1)
        parts = len(self.temporal_levels)
        for dim in range(len(DIMS)):
            for value in np.unique(left[:, dim]):
                rows = np.nonzero(left[:, dim] == value)[0]
                table = _factorizations(int(value), parts)
                chosen = table[rng.integers(len(table), size=len(rows))]
                temporal[rows[:, None], np.array(self.temporal_levels)[None, :], dim] = chosen
        order = self._orders(rng, count)
        return temporal, order, spatial, axis

    def _orders(self, rng, count):
        canonical = self.orders[rng.integers(len(self.orders), size=(count, self.levels))]
        random = np.argsort(rng.random((count, self.levels, len(DIMS))), axis=-1)
        use_random = rng.random((count, self.levels, 1)) < 0.3
        return np.where(use_random, random, canonical)

    def exhaustive_size(self) -> int:
        """How many tilings :meth:`exhaustive` would list (counted, not listed)."""
        parts = len(self.temporal_levels)
        return sum(math.prod(len(_factorizations(int(v), parts))
                             for v in self.bounds // spatial.prod(axis=0))
                   for spatial, _ in self.spatial_options)

    def exhaustive(self):
        """Every tiling x spatial option (check :meth:`exhaustive_size` first)."""
        parts = len(self.temporal_levels)
        rows = []
        for spatial, axis in self.spatial_options:
            left = self.bounds // spatial.prod(axis=0)
            per_dim = [_factorizations(int(v), parts) for v in left]
            for combo in itertools.product(*per_dim):
                temporal = np.ones((self.levels, len(DIMS)), np.int64)
                temporal[self.temporal_levels] = np.array(combo).T
                rows.append((temporal, spatial, axis))
        return rows

    def mutate(self, rng, temporal, order):
        """One mutant per row: a prime factor moved between levels, or one level re-ordered."""
        temporal, order = temporal.copy(), order.copy()
        count = len(temporal)
        levels = np.array(self.temporal_levels)
        rows = np.arange(count)
        split = temporal[:, levels]                                          # [B, T, NDIM]
        movable = split.prod(axis=1) > 1                                     # [B, NDIM]
        move = (rng.random(count) < 0.7) & movable.any(axis=1)
        dim = np.argmax(np.where(movable, rng.random(movable.shape), -1), axis=1)
        holders = split[rows, :, dim] > 1                                    # [B, T]
        source = levels[np.argmax(np.where(holders, rng.random(holders.shape), -1), axis=1)]
        target = levels[rng.integers(len(levels), size=count)]
        prime = self.smallest_prime[temporal[rows, source, dim]]
        moved = rows[move]
        temporal[moved, source[move], dim[move]] //= prime[move]
        temporal[moved, target[move], dim[move]] *= prime[move]
        redo = np.nonzero(~move)[0]
        if len(redo):
            level = rng.integers(self.levels, size=len(redo))
            order[redo, level] = self._orders(rng, len(redo))[np.arange(len(redo)), level]
        return temporal, order

@functools.partial(jax.jit, static_argnames=("objective",))
def _score(problem, mapping, prices, objective):
    _, cost = arrays.evaluate_batch(problem, mapping, prices)
    value = {"edp": cost.edp_pj_s, "energy": cost.energy_pj, "latency": cost.cycles}[objective]
    return jnp.where(cost.valid, value, jnp.inf)


def _evaluate(space, problem, prices, objective, temporal, order, spatial, axis):
    keep = np.broadcast_to(space.keep, (len(temporal), *space.keep.shape))
    scores = []
    for start in range(0, len(temporal), _BATCH):
        chunk = slice(start, start + _BATCH)
        size = len(temporal[chunk])
        pad = max(_MIN_BATCH, 1 << (size - 1).bit_length()) - size   # few shapes to compile

        def padded(a, pad=pad):
            return np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) if pad else a

        t, o, s, x, k = (padded(a[chunk]) for a in (temporal, order, spatial, axis, keep))
        distinct = arrays.distinct_children(problem, t, s, k)
        mapping = arrays.MappingArrays(t, o, s, x, k, distinct)
        scores.append(np.asarray(_score(problem, mapping, prices, objective))[:size])
    return np.concatenate(scores) if scores else np.zeros(0)


def canonical(temporal, order, spatial, axis):
    """Candidates with what does not change their loop nest made equal: each level's factor-1
    dimensions ordered last, in dimension order; the axis of factor-1 spatial loops X."""
    ordered = np.take_along_axis(temporal, order, axis=-1)
    key = np.where(ordered > 1, np.arange(order.shape[-1]), order.shape[-1] + order)
    order = np.take_along_axis(order, np.argsort(key, axis=-1), axis=-1)
    return temporal, order, spatial, np.where(spatial > 1, axis, 0)


def to_mapping(accelerator: LoopNestAccelerator, temporal, order, spatial, axis,
               keep: Mapping[str, Sequence[str]] | None = None) -> LoopNestMapping:
    """One candidate's arrays as a :class:`sim.LoopNestMapping` (factor-1 loops dropped; ``keep``:
    the levels that keep less than the architecture lets them, as in :func:`search_mappings`)."""
    keep = dict(keep or {})
    levels = []
    for i in range(len(accelerator.levels)):
        loops = tuple((DIMS[d], int(temporal[i, d])) for d in order[i] if temporal[i, d] > 1)
        space = tuple((DIMS[d], int(spatial[i, d]), "XY"[int(axis[i, d])])
                      for d in range(len(DIMS)) if spatial[i, d] > 1)
        name = accelerator.levels[i].name
        levels.append(LevelMapping(temporal=loops, spatial=space,
                                   keep=tuple(keep[name]) if name in keep else None))
    return LoopNestMapping(tuple(levels))


def _search(problem, accelerator, objective, table, samples, rounds, elites, spatial, keep,
            exhaustive_limit, seed):
    """The candidate pool (temporal, order, spatial, axis, scores), how many candidates were
    counted and how many of those were valid."""
    if objective not in OBJECTIVES:
        raise ValueError(f"search_mappings.objective must be one of {list(OBJECTIVES)}, got "
                         f"{objective!r}")
    arrays.check_supported(accelerator)
    space = _Space(problem, accelerator, spatial, keep)
    if not space.spatial_options:
        raise ValueError(f"search_mappings: no spatial choice fits {accelerator.name!r}")
    problem_arrays = arrays.problem_arrays(problem)
    prices = arrays.level_prices(accelerator, table)
    rng = np.random.default_rng(seed)
    canonical_orders = len(space.orders) ** space.levels
    if exhaustive_limit and space.exhaustive_size() * canonical_orders <= exhaustive_limit:
        tilings = space.exhaustive()
        temporal = np.stack([t for t, _, _ in tilings])
        spatial_a = np.stack([s for _, s, _ in tilings])
        axis = np.stack([a for _, _, a in tilings])
        fit = space.fits(temporal, spatial_a)
        temporal, spatial_a, axis = temporal[fit], spatial_a[fit], axis[fit]
        combos = np.array(list(itertools.product(range(len(space.orders)), repeat=space.levels)))
        n = len(temporal)
        temporal = np.repeat(temporal, len(combos), axis=0)
        spatial_a = np.repeat(spatial_a, len(combos), axis=0)
        axis = np.repeat(axis, len(combos), axis=0)
        order = space.orders[np.tile(combos, (n, 1))]
        scores = _evaluate(space, problem_arrays, prices, objective, temporal, order, spatial_a,
                           axis)
        return (temporal, order, spatial_a, axis, scores), len(scores), _valid(scores)
    temporal, order, spatial_a, axis = space.sample(rng, samples)
    fit = space.fits(temporal, spatial_a)
    temporal, order, spatial_a, axis = (a[fit] for a in (temporal, order, spatial_a, axis))
    scores = _evaluate(space, problem_arrays, prices, objective, temporal, order, spatial_a, axis)
    pool = (temporal, order, spatial_a, axis, scores)
    evaluated, valid = len(scores), _valid(scores)
    for _ in range(rounds):
        best = np.argsort(pool[4])[:elites]
        repeat = max(1, samples // (4 * max(len(best), 1)))
        parents = np.repeat(best, repeat)
        t, o = space.mutate(rng, pool[0][parents], pool[1][parents])
        s, x = pool[2][parents], pool[3][parents]
        fit = space.fits(t, s)
        t, o, s, x = (a[fit] for a in (t, o, s, x))
        new = _evaluate(space, problem_arrays, prices, objective, t, o, s, x)
        evaluated, valid = evaluated + len(new), valid + _valid(new)
        pool = tuple(np.concatenate([a[best], b]) for a, b in
                     zip(pool, (t, o, s, x, new), strict=True))
    return pool, evaluated, valid


def _valid(scores) -> int:
    return int(np.isfinite(scores).sum())


def search_mappings(problem: Problem, accelerator: LoopNestAccelerator, *,
                    objective: str = "edp", table: LoopNestEnergyTable | None = None,
                    samples: int = 4096, rounds: int = 3, elites: int = 64,
                    spatial: Mapping[str, Sequence[tuple[str, int, str]]] | None = None,
                    keep: Mapping[str, Sequence[str]] | None = None,
                    exhaustive_limit: int = 0, seed: int = 0) -> MapperResult:
    """The best mapping of ``problem`` on ``accelerator`` found under ``objective``.

    Args:
      problem, accelerator: the layer and the hierarchy (levels without neighbour links, see
        :func:`dianjax.cost.loopnest.check_supported`).
      objective: one of :data:`OBJECTIVES`.
      table: the prices (default: the 45 nm table).
      samples: random candidates in the first draw.
      rounds, elites: refinement rounds, and the candidates each mutates (once per mutant slot).
      spatial: fixed spatial loops, ``{level name: ((dim, factor, "X" | "Y"), ...)}``; default:
        drawn per candidate (module docstring).
      keep: the dataspaces some levels keep, ``{level name: (dataspace, ...)}`` (the others
        bypass them); default: what the architecture lets each level keep.
      exhaustive_limit: if every tiling x spatial choice x canonical order fits under this many
        candidates, count them all instead of sampling and refining.
      seed: the sampler's seed.
    """
    start = time.perf_counter()
    pool, evaluated, valid = _search(problem, accelerator, objective, table, samples, rounds,
                                     elites, spatial, keep, exhaustive_limit, seed)
    scores = pool[4]
    if not valid:
        raise ValueError(f"search_mappings: no valid mapping of {problem.name!r} on "
                         f"{accelerator.name!r} among {evaluated} candidates")
    b = int(np.argmin(scores))
    mapping = to_mapping(accelerator, pool[0][b], pool[1][b], pool[2][b], pool[3][b], keep)
    validate(problem, accelerator, mapping)
    report = evaluate(problem, accelerator, mapping, table)
    return MapperResult(mapping=mapping, report=report, objective=objective,
                        candidates=evaluated, valid=valid, seconds=time.perf_counter() - start)


def top_candidates(problem: Problem, accelerator: LoopNestAccelerator, count: int, *,
                   objective: str = "edp", table: LoopNestEnergyTable | None = None,
                   samples: int = 512, rounds: int = 2, elites: int = 16,
                   keep: Mapping[str, Sequence[str]] | None = None, seed: int = 0):
    """The ``count`` best distinct valid candidates (temporal, order, spatial, axis arrays, best
    first) of a :func:`search_mappings` run; fewer if fewer are valid."""
    pool, _, _ = _search(problem, accelerator, objective, table, samples, rounds, elites, None,
                         keep, 0, seed)
    ranked = np.argsort(pool[4], kind="stable")
    ranked = ranked[np.isfinite(pool[4][ranked])]
    rows = np.concatenate([a[ranked].reshape(len(ranked), -1)
                           for a in canonical(*pool[:4])], axis=1)
    _, first = np.unique(rows, axis=0, return_index=True)
    chosen = ranked[np.sort(first)][:count]
    return tuple(a[chosen] for a in pool[:4])


def objective_value(report: LoopNestLayerReport, objective: str) -> float:
    """The objective of one of sim's layer reports (``latency``: cycles)."""
    return {"edp": report.edp_pj_s, "energy": report.energy_pj,
            "latency": float(report.cycles)}[objective]


