"""Do accelerators rank networks alike? Rank correlations between the columns of a cost matrix.

The semi-decoupled co-search (Lu, Yan, Shi and Ren, "A Semi-Decoupled Approach to Fast and Optimal
Hardware-Software Co-Design of Neural Accelerators", arXiv:2203.13921, 2022) rests on the
observation that networks rank nearly the same by latency or energy on every accelerator, so a
network search on one proxy accelerator keeps the networks that are good on the others. This
module measures that on a benchmark's exact prices (:class:`dianjax.bench.prices.Prices`).

For ``cost[N, A]`` (lower is better), column ``a`` ranks the N networks on accelerator ``a``; a
study correlates the rankings of pairs of accelerators ``(a, b)``, ``a != b``:

- Spearman's rho: the Pearson correlation of the columns' average ranks (ties share their mean
  rank). With ``max_pairs=None``, every pair ``a < b`` exactly, in ``np.triu_indices(A, 1)`` order,
  by a chunked product of the standardized rank matrix (``A = 12,288``: 75M pairs); otherwise
  ``max_pairs`` pairs drawn uniformly with replacement.
- Kendall's tau-b on ``kendall_pairs`` pairs drawn uniformly with replacement:
  ``sum_ij sgn(x_i - x_j) sgn(y_i - y_j) / sqrt(#{(i, j): x_i != x_j} #{(i, j): y_i != y_j})``
  (scipy's default variant), O(N^2) per pair, vectorized in ``jax``.

A pair is drawn as ``a`` uniform over the A accelerators and ``b`` uniform over the other A - 1, so
every unordered pair has the same probability. Correlations are stored as float32.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from sim import checks

_SPEARMAN_BLOCK = 512    # accelerators per block of the exact rank-matrix product
_PAIR_BATCH = 256        # pairs per jitted Kendall call (the last batch is padded)
_HIGH = 0.9              # the summary's "share above" threshold
_MAX_N = 46_341          # Kendall's int32 sum of N^2 signs is exact below this many networks


class RankSummary(NamedTuple):
    """Summary of a sample of correlations: quartiles, 5th percentile, share above 0.9, count."""

    median: float
    q25: float
    q75: float
    p05: float
    share_above_0_9: float
    pairs: int


@dataclasses.dataclass(frozen=True, eq=False)
class RankStudy:
    """Rank correlations between pairs of accelerators (module docstring).

    Attributes:
      spearman: float32[P] Spearman's rho per pair.
      spearman_pairs: int[P, 2] the pairs of ``spearman``; ``None`` when it holds every pair
        ``a < b`` in ``np.triu_indices(A, 1)`` order.
      kendall: float32[Q] Kendall's tau-b per pair.
      kendall_pairs: int[Q, 2] the pairs of ``kendall``.
      spearman_summary, kendall_summary: their :class:`RankSummary`.
    """

    spearman: np.ndarray
    spearman_pairs: np.ndarray | None
    kendall: np.ndarray
    kendall_pairs: np.ndarray
    spearman_summary: RankSummary
    kendall_summary: RankSummary


def summarize(values: np.ndarray) -> RankSummary:
    """Median, quartiles, 5th percentile and share above 0.9 of a sample of correlations."""
    p05, q25, median, q75 = np.quantile(values, [0.05, 0.25, 0.5, 0.75])
    return RankSummary(median=float(median), q25=float(q25), q75=float(q75), p05=float(p05),
                       share_above_0_9=float(np.mean(values > _HIGH)), pairs=len(values))


def average_ranks(cost: np.ndarray) -> np.ndarray:
    """float64[N, A]: the rank (1..N) of every row within its column; ties share their mean rank."""
    order = np.argsort(cost, axis=0, kind="stable")
    ordered = np.take_along_axis(cost, order, axis=0)
    position = np.arange(len(cost))[:, None]
    starts = np.ones(cost.shape, bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    ends = np.ones(cost.shape, bool)
    ends[:-1] = starts[1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, position, len(cost))[::-1], axis=0)[::-1]
    ranks = np.empty(cost.shape, np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=0)
    return ranks


def _sample_pairs(num_accelerators: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """int[count, 2]: pairs (a, b), a != b, uniform over unordered pairs, with replacement."""
    first = rng.integers(0, num_accelerators, count)
    second = rng.integers(0, num_accelerators - 1, count)
    return np.stack([first, second + (second >= first)], axis=1)


def _spearman_all_pairs(standardized: np.ndarray) -> np.ndarray:
    """float32[A (A - 1) / 2]: rho of every pair a < b from unit-norm centred rank columns."""
    num = standardized.shape[1]
    result = np.empty(num * (num - 1) // 2, np.float32)
    filled = 0
    for start in range(0, num, _SPEARMAN_BLOCK):
        rows = np.arange(start, min(start + _SPEARMAN_BLOCK, num))
        block = standardized[:, rows].T @ standardized[:, start:]        # [B, A - start]
        upper = np.arange(start, num)[None, :] > rows[:, None]
        values = block[upper]
        result[filled:filled + len(values)] = values
        filled += len(values)
    return result


@jax.jit
def _kendall_numerators(x, y):
    """int32[B]: ``sum_ij sgn(x_i - x_j) sgn(y_i - y_j)`` per row of x, y: float32[B, N] of integers
    below 2^24 (so differences keep their sign and every row sum of signs is exact), N < _MAX_N (so
    the int32 total is exact)."""
    def one(pair):
        a, b = pair
        signs = jnp.sign((a[:, None] - a[None, :]) * (b[:, None] - b[None, :]))
        return jnp.sum(jnp.sum(signs, axis=1).astype(jnp.int32))
    return jax.lax.map(one, (x, y))


def _untied_pairs(ranks: np.ndarray) -> np.ndarray:
    """float64[A]: ordered pairs (i, j) with different values in each column: N^2 - sum of tie
    group sizes squared."""
    sizes = np.array([np.sum(np.unique(column, return_counts=True)[1].astype(np.float64) ** 2)
                      for column in ranks.T])
    return len(ranks) ** 2 - sizes


def _kendall(ranks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """float32[Q]: Kendall's tau-b of every pair of columns of ``ranks``."""
    doubled = (2 * ranks).astype(np.float32)        # average ranks are multiples of 1/2
    padding = -len(pairs) % _PAIR_BATCH
    padded = np.concatenate([pairs, np.repeat(pairs[:1], padding, axis=0)])
    numerators = np.concatenate([
        np.asarray(_kendall_numerators(doubled[:, batch[:, 0]].T, doubled[:, batch[:, 1]].T))
        for batch in np.split(padded, len(padded) // _PAIR_BATCH)])[:len(pairs)]
    untied = _untied_pairs(ranks)
    return (numerators / np.sqrt(untied[pairs[:, 0]] * untied[pairs[:, 1]])).astype(np.float32)


def rank_correlations(cost: np.ndarray, max_pairs: int | None, rng: np.random.Generator, *,
                      kendall_pairs: int = 20_000) -> RankStudy:
    """Spearman's rho and Kendall's tau-b between the network rankings of pairs of accelerators.

    Args:
      cost: float[N, A] (e.g. ``Prices.latency_s``): network n's cost on accelerator a.
      max_pairs: Spearman on every pair exactly (``None``) or on this many sampled pairs.
      rng: draws the sampled pairs.
      kendall_pairs: Kendall's tau-b on this many sampled pairs.

    Returns:
      a :class:`RankStudy`.
    """
    cost = np.asarray(cost, np.float64)
    if cost.ndim != 2 or not 2 <= cost.shape[0] < _MAX_N or cost.shape[1] < 2:
        raise ValueError(f"cost must have shape (N networks, A accelerators) with 2 <= N < {_MAX_N}"
                         f" and A >= 2, got {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("cost must be finite")
    constant = np.flatnonzero((cost == cost[:1]).all(axis=0))
    if len(constant):
        raise ValueError(f"cost[:, {int(constant[0])}] is constant: its ranking (and any rank "
                         f"correlation with it) is undefined; {len(constant)} such column(s)")
    if max_pairs is not None:
        checks.positive_int("rank_correlations", "max_pairs", max_pairs)
    checks.positive_int("rank_correlations", "kendall_pairs", kendall_pairs)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    num = cost.shape[1]
    ranks = average_ranks(cost)
    centred = ranks - ranks.mean(axis=0)
    standardized = centred / np.linalg.norm(centred, axis=0)
    if max_pairs is None:
        spearman_pairs = None
        spearman = _spearman_all_pairs(standardized)
    else:
        spearman_pairs = _sample_pairs(num, max_pairs, rng)
        columns = np.ascontiguousarray(standardized.T)
        spearman = np.concatenate([
            np.sum(columns[chunk[:, 0]] * columns[chunk[:, 1]], axis=1)
            for chunk in np.array_split(spearman_pairs, -(-max_pairs // _SPEARMAN_BLOCK))
        ]).astype(np.float32)
    sampled = _sample_pairs(num, kendall_pairs, rng)
    kendall = _kendall(ranks, sampled)
    return RankStudy(spearman=spearman, spearman_pairs=spearman_pairs, kendall=kendall,
                     kendall_pairs=sampled, spearman_summary=summarize(spearman),
                     kendall_summary=summarize(kendall))


def plot_rank_study(studies: dict[str, RankStudy], path: str | Path) -> None:
    """Histograms of Spearman's rho (left) and Kendall's tau-b (right), one row per study (e.g.
    ``{"latency_s": ..., "energy_pj": ...}``), with the median marked; written to ``path``."""
    if not studies:
        raise ValueError("studies must hold at least one {name: RankStudy}, got none")
    figure = Figure(figsize=(10, 3.2 * len(studies)), layout="constrained")
    axes = figure.subplots(len(studies), 2, squeeze=False)
    for row, (name, study) in zip(axes, studies.items()):
        scope = "every pair" if study.spearman_pairs is None else "sampled pairs"
        for ax, label, values, summary in (
                (row[0], f"Spearman rho, {scope}", study.spearman, study.spearman_summary),
                (row[1], "Kendall tau-b, sampled pairs", study.kendall, study.kendall_summary)):
            counts, edges = np.histogram(values, bins=100, range=(float(values.min()), 1.0))
            ax.stairs(counts / len(values), edges, fill=True)
            ax.axvline(summary.median, color="k", linestyle="--",
                       label=f"median {summary.median:.4f}\n{summary.pairs:,} pairs")
            ax.set_title(f"{name}: {label}")
            ax.set_xlabel("rank correlation between two accelerators")
            ax.set_ylabel("share of pairs")
            ax.legend(loc="upper left")
    figure.savefig(path)
