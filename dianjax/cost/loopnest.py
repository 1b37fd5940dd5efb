"""The loop-nest cost model in ``jax.numpy``: sim's access counts for a batch of mappings at once.

A re-derivation of :mod:`sim.loopnest.counts` (Timeloop's semantics) as fixed-shape array code, so
that thousands of candidate mappings of one layer are counted in one jitted call:

    ProblemArrays (bounds, projection coefficients)
      + MappingArrays (per candidate: per level, temporal factors and loop order, spatial factors,
        kept dataspaces, and the children with distinct boxes per level pair, computed on the host)
                                          -> LoopNestCounts of arrays (reads, fills, updates)
      + LevelPrices (one accelerator: block sizes, depths, bandwidths, fan-outs, prices per action)
                                          -> MappingCost (valid, cycles, energy_pj, latency_s, edp)

How the fills of a child tile are counted without stepping the nest. The temporal loops above the
tile, outer to inner, step it by translations; a step of loop j (the loops inside it wrapping) moves
it by ``t_j - sum_{i > j} (f_i - 1) t_i``. Under the older sliding-window rule a step fills the
slab of its translation ("S") unless the previous step was an S step with another translation, in
which case it fills the whole tile ("W"). The sweep of the loops inside loop j therefore behaves
in one of two ways, by whether its first step is S or W; each such sweep is summarised by its
words and the kind of its last step (two numbers for each of two cases), and loop j's sweep follows
from its inner sweep in closed form (the kind sequence of a two-state map is constant or
alternating after its first step). Innermost to outermost this is a scan over the loop positions.

Scope: the older rule (``"stationary_resets"``, sim's default) and levels without neighbour links
(``links=False``); other architectures or rules are refused with the reason. In 64-bit mode
(``jax.enable_x64``) every count equals sim's exactly and energy, cycles and latency are sim's to
float rounding (tested); in 32-bit mode counts above 2^24 are rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sim.loopnest import (
    DATASPACES,
    DIMS,
    LoopNestAccelerator,
    LoopNestEnergyTable,
    LoopNestMapping,
    Problem,
)
from sim.loopnest.mapping import kept

NDIM = len(DIMS)
NRANK = 5                      # every dataspace of the problem has five ranks


class ProblemArrays(NamedTuple):
    bounds: np.ndarray         # [NDIM] int
    projection: np.ndarray     # [3 dataspaces, NRANK, NDIM] coefficient of each dim in each rank


class MappingArrays(NamedTuple):
    """A batch of candidate mappings of one problem onto one hierarchy of ``L`` storage levels."""

    temporal: np.ndarray       # [B, L, NDIM] temporal factor per level and dimension
    order: np.ndarray          # [B, L, NDIM] dimension indices of each level, outer to inner
    spatial: np.ndarray        # [B, L, NDIM] spatial factor per level and dimension
    axis: np.ndarray           # [B, L, NDIM] 0: X, 1: Y (where the spatial factor is > 1)
    keep: np.ndarray           # [B, L, 3] bool; level 0 keeps everything
    distinct: np.ndarray       # [B, L + 1, 3] children of one parent instance with distinct
    #                            boxes, per kept child level (index L: the MACs)


class LevelPrices(NamedTuple):
    """One accelerator, as the counts are priced (:func:`level_prices`)."""

    block: np.ndarray          # [L] words per vector access
    depth: np.ndarray          # [L] words (inf: unbounded)
    read_bandwidth: np.ndarray     # [L] words per cycle per instance (inf: unlimited)
    write_bandwidth: np.ndarray    # [L]
    fanout_x: np.ndarray       # [L]
    fanout_y: np.ndarray       # [L]
    instances: np.ndarray      # [L]
    action_pj: np.ndarray      # [L, 3] read, fill, update per vector access
    leak_pj_per_cycle: np.ndarray  # [L] per instance
    mac_pj: float
    mac_leak_pj_per_cycle: float   # all MACs together
    area_mm2: float
    clock_mhz: float


class LoopNestCountArrays(NamedTuple):
    reads: jax.Array           # [..., L, 3] words over the instances used
    fills: jax.Array
    updates: jax.Array
    instances: jax.Array       # [..., L + 1] instances used (index L: MACs)
    tile_words: jax.Array      # [..., L, 3] one instance's tile
    compute_cycles: jax.Array  # [...]


class MappingCost(NamedTuple):
    valid: jax.Array           # tiles fit and spatial factors fit the fan-outs
    cycles: jax.Array
    energy_pj: jax.Array
    latency_s: jax.Array
    edp_pj_s: jax.Array


def problem_arrays(problem: Problem) -> ProblemArrays:
    """Bounds and the projection coefficients of ``problem``'s dataspaces."""
    projection = np.zeros((len(DATASPACES), NRANK, NDIM), np.int64)
    for d, dataspace in enumerate(DATASPACES):
        for r, rank in enumerate(problem.projection(dataspace)):
            for dim, coefficient in rank:
                projection[d, r, DIMS.index(dim)] = coefficient
    return ProblemArrays(np.array([problem.bounds[d] for d in DIMS], np.int64), projection)


