"""The crossbar counts' closed forms against a brute force: the weight matrix of small layers
placed on crossbars cell by cell; crossbars, cells, conversions and cycles counted one by one."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import CrossbarAccelerator, CrossbarMapping, Layer, crossbar_counts
from sim.crossbar.counts import matrix_counts


def _slices(weight_bits, cell_bits):
    slices, stored = 0, 0
    while stored < weight_bits:
        stored, slices = stored + cell_bits, slices + 1
    return slices


def _output_pixels(layer):
    """Input vectors by enumeration: every batch image and window position inside the padding."""
    rows = [p for p in range(layer.H + 2 * layer.padding)
            if p % layer.stride == 0 and p + layer.R <= layer.H + 2 * layer.padding]
    cols = [q for q in range(layer.W + 2 * layer.padding)
            if q % layer.stride == 0 and q + layer.S <= layer.W + 2 * layer.padding]
    return layer.N * len(rows) * len(cols)


def _pipeline(steps, read, sweep):
    """Each step: a crossbar read, latched into the sample-and-holds once the ADCs have finished
    the previous step; the next read starts when this one is latched."""
    read_start = conversions_end = 0
    for _ in range(steps):
        latch = max(read_start + read, conversions_end)
        conversions_end = latch + sweep
        read_start = latch
    return conversions_end


def brute_force(layer, acc, X):
    """Counts of ``layer`` on crossbars of size ``X``, by placing every weight slice in a cell."""
    slices = _slices(acc.weight_bits, acc.cell_bits)
    window = layer.C // layer.groups * layer.R * layer.S
    filters = layer.M // layer.groups
    cells = {}           # (group, row tile, column tile) -> X x X occupancy
    holds = {}           # the same key -> filters with a slice in that crossbar
    for g in range(layer.groups):
        place, tile, column = {}, 0, 0
        for f in range(filters):          # whole filters, left to right, a new crossbar when full
            if column + slices > X:
                tile, column = tile + 1, 0
            place[f] = (tile, column)
            column += slices
        for r in range(window):
            for f in range(filters):
                tile, first = place[f]
                for s in range(slices):
                    key = (g, r // X, tile)
                    array = cells.setdefault(key, np.zeros((X, X), dtype=bool))
                    assert not array[r % X, first + s]
                    array[r % X, first + s] = True
                    holds.setdefault(key, set()).add(f)
    vectors = _output_pixels(layer)
    cycles, streamed = 0, 0
    while streamed < acc.input_bits:
        streamed, cycles = streamed + acc.dac_bits, cycles + 1
    steps = vectors * cycles
    rows_used = [a.any(axis=1).sum() for a in cells.values()]
    cols_used = [a.any(axis=0).sum() for a in cells.values()]
    row_tiles_of = {}                     # (group, filter) -> crossbars holding its slices
    for (g, _, _), held in holds.items():
        for f in held:
            row_tiles_of[g, f] = row_tiles_of.get((g, f), 0) + 1
    psums = vectors * sum(n - 1 for n in row_tiles_of.values())
    tiles, free = 0, 0
    for _ in cells:
        if free == 0:
            tiles, free = tiles + 1, acc.crossbars_per_tile
        free -= 1
    adc_of_column = [c // acc.columns_per_adc for c in range(X)]
    sweep = max(adc_of_column.count(a) for a in set(adc_of_column))
    n = len(cells)
    return {
        "crossbars": n, "tiles": tiles,
        "used_cells": int(sum(a.sum() for a in cells.values())),
        "row_utilization": sum(rows_used) / (n * X),
        "column_utilization": sum(cols_used) / (n * X),
        "cell_utilization": sum(a.sum() for a in cells.values()) / (n * X * X),
        "input_vectors": vectors, "mvm_operations": n * steps,
        "dac_conversions": n * X * steps, "adc_conversions": n * X * steps,
        "cell_reads": int(sum(rows_used)) * X * steps,
        "shift_add_operations": int(sum(cols_used)) * steps,
        "psum_additions": psums, "psum_buffer_reads": psums, "psum_buffer_writes": psums,
        "input_buffer_reads": vectors * layer.groups * window,
        "output_buffer_writes": vectors * layer.M,
        "total_cycles": _pipeline(steps, acc.crossbar_read_cycles, sweep),
    }


@st.composite
def layers_and_accelerators(draw):
    groups = draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 1))
    size = draw(st.integers(max(1, kernel - 2 * padding), 6))
    layer = Layer(name="l", N=draw(st.integers(1, 2)), C=groups * draw(st.integers(1, 8)),
                  M=groups * draw(st.integers(1, 8)), H=size, W=draw(st.integers(size, 6)),
                  R=kernel, S=draw(st.integers(1, kernel)), stride=draw(st.integers(1, 2)),
                  padding=padding, groups=groups)
    acc = CrossbarAccelerator(
        crossbar_size=draw(st.sampled_from((16, 32))), cell_bits=draw(st.integers(1, 4)),
        weight_bits=draw(st.integers(1, 16)), input_bits=draw(st.integers(1, 8)),
        dac_bits=draw(st.integers(1, 3)),
        columns_per_adc=draw(st.sampled_from((1, 4, 16, 64))),
        crossbars_per_tile=draw(st.integers(1, 6)),
        crossbar_read_cycles=draw(st.integers(1, 40)))
    mapping = CrossbarMapping(draw(st.sampled_from((None, 16))))
    return layer, acc, mapping


@settings(max_examples=80, deadline=None)
@given(layers_and_accelerators())
def test_closed_forms_equal_the_brute_force(case):
    layer, acc, mapping = case
    counts = crossbar_counts(layer, acc, mapping)
    expected = brute_force(layer, acc, mapping.size(acc))
    for field, value in expected.items():
        assert getattr(counts, field) == value, field


def test_brute_force_on_a_hand_worked_case():
    # the 3x3x64 -> 64 conv of test_crossbar.py, cell by cell
    layer = Layer.conv("c", C=64, M=64, H=8, W=8, kernel=3)
    acc = CrossbarAccelerator(crossbar_size=128, cell_bits=2, weight_bits=8, input_bits=8)
    counts = brute_force(layer, acc, 128)
    assert (counts["crossbars"], counts["used_cells"], counts["adc_conversions"]) == (
        10, 147456, 655360)


def test_the_closed_forms_take_arrays():
    columns = {"window": [9, 576, 100], "filters": [1, 64, 10], "groups": [32, 1, 1],
               "vectors": [256, 64, 2], "crossbar_size": [64, 128, 16], "weight_slices": [2, 4, 3],
               "input_cycles": [4, 8, 4], "sweep_cycles": [16, 128, 16],
               "read_cycles": [120, 120, 120], "crossbars_per_tile": [8, 8, 8]}
    args = {name: np.array(values) for name, values in columns.items()}
    arrays = matrix_counts(**args)
    for i in range(3):
        scalar = matrix_counts(**{k: int(v[i]) for k, v in args.items()})
        for field, value in scalar._asdict().items():
            assert np.asarray(getattr(arrays, field))[i] == value, field
