"""Design spaces: validation, encoding layout, nearest-valid decoding (exact and always valid)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dianjax.refine.encoding import DesignSpace, Dimension

OPS = ("conv3", "conv5", "dwsep3", "skip")


def _space(is_valid=None) -> DesignSpace:
    """Two layers with per-layer op subsets, plus rows (ordinal) and dataflow (nominal)."""
    return DesignSpace((
        Dimension("layer0.op", OPS, "nominal", allowed=(0, 1, 2)),  # no skip where channels change
        Dimension("layer1.op", OPS, "nominal"),
        Dimension("rows", (8, 16, 32, 64)),
        Dimension("dataflow", ("ws", "os", "is"), "nominal"),
        Dimension("cols", (8, 16, 32, 64), allowed=(1, 2, 3)),
    ), is_valid)


def _small_array(design):
    """An 'area limit': rows * cols <= 512."""
    return (8, 16, 32, 64)[design[2]] * (8, 16, 32, 64)[design[4]] <= 512


def test_layout_and_encoding():
    space = _space()
    assert space.num_features == 3 + 4 + 1 + 3 + 1
    assert space.num_combinations == 3 * 4 * 4 * 3 * 3
    x = space.encode((2, 3, 1, 1, 3))
    np.testing.assert_array_equal(x, np.array([0, 0, 1, 0, 0, 0, 1, 1 / 3, 0, 1, 0, 1], np.float32))
    assert x.dtype == np.float32
    assert space.blocks == ((0, 3, True), (3, 7, True), (7, 8, False), (8, 11, True), (11, 12, False))
    assert space.values((2, 3, 1, 1, 3)) == {"layer0.op": "dwsep3", "layer1.op": "skip", "rows": 16,
                                             "dataflow": "os", "cols": 64}


def test_every_design_round_trips_and_encodings_are_distinct():
    space = _space(_small_array)
    designs = list(space.enumerate())
    assert 0 < len(designs) < space.num_combinations
    encoded = space.encode_many(designs)
    assert len({row.tobytes() for row in encoded}) == len(designs)
    for design, x in zip(designs, encoded):
        assert space.decode(x) == design


@pytest.mark.parametrize("design, match", [
    ((3, 0, 0, 0, 1), r"design index for 'layer0.op' must be one of \[0, 1, 2\]"),
    ((0, 0, 0, 0, 0), r"design index for 'cols' must be one of \[1, 2, 3\]"),
    ((0, 0, 0), r"design must have 5 indices"),
    ((0, 0, 0.5, 0, 1), r"design index for 'rows' must be one of"),
    ((0, 0, 3, 0, 3), r"fails the space's validity predicate"),
])
def test_invalid_designs_are_rejected(design, match):
    space = _space(_small_array)
    with pytest.raises(ValueError, match=match):
        space.encode(design)
    assert not space.contains(design)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "", "values": (1, 2)}, r"Dimension.name must be a non-empty string"),
    ({"name": "d", "values": ()}, r"values must be a non-empty sequence"),
    ({"name": "d", "values": (1, 1)}, r"values must be unique"),
    ({"name": "d", "values": (1, 2), "kind": "cyclic"},
     r"kind must be one of \['ordinal', 'nominal'\]"),
    ({"name": "d", "values": (1, 2), "allowed": (2,)}, r"allowed must hold indices in \[0, 1\]"),
    ({"name": "d", "values": (1, 2), "allowed": (1, 0)}, r"sorted list of unique indices"),
    ({"name": "d", "values": (1, 2), "allowed": ()}, r"non-empty, sorted"),
])
def test_bad_dimensions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Dimension(**kwargs)


def test_bad_spaces():
    with pytest.raises(ValueError, match=r"duplicate names \['a'\]"):
        DesignSpace((Dimension("a", (1, 2)), Dimension("a", (1, 2))))
    with pytest.raises(ValueError, match=r"must hold at least one Dimension"):
        DesignSpace(())
    with pytest.raises(ValueError, match=r"x must be a finite vector of shape \(12,\)"):
        _space().decode(np.zeros(3))


def test_dimension_json_round_trip():
    space = _space()
    for dim in space.dimensions:
        assert Dimension.from_dict(dim.to_dict()) == dim
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['size'\]"):
        Dimension.from_dict({"name": "a", "values": [1], "size": 3})


def _brute_force_nearest(space, x, exclude):
    best = None
    for design in space.enumerate():
        if design in exclude:
            continue
        distance = float(np.sum((space.encode(design).astype(np.float64) - np.clip(x, 0, 1)) ** 2))
        if best is None or distance < best[0] - 1e-12:
            best = (distance, design)
    return best


@settings(max_examples=60, deadline=None)
@given(x=st.lists(st.floats(-0.5, 1.5), min_size=12, max_size=12),
       num_excluded=st.integers(0, 20), with_predicate=st.booleans())
def test_decode_is_the_nearest_admissible_design(x, num_excluded, with_predicate):
    space = _space(_small_array if with_predicate else None)
    x = np.array(x)
    exclude = set(itertools.islice(space.enumerate(), num_excluded))
    design = space.decode(x, exclude=exclude)
    assert space.contains(design) and design not in exclude
    best_distance, _ = _brute_force_nearest(space, x, exclude)
    distance = float(np.sum((space.encode(design).astype(np.float64) - np.clip(x, 0, 1)) ** 2))
    assert distance == pytest.approx(best_distance, abs=1e-9)


def test_decode_raises_when_everything_is_excluded():
    space = DesignSpace((Dimension("a", (1, 2)), Dimension("b", ("x", "y"), "nominal")))
    with pytest.raises(ValueError, match=r"no valid design outside the 4 excluded ones"):
        space.decode(np.zeros(3), exclude=set(space.enumerate()))


def test_sample_gives_distinct_valid_new_designs():
    space = _space(_small_array)
    rng = np.random.default_rng(0)
    exclude = set(space.sample(rng, 5))
    designs = space.sample(rng, 30, exclude=exclude)
    assert len(set(designs)) == 30 and not exclude & set(designs)
    assert all(space.contains(d) for d in designs)
    assert space.sample(np.random.default_rng(7), 4) == space.sample(np.random.default_rng(7), 4)
    with pytest.raises(ValueError, match=r"found only \d+ of num=1000"):
        space.sample(rng, 1000)