def check_supported(accelerator: LoopNestAccelerator, rule: str = "stationary_resets") -> None:
    """Raises a ValueError if the array model does not cover ``accelerator`` or ``rule``."""
    if rule != "stationary_resets":
        raise ValueError(f"the loop-nest array model counts the 'stationary_resets' rule only, got "
                         f"{rule!r}; use sim.loopnest.access_counts for the other")
    linked = [level.name for i, level in enumerate(accelerator.levels[1:], start=1)
              if level.links and accelerator.fanout(i - 1) != (1, 1)]   # siblings to link to
    if linked:
        raise ValueError(f"the loop-nest array model covers levels without neighbour links; "
                         f"{accelerator.name!r} has links at {linked}; allowed: links=False "
                         "(sim.loopnest counts links)")


# -- host side: candidates as arrays ---------------------------------------------------------------

def _spatial_strides(temporal: np.ndarray, spatial: np.ndarray) -> np.ndarray:
    """[B, L, NDIM] the operation-space step of each level's spatial loop of each dimension: the
    factors of that dimension at the levels below."""
    per_level = temporal * spatial
    below = np.cumprod(per_level[:, ::-1], axis=1)[:, ::-1]
    return np.concatenate([below[:, 1:], np.ones_like(below[:, :1])], axis=1)


def _parents(keep: np.ndarray) -> np.ndarray:
    """[B, L + 1, 3] the nearest level above each level (and the MACs) keeping each dataspace."""
    levels = keep.shape[1]
    index = np.where(keep, np.arange(levels)[None, :, None], -1)
    above = np.maximum.accumulate(index, axis=1)
    return np.concatenate([np.full_like(above[:, :1], -1), above], axis=1)


def distinct_children(problem: ProblemArrays, temporal, spatial, keep) -> np.ndarray:
    """[B, L + 1, 3] per kept child level: how many distinct dataspace boxes the children of one
    parent instance hold (the rest share a box: multicast, or reduction for Outputs). Ranks of one
    dimension count its spatial factors; ranks that sum two dimensions (Inputs' sliding windows)
    count the distinct sums, per distinct configuration."""
    temporal, spatial = np.asarray(temporal), np.asarray(spatial)
    batch, levels, _ = temporal.shape
    strides = _spatial_strides(temporal, spatial)
    parents = _parents(np.asarray(keep))
    out = np.ones((batch, levels + 1, len(DATASPACES)), np.int64)
    for child in range(1, levels + 1):
        for d in range(len(DATASPACES)):
            parent = parents[:, child, d]
            in_range = ((np.arange(levels)[None, :] >= parent[:, None])
                        & (np.arange(levels)[None, :] < child))          # [B, L]
            factors = np.where(in_range[:, :, None], spatial, 1)           # [B, L, NDIM]
            total = np.ones(batch, np.int64)
            for r in range(NRANK):
                dims = np.nonzero(problem.projection[d, r])[0]
                products = factors[:, :, dims].prod(axis=1)                   # [B, dims]
                total *= products.prod(axis=1)
                # a rank that sums two unrolled dimensions may repeat values (sliding windows)
                both = np.nonzero((products > 1).sum(axis=1) > 1)[0]
                if not len(both):
                    continue
                keys = np.concatenate([factors[both][:, :, dims].reshape(len(both), -1),
                                       strides[both][:, :, dims].reshape(len(both), -1)], axis=1)
                unique, inverse = np.unique(keys, axis=0, return_inverse=True)
                counts = np.array([_distinct_sums(problem.projection[d, r, dims], row)
                                   for row in unique.tolist()], np.int64)
                total[both] = total[both] // products[both].prod(axis=1) * counts[
                    inverse.reshape(-1)]
            out[:, child, d] = total
    return out


