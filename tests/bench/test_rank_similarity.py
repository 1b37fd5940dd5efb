"""dianjax.bench.rank_similarity against scipy, hand cases, summaries, the plot and errors."""

import numpy as np
import pytest
import scipy.stats

from dianjax.bench.rank_similarity import (average_ranks, plot_rank_study, rank_correlations,
                                           summarize)


def _cost(seed, ties: bool):
    """float[40, 9]: random costs; with ``ties``, few distinct values per column."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 6, (40, 9)).astype(float) if ties else rng.lognormal(size=(40, 9))


@pytest.mark.parametrize("ties", [False, True])
def test_average_ranks_equal_scipy(ties):
    cost = _cost(0, ties)
    np.testing.assert_array_equal(average_ranks(cost), scipy.stats.rankdata(cost, axis=0))


@pytest.mark.parametrize("ties", [False, True])
def test_every_pair_equals_scipy(ties):
    cost = _cost(1, ties)
    study = rank_correlations(cost, None, np.random.default_rng(0), kendall_pairs=50)
    assert study.spearman_pairs is None
    first, second = np.triu_indices(cost.shape[1], 1)
    assert len(study.spearman) == len(first) == 36
    for value, a, b in zip(study.spearman, first, second):
        expected = scipy.stats.spearmanr(cost[:, a], cost[:, b]).statistic
        assert value == pytest.approx(expected, abs=1e-6)
    for value, (a, b) in zip(study.kendall, study.kendall_pairs):
        expected = scipy.stats.kendalltau(cost[:, a], cost[:, b]).statistic   # tau-b
        assert value == pytest.approx(expected, abs=1e-6)


def test_sampled_pairs_equal_scipy_and_are_distinct_columns():
    cost = _cost(2, ties=True)
    study = rank_correlations(cost, 30, np.random.default_rng(1), kendall_pairs=30)
    for pairs in (study.spearman_pairs, study.kendall_pairs):
        assert pairs.shape == (30, 2) and (pairs[:, 0] != pairs[:, 1]).all()
        assert pairs.min() >= 0 and pairs.max() < cost.shape[1]
    for value, (a, b) in zip(study.spearman, study.spearman_pairs):
        assert value == pytest.approx(scipy.stats.spearmanr(cost[:, a], cost[:, b]).statistic,
                                      abs=1e-6)
    assert study.spearman_summary.pairs == 30


def test_identical_orderings_give_one_and_reversed_minus_one():
    base = np.arange(1.0, 21.0)
    same = np.stack([base, 3 * base + 1, np.exp(base / 4)], axis=1)   # one ordering, three scales
    study = rank_correlations(same, None, np.random.default_rng(0), kendall_pairs=10)
    np.testing.assert_array_equal(study.spearman, 1.0)
    np.testing.assert_array_equal(study.kendall, 1.0)
    reversed_ = rank_correlations(np.stack([base, -base], axis=1), None,
                                  np.random.default_rng(0), kendall_pairs=10)
    np.testing.assert_array_equal(reversed_.spearman, -1.0)
    np.testing.assert_array_equal(reversed_.kendall, -1.0)


def test_summary():
    summary = summarize(np.array([0.0, 0.5, 0.8, 0.95, 1.0]))
    assert (summary.median, summary.q25, summary.q75) == (0.8, 0.5, 0.95)
    assert summary.p05 == pytest.approx(0.1)
    assert summary.share_above_0_9 == 0.4 and summary.pairs == 5


def test_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(3)
    studies = {name: rank_correlations(_cost(seed, False), None, rng, kendall_pairs=20)
               for seed, name in enumerate(("latency_s", "energy_pj"))}
    path = tmp_path / "rank.png"
    plot_rank_study(studies, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_name_the_argument():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"cost must have shape \(N networks, A accelerators\)"):
        rank_correlations(np.ones((5, 1)), None, rng)
    with pytest.raises(ValueError, match=r"cost\[:, 1\] is constant"):
        rank_correlations(np.stack([np.arange(4.0), np.ones(4)], axis=1), None, rng)
    with pytest.raises(ValueError, match="max_pairs must be a positive integer"):
        rank_correlations(_cost(0, False), 0, rng)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        rank_correlations(_cost(0, False), None, 0)
    with pytest.raises(ValueError, match="studies must hold at least one"):
        plot_rank_study({}, "unused.png")
