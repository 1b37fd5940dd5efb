"""Pareto fronts and the 2-D hypervolume of dianjax.analysis.front, against brute force."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dianjax.analysis.front import Reference, front_indices, hypervolume_2d, pareto_front

_accuracy = st.floats(0.0, 1.0, allow_nan=False)
_cost = st.floats(1e-3, 1e3, allow_nan=False)
_points = st.lists(st.tuples(_accuracy, _cost), min_size=1, max_size=12)


def _dominates(a, b, maximize):
    """True if ``a`` is no worse than ``b`` everywhere and better somewhere."""
    gains = [(x, y) if up else (-x, -y) for x, y, up in zip(a, b, maximize)]
    return all(x >= y for x, y in gains) and any(x > y for x, y in gains)


@st.composite
def _objective_rows(draw):
    """Rows of 1-3 objectives on a coarse grid (many ties and duplicates), and the senses."""
    k = draw(st.integers(1, 3))
    maximize = draw(st.lists(st.booleans(), min_size=k, max_size=k))
    value = st.sampled_from([-1.5, 0.0, 0.25, 2.0])
    rows = draw(st.lists(st.lists(value, min_size=k, max_size=k), min_size=0, max_size=15))
    return rows, maximize


@given(_objective_rows())
@settings(max_examples=200, deadline=None)
def test_pareto_front_is_exactly_the_points_no_other_point_dominates(case):
    rows, maximize = case
    values = np.array(rows, np.float64).reshape(len(rows), len(maximize))
    expected = [i for i, row in enumerate(rows)
                if not any(_dominates(other, row, maximize) for other in rows)]
    assert pareto_front(values, maximize).tolist() == expected


@given(st.lists(st.tuples(st.sampled_from([0.1, 0.5, 0.9]), _cost | st.sampled_from([1.0, 2.0])),
                max_size=12))
@settings(max_examples=100, deadline=None)
def test_front_indices_are_exactly_the_non_dominated_points(points):
    accuracy, cost = [p[0] for p in points], [p[1] for p in points]
    expected = [i for i, p in enumerate(points)
                if not any(_dominates(q, p, (True, False)) for q in points)]
    assert front_indices(accuracy, cost).tolist() == expected


@pytest.mark.parametrize("values, maximize, expected", [
    ([[1, 5], [2, 4], [0, 0], [2, 4], [1, 4]], [True, True], [0, 1, 3]),  # both (2, 4) copies
    ([[1, 5], [2, 4], [0, 0], [3, 9]], [True, False], [1, 2, 3]),
    ([[3.0], [1.0], [3.0]], [False], [1]),
])
def test_pareto_front_by_hand(values, maximize, expected):
    np.testing.assert_array_equal(pareto_front(np.array(values), maximize), expected)


def _brute_force_area(points, reference):
    """Union area of the rectangles [cost, ref_cost] x [ref_accuracy, accuracy] (compressed grid)."""
    inside = [(a, c) for a, c in points if a > reference.accuracy and c < reference.cost]
    xs = sorted({c for _, c in inside} | {reference.cost})
    ys = sorted({a for a, _ in inside} | {reference.accuracy})
    area = 0.0
    for (x0, x1), (y0, y1) in itertools.product(zip(xs, xs[1:]), zip(ys, ys[1:])):
        if any(c <= x0 and a >= y1 for a, c in inside):
            area += (x1 - x0) * (y1 - y0)
    return area


@given(_points)
@settings(max_examples=150, deadline=None)
def test_hypervolume_equals_union_of_dominated_rectangles(points):
    reference = Reference(0.1, 500.0)
    accuracy, cost = zip(*points)
    assert hypervolume_2d(accuracy, cost, reference) == pytest.approx(
        _brute_force_area(points, reference), rel=1e-9, abs=1e-12)


@given(_points, st.tuples(_accuracy, _cost), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_hypervolume_properties(points, extra, rng):
    reference = Reference(0.0, 1.1 * max(c for _, c in points + [extra]))
    accuracy, cost = map(list, zip(*points))
    volume = hypervolume_2d(accuracy, cost, reference)
    shuffled = points[:]
    rng.shuffle(shuffled)
    assert hypervolume_2d(*zip(*shuffled), reference) == pytest.approx(volume, abs=1e-12)
    grown = hypervolume_2d(accuracy + [extra[0]], cost + [extra[1]], reference)
    assert grown >= volume - 1e-12  # adding a point never shrinks the dominated region
    front = front_indices(accuracy, cost)
    assert hypervolume_2d([accuracy[i] for i in front], [cost[i] for i in front],
                          reference) == pytest.approx(volume, abs=1e-12)
    logged = hypervolume_2d(accuracy, np.log10(cost),
                            Reference(reference.accuracy, math.log10(reference.cost)))
    assert hypervolume_2d(accuracy, cost, reference, log_cost=True) == pytest.approx(
        logged, abs=1e-12)


def test_hypervolume_by_hand():
    reference = Reference(0.0, 10.0)
    assert hypervolume_2d([0.5], [2.0], reference) == pytest.approx(0.5 * 8.0)
    # staircase: (cost 2, acc 0.5) and (cost 6, acc 0.9): 0.5 * 8 + 0.4 * 4
    assert hypervolume_2d([0.5, 0.9, 0.4], [2.0, 6.0, 7.0], reference) == pytest.approx(5.6)
    assert hypervolume_2d([0.5], [10.0], reference) == 0.0  # on the reference: nothing
    assert hypervolume_2d([], [], reference) == 0.0
    assert hypervolume_2d([0.5], [1.0], reference, log_cost=True) == pytest.approx(0.5)


@pytest.mark.parametrize("call, message", [
    (lambda: pareto_front(np.zeros((3, 2)), [True]), r"values must be \(N, 1\)"),
    (lambda: front_indices([0.5, 0.6], [1.0]), "same length"),
    (lambda: hypervolume_2d([0.5, 0.6], [1.0], Reference(0, 2)), "same length"),
    (lambda: hypervolume_2d([math.nan], [1.0], Reference(0, 2)), "finite"),
    (lambda: hypervolume_2d([0.5], [0.0], Reference(0, 2), log_cost=True), "log_cost"),
])
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