def _distinct_sums(coefficients, row) -> int:
    """Distinct values of ``sum coefficient * index * stride`` over the spatial loops in ``row``
    (factors then strides, per level and dimension)."""
    half = len(row) // 2
    factors, strides = row[:half], row[half:]
    terms = [(int(coefficients[k % len(coefficients)]) * strides[k], factors[k])
             for k in range(half) if factors[k] > 1]
    values = {0}
    for step, factor in terms:
        values = {v + step * i for v in values for i in range(factor)}
    return len(values)


def mapping_arrays(problem: Problem, accelerator: LoopNestAccelerator,
                   mappings: Sequence[LoopNestMapping]) -> MappingArrays:
    """``mappings`` (sim's descriptions) as a :class:`MappingArrays` batch."""
    check_supported(accelerator)
    levels = len(accelerator.levels)
    batch = len(mappings)
    temporal = np.ones((batch, levels, NDIM), np.int64)
    order = np.tile(np.arange(NDIM), (batch, levels, 1))
    spatial = np.ones((batch, levels, NDIM), np.int64)
    axis = np.zeros((batch, levels, NDIM), np.int64)
    keep = np.zeros((batch, levels, len(DATASPACES)), bool)
    for b, mapping in enumerate(mappings):
        keeps = kept(accelerator, mapping)
        for i, level in enumerate(mapping.levels):
            named = [DIMS.index(d) for d, _ in level.temporal]
            order[b, i] = named + [k for k in range(NDIM) if k not in named]
            for d, f in level.temporal:
                temporal[b, i, DIMS.index(d)] = f
            for d, f, a in level.spatial:
                spatial[b, i, DIMS.index(d)] = f
                axis[b, i, DIMS.index(d)] = "XY".index(a)
            keep[b, i] = [ds in keeps[i] for ds in DATASPACES]
    arrays = problem_arrays(problem)
    return MappingArrays(temporal, order, spatial, axis, keep,
                         distinct_children(arrays, temporal, spatial, keep))


def level_prices(accelerator: LoopNestAccelerator,
                 table: LoopNestEnergyTable | None = None) -> LevelPrices:
    """The per-level figures :func:`price` needs, from sim's table (one source of prices)."""
    from sim.loopnest.simulator import area_mm2

    check_supported(accelerator)
    table = LoopNestEnergyTable() if table is None else table
    clock = accelerator.clock_mhz
    prices = [table.prices(level, clock) for level in accelerator.levels]
    mac = table.prices(accelerator.compute, clock)
    fanouts = [accelerator.fanout(i) for i in range(len(accelerator.levels))]
    inf = float("inf")
    return LevelPrices(
        block=np.array([lv.block_size for lv in accelerator.levels], np.float64),
        depth=np.array([inf if lv.depth_words is None else lv.depth_words
                        for lv in accelerator.levels], np.float64),
        read_bandwidth=np.array([lv.read_bandwidth_words_per_cycle or inf
                                 for lv in accelerator.levels], np.float64),
        write_bandwidth=np.array([lv.write_bandwidth_words_per_cycle or inf
                                  for lv in accelerator.levels], np.float64),
        fanout_x=np.array([f[0] for f in fanouts], np.float64),
        fanout_y=np.array([f[1] for f in fanouts], np.float64),
        instances=np.array([lv.instances for lv in accelerator.levels], np.float64),
        action_pj=np.array([[p.read_pj, p.fill_pj, p.update_pj] for p in prices], np.float64),
        leak_pj_per_cycle=np.array([p.leak_pj_per_cycle for p in prices], np.float64),
        mac_pj=mac.compute_pj,
        mac_leak_pj_per_cycle=accelerator.compute.instances * mac.leak_pj_per_cycle,
        area_mm2=area_mm2(accelerator, table), clock_mhz=clock)


