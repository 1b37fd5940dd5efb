"""Every network of a search space, in one canonical order, and the shards of that list."""

from __future__ import annotations

import itertools

import numpy as np

from dianjax.nas.search_space import SearchSpace
from sim import checks


def layer_options(space: SearchSpace) -> tuple[tuple[int, ...], ...]:
    """Per searchable layer, the available ops as columns of ``space.op_names`` (skip only where
    the layer allows it)."""
    return tuple(tuple(int(k) for k in np.flatnonzero(row)) for row in space.op_mask())


def enumerate_networks(space: SearchSpace) -> np.ndarray:
    """int[N, L]: the op column of every layer of every network of ``space``, in mixed-radix order
    over :func:`layer_options` (the last layer varies fastest). Row ``n`` is network ``n`` of the
    benchmark table and of :class:`dianjax.bench.oracle.Problem`."""
    return np.array(list(itertools.product(*layer_options(space))), np.int64).reshape(
        -1, space.num_layers)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (1-based shard K of N) -> (K, N); a clear error otherwise."""
    parts = str(text).split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        index = count = 0
    if len(parts) != 2 or not 1 <= index <= count:
        raise ValueError(f"--shard must be K/N with 1 <= K <= N (shard K of N), got {text!r}")
    return index, count


def shard_indices(num_networks: int, index: int, count: int) -> np.ndarray:
    """The networks shard ``index`` (1-based) of ``count`` builds: every ``count``-th, so that
    shards take the same mix of cheap and dear networks."""
    checks.positive_int("shard", "count", count)
    if not 1 <= index <= count:
        raise ValueError(f"shard index must be in [1, {count}], got {index}")
    return np.arange(index - 1, num_networks, count)
