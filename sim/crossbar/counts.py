"""Exact action counts and cycles of one layer on crossbars, in closed form.

Under the mapping convention of :mod:`sim.crossbar.mapping` (``window = R*S*C/groups`` rows,
``filters = M/groups``, ``slices`` columns per filter, X x X crossbars), with
``vectors = N*P*Q`` input vectors (one per output pixel) and ``input_cycles`` bit-serial cycles
per vector (inputs are unsigned magnitudes, as after a ReLU: signed inputs would need a second
pass, which is not counted), one *step* is one input cycle of one vector on every crossbar of the
layer at once:

    steps                 = vectors * input_cycles
    mvm_operations        = crossbars * steps             (one crossbar read per crossbar per step)
    dac_conversions       = mvm_operations * X            (a crossbar's DACs all convert, used or
    adc_conversions       = mvm_operations * X             not: peripherals of a whole crossbar;
                                                           one sample-and-hold per conversion)
    cell_reads            = groups * column tiles * window * X * steps
                            (cells on driven rows: every used row drives all X columns)
    shift_add_operations  = groups * row tiles * filters * slices * steps
                            (each used column's conversion is shifted by its input-bit and
                            slice significance and added into its filter's partial sum)
    psum_additions        = vectors * M * (row tiles - 1)
                            (partial sums of a filter's row tiles added in the tile buffer)
    input_buffer_reads    = vectors * groups * window     (a vector's window words, padding
                                                           included, broadcast to column tiles)
    output_buffer_writes  = vectors * M
    psum_buffer_reads     = psum_buffer_writes = psum_additions
                            (read-modify-write: the first row tile writes, each later one reads
                            the running sum and writes it back; the last write is the output's)

Latency: a crossbar read of ``crossbar_read_cycles`` and the ADC sweep of ``sweep`` cycles (an
ADC converts its ``sweep = min(columns_per_adc, X)`` columns one per cycle) form a two-stage
pipeline: the sample-and-holds let the next read proceed while the ADCs sweep (ISAAC), so ``steps``
steps take

    total_cycles = steps * max(read, sweep) + min(read, sweep).

Digital shift-adds, partial-sum accumulation and buffer traffic are taken to keep up (they are
pipelined behind the ADCs and add no cycles). Every count is exact under this convention; the
tests check them against a brute-force tiling of the weight matrix, cell by cell.
:func:`matrix_counts` and :func:`pipeline_cycles` take Python integers or equally-shaped numpy
integer arrays alike (:mod:`sim.arith`).
"""

from __future__ import annotations

from typing import NamedTuple

from sim.arith import ceil_div, maximum
from sim.crossbar.architecture import CrossbarAccelerator
from sim.crossbar.mapping import CrossbarMapping
from sim.workload import Layer


class CrossbarCounts(NamedTuple):
    """Crossbar usage, action counts and cycles of one layer (module docstring)."""

    crossbar_size: int
    row_tiles: int               # per group
    column_tiles: int            # per group
    filters_per_crossbar: int
    crossbars: int
    tiles: int
    used_cells: int              # cells holding a weight slice
    row_utilization: float       # used rows / rows of the layer's crossbars
    column_utilization: float    # used columns / columns of the layer's crossbars
    cell_utilization: float      # used cells / cells of the layer's crossbars
    input_vectors: int
    mvm_operations: int
    dac_conversions: int
    adc_conversions: int
    cell_reads: int
    shift_add_operations: int
    psum_additions: int
    input_buffer_reads: int
    output_buffer_writes: int
    psum_buffer_reads: int
    psum_buffer_writes: int
    total_cycles: int


def pipeline_cycles(steps, read_cycles, sweep_cycles):
    """Cycles of ``steps`` crossbar reads, each followed by its ADC sweep, overlapped two-deep:
    ``steps * max(read, sweep) + min(read, sweep)``."""
    longer = maximum(read_cycles, sweep_cycles)
    return steps * longer + (read_cycles + sweep_cycles - longer)


def matrix_counts(window, filters, groups, vectors, crossbar_size, weight_slices, input_cycles,
                  sweep_cycles, read_cycles, crossbars_per_tile) -> CrossbarCounts:
    """The counts of ``groups`` weight matrices of ``window`` rows by ``filters`` filters of
    ``weight_slices`` columns each, on crossbars of ``crossbar_size`` (module docstring)."""
    X = crossbar_size
    row_tiles = ceil_div(window, X)
    filters_per_crossbar = X // weight_slices
    column_tiles = ceil_div(filters, filters_per_crossbar)
    crossbars = groups * row_tiles * column_tiles
    used_cells = groups * window * filters * weight_slices
    steps = vectors * input_cycles
    mvm = crossbars * steps
    psum = vectors * groups * filters * (row_tiles - 1)
    return CrossbarCounts(
        crossbar_size=X, row_tiles=row_tiles, column_tiles=column_tiles,
        filters_per_crossbar=filters_per_crossbar, crossbars=crossbars,
        tiles=ceil_div(crossbars, crossbars_per_tile), used_cells=used_cells,
        row_utilization=window / (row_tiles * X),
        column_utilization=filters * weight_slices / (column_tiles * X),
        cell_utilization=used_cells / (crossbars * X * X),
        input_vectors=vectors, mvm_operations=mvm, dac_conversions=mvm * X,
        adc_conversions=mvm * X,
        cell_reads=groups * column_tiles * window * X * steps,
        shift_add_operations=groups * row_tiles * filters * weight_slices * steps,
        psum_additions=psum, input_buffer_reads=vectors * groups * window,
        output_buffer_writes=vectors * groups * filters, psum_buffer_reads=psum,
        psum_buffer_writes=psum,
        total_cycles=pipeline_cycles(steps, read_cycles, sweep_cycles))


def crossbar_counts(layer: Layer, accelerator: CrossbarAccelerator,
                    mapping: CrossbarMapping | None = None) -> CrossbarCounts:
    """The exact counts of ``layer`` on ``accelerator`` under ``mapping`` (default: the
    architecture's crossbar size)."""
    X = (mapping or CrossbarMapping()).size(accelerator)
    groups = layer.groups
    return matrix_counts(
        window=(layer.C // groups) * layer.R * layer.S, filters=layer.M // groups, groups=groups,
        vectors=layer.N * layer.P * layer.Q, crossbar_size=X,
        weight_slices=accelerator.weight_slices, input_cycles=accelerator.input_cycles,
        sweep_cycles=X // accelerator.adcs_per_crossbar(X),
        read_cycles=accelerator.crossbar_read_cycles,
        crossbars_per_tile=accelerator.crossbars_per_tile)