# -- the counts, one candidate (vmapped over the batch) --------------------------------------------

def _sweep_step(carry, entry):
    """One loop position (innermost first) of the two-case sweep, for every dataspace at once."""
    nonempty, tk, w_s, w_w, last_s, last_w = carry       # [3], [3, R], [3] x4 (last: True = W)
    active, factor, translation, diff, size = entry        # [], [], [3, R], [3], [3]
    n = factor - 1
    step = active & (factor > 1)
    same = jnp.all(translation == tk, axis=-1)
    # no inner sweep: n steps of this loop; the first as asked, the rest S
    lone_s = n * diff
    lone_w = size + (n - 1) * diff
    lone_last_w = n == 1                                     # the first step, W, is also the last

    def through(w0, last0):
        """This loop's sweep when the inner sweep's first step is S (w0 = w_s) or W."""
        # translations equal: every step of this loop is S and so is every inner sweep's first
        words_same = w0 + n * (diff + w_s)
        # different: an S-ending inner sweep makes this step W and the next inner sweep S, a
        # W-ending one the reverse; the kinds y_i of the inner sweeps' last steps follow
        # y_i = last(y_{i-1}): constant or alternating after the first
        y0 = last0
        y1 = jnp.where(y0, last_w, last_s)
        y2 = jnp.where(y1, last_w, last_s)
        constant = y1 == y0
        alternating = (~constant) & (y2 == y0)
        half_up = (n + 1) // 2
        count_y0 = jnp.where(constant, n, jnp.where(alternating, half_up, 1))
        count_y1 = n - count_y0
        w_count = jnp.where(y0, count_y0, 0) + jnp.where(y1, count_y1, 0)
        s_count = n - w_count
        words_diff = w0 + s_count * (size + w_s) + w_count * (diff + w_w)
        last_diff = jnp.where(constant, y0, jnp.where(alternating,
                                                      jnp.where(n % 2 == 0, y0, y1), y1))
        return (jnp.where(same, words_same, words_diff),
                jnp.where(same, last_s, last_diff))

    ws_new, ls_new = through(w_s, last_s)
    ww_new, lw_new = through(w_w, last_w)
    ws = jnp.where(nonempty, ws_new, lone_s)
    ww = jnp.where(nonempty, ww_new, lone_w)
    ls = jnp.where(nonempty, ls_new, False)
    lw = jnp.where(nonempty, lw_new, lone_last_w)
    tk_new = jnp.where(nonempty[:, None], tk, translation)
    carry = (nonempty | step, jnp.where(step, tk_new, tk), jnp.where(step, ws, w_s),
             jnp.where(step, ww, w_w), jnp.where(step, ls, last_s), jnp.where(step, lw, last_w))
    return carry, None


def counts(problem: ProblemArrays, temporal, order, spatial, keep, distinct) -> LoopNestCountArrays:
    """The access counts of one candidate (arrays of one :class:`MappingArrays` entry)."""
    levels = temporal.shape[0]
    dtype = jnp.result_type(float)
    projection = jnp.asarray(problem.projection, dtype)                # [3, R, D]
    ordered = jnp.take_along_axis(temporal, order, axis=1)             # [L, D] outer -> inner
    # the flattened nest: per level its temporal loops (in order), then its spatial loops
    factors = jnp.concatenate([ordered, spatial], axis=1).reshape(-1).astype(dtype)   # [N]
    dims = jnp.concatenate([order, jnp.tile(jnp.arange(NDIM), (levels, 1))],
                           axis=1).reshape(-1)                          # [N]
    onehot = jax.nn.one_hot(dims, NDIM, dtype=dtype)                   # [N, D]
    per_dim = onehot * factors[:, None] + (1 - onehot)
    inclusive = jnp.cumprod(per_dim[::-1], axis=0)[::-1]
    exclusive = jnp.concatenate([inclusive[1:], jnp.ones((1, NDIM), dtype)], axis=0)
    stride = jnp.sum(exclusive * onehot, axis=1)                       # [N]
    translation = stride[:, None, None] * jnp.einsum("drk,nk->ndr", projection, onehot)  # [N,3,R]
    compute_cycles = jnp.prod(temporal.astype(dtype))
    spatial_f = spatial.astype(dtype)
    used = jnp.concatenate([jnp.ones(1, dtype), jnp.cumprod(jnp.prod(spatial_f, axis=1))])  # [L+1]
    below = jnp.cumprod((temporal.astype(dtype) * spatial_f)[::-1], axis=0)[::-1]     # [L, D]
    rank_extent = jnp.einsum("drk,lk->ldr", projection, below - 1) + 1                 # [L, 3, R]
    tile_words = jnp.prod(rank_extent, axis=-1)                                        # [L, 3]
    relevant_o = jnp.any(projection[2] > 0, axis=0)
    outputs = jnp.prod(jnp.asarray(problem.bounds, dtype) ** relevant_o)
    split = jnp.concatenate([jnp.ones(1, dtype), jnp.cumprod(
        jnp.prod(jnp.where(relevant_o[None, :], spatial_f, 1), axis=1))])
    partition = outputs / split                                                        # [L+1]

    def child_fills(child):
        """Fills of one instance of level ``child``, per dataspace: the sweep of the temporal
        loops of the levels above it (static: ``8 * child`` positions)."""
        above = np.array([level * 2 * NDIM + k for level in range(child) for k in range(NDIM)])
        f, t = factors[above], translation[above]
        wrap = jnp.cumsum(((f - 1)[:, None, None] * t)[::-1], axis=0)[::-1]
        wrap = jnp.concatenate([wrap[1:], jnp.zeros_like(wrap[:1])], axis=0)
        moved = t - wrap                                                              # [n,3,R]
        extent = rank_extent[child]                                                   # [3, R]
        size = tile_words[child]                                                      # [3]
        nonzero = moved != 0
        one_axis = jnp.sum(nonzero, axis=-1) == 1
        shift = jnp.sum(jnp.abs(moved), axis=-1)
        along = jnp.sum(jnp.where(nonzero, extent, 0), axis=-1)
        slab = jnp.where(one_axis & (shift < along), shift * size / jnp.maximum(along, 1), size)
        diff = jnp.where(jnp.any(nonzero, axis=-1), slab, 0)                          # [n, 3]
        zeros = jnp.zeros(len(DATASPACES), dtype)
        carry = (jnp.zeros(len(DATASPACES), bool), jnp.zeros((len(DATASPACES), NRANK), dtype),
                 zeros, zeros, jnp.zeros(len(DATASPACES), bool),
                 jnp.zeros(len(DATASPACES), bool))
        entries = (jnp.ones(len(above), bool), f, moved, diff,
                   jnp.broadcast_to(size, diff.shape))
        carry, _ = jax.lax.scan(_sweep_step, carry, entries, reverse=True)
        return size + carry[2]

    outermost = jnp.zeros(len(DATASPACES), dtype)            # level 0 is never a child
    per_child = jnp.stack([outermost] + [child_fills(c) for c in range(1, levels)] +
                          [jnp.full(len(DATASPACES), compute_cycles)])        # [L+1, 3]
    keep = keep.at[0].set(True)
    index = jnp.where(keep, jnp.arange(levels)[:, None], -1)
    above = jax.lax.cummax(index, axis=0)
    parent = jnp.concatenate([jnp.full((1, len(DATASPACES)), -1), above], axis=0)  # [L+1, 3]
    is_child = jnp.concatenate([keep, jnp.ones((1, len(DATASPACES)), bool)], axis=0)
    is_child = is_child.at[0].set(False)
    served = per_child * distinct.astype(dtype)
    to_parent = jax.nn.one_hot(parent, levels, dtype=dtype) * is_child[..., None]   # [L+1, 3, L]
    parent_used = jnp.einsum("cdl,l->cd", to_parent, used[:levels])
    parent_part = jnp.einsum("cdl,l->cd", to_parent, partition[:levels])
    delivered = jnp.einsum("cdl,cd->ld", to_parent, served * parent_used)
    first_touch = jnp.einsum("cdl,cd->ld", to_parent, parent_part * parent_used)
    is_output = jnp.arange(len(DATASPACES)) == 2
    reads = jnp.where(is_output, delivered - first_touch, delivered)
    updates = jnp.where(is_output, delivered, 0)
    own = jnp.where(is_output, per_child - partition[:, None], per_child) * used[:, None]
    fills = jnp.where(is_child, own, 0)[:levels].at[0].set(0)
    keep_f = keep.astype(dtype)
    return LoopNestCountArrays(reads=reads * keep_f, fills=fills * keep_f,
                               updates=updates * keep_f, instances=used,
                               tile_words=tile_words, compute_cycles=compute_cycles)


def price(count: LoopNestCountArrays, spatial, axis, keep, prices: LevelPrices,
          macs) -> MappingCost:
    """Validity, cycles, energy, latency and EDP of one candidate's counts on one accelerator."""
    used = count.instances[:-1]
    per_instance = jnp.stack([count.reads, count.fills, count.updates], axis=-1) / used[:, None,
                                                                                         None]
    vectors = jnp.ceil(per_instance / prices.block[:, None, None])
    action = jnp.sum(vectors * used[:, None, None] * prices.action_pj[:, None, :])
    read_demand = jnp.sum(count.reads, axis=-1) / used / prices.read_bandwidth
    write_demand = jnp.sum(count.fills + count.updates, axis=-1) / used / prices.write_bandwidth
    cycles = jnp.ceil(jnp.maximum(count.compute_cycles,
                                  jnp.max(jnp.maximum(read_demand, write_demand))))
    leak = (jnp.sum(prices.instances * prices.leak_pj_per_cycle) + prices.mac_leak_pj_per_cycle)
    energy = action + macs * prices.mac_pj + leak * cycles
    latency = cycles / (prices.clock_mhz * 1e6)
    spatial_f = spatial.astype(energy.dtype)
    x = jnp.prod(jnp.where(axis == 0, spatial_f, 1), axis=1)
    y = jnp.prod(jnp.where(axis == 1, spatial_f, 1), axis=1)
    kept_keep = keep.at[0].set(True)
    fits = jnp.sum(count.tile_words * kept_keep, axis=-1) <= prices.depth
    valid = jnp.all(fits) & jnp.all(x <= prices.fanout_x) & jnp.all(y <= prices.fanout_y)
    return MappingCost(valid=valid, cycles=cycles, energy_pj=energy, latency_s=latency,
                       edp_pj_s=energy * latency)


def evaluate_batch(problem: ProblemArrays, mappings: MappingArrays, prices: LevelPrices):
    """Counts and costs of every candidate of ``mappings`` (batched over its first axis); not
    jitted, to be traced inside a caller's jit (:func:`evaluate` is the jitted one)."""
    macs = jnp.prod(jnp.asarray(problem.bounds, jnp.result_type(float)))

    def one(temporal, order, spatial, axis, keep, distinct):
        count = counts(problem, temporal, order, spatial, keep, distinct)
        return count, price(count, spatial, axis, keep, prices, macs)

    return jax.vmap(one)(jnp.asarray(mappings.temporal), jnp.asarray(mappings.order),
                         jnp.asarray(mappings.spatial), jnp.asarray(mappings.axis),
                         jnp.asarray(mappings.keep), jnp.asarray(mappings.distinct))


evaluate = jax.jit(evaluate_batch)
