"""SCALE-Sim's fold schedule in closed form: compute cycles and SRAM accesses of one GEMM.

The GEMM (``S_r`` x ``S_c`` spatial, ``T`` temporal, see :mod:`sim.systolic.lowering`) is cut into

    row_folds = ceil(S_r / rows),   col_folds = ceil(S_c / cols),   folds = row_folds * col_folds

and SCALE-Sim 3.0.0 (``compute/systolic_compute_{os,ws,is}.py``) runs the folds one after another,
each padded to the full array, with fill and drain (skew) inside every fold. A fold takes, in cycles,

    os:       T + rows + cols - 2          (stream T, skew over rows and cols)
    ws, is:   2 * rows + cols + T - 2      (load the stationary tile over rows, then stream T)

and the layer reports the index of its last cycle ("Total Cycles - Stall Cycles" of SCALE-Sim's
COMPUTE_REPORT.csv), so

    compute_cycles = folds * cycles_per_fold - 1.

SRAM accesses by the array (SCALE-Sim's DETAILED_ACCESS_REPORT.csv counts them from the same
per-fold demand matrices) in words:

    dataflow  ifmap SRAM reads        filter SRAM reads       ofmap SRAM writes
    "os"      col_folds * T * S_r     row_folds * T * S_c     S_r * S_c + folds * (rows + cols)
    "ws"      col_folds * T * S_r     S_r * S_c               row_folds * T * S_c
    "is"      S_r * S_c               col_folds * T * S_r     row_folds * T * S_c

(The ``folds * (rows + cols)`` term of the output-stationary ofmap count is SCALE-Sim's own: it adds
the padded fold's height plus width once per fold; we keep it so the counts stay identical.)

Every function here is plain integer arithmetic (``+``, ``*``, ceil-division), so it takes Python
ints or equally-shaped numpy integer arrays and transcribes one to one into ``jax.numpy``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim import checks
from sim.arith import ceil_div
from sim.systolic.architecture import DATAFLOWS


class FoldSchedule(NamedTuple):
    """The fold-level schedule of one GEMM on one array (one group of a layer)."""

    row_folds: int
    col_folds: int
    folds: int
    cycles_per_fold: int
    compute_cycles: int
    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int


def _positive_integers(owner: str, field: str, value) -> None:
    """Raises a ValueError unless ``value`` is an integer >= 1 or an integer array of them."""
    if type(value) is int and value >= 1:
        return
    array = np.asarray(value)
    if array.dtype.kind not in "iu" or array.size == 0 or array.min() < 1:
        raise ValueError(f"{owner}.{field} must be integer(s) >= 1, got {value!r}")


def cycles_per_fold(T, rows, cols, dataflow: str):
    """Cycles of one fold, fill and drain included (see the module docstring)."""
    checks.one_of("cycles_per_fold", "dataflow", dataflow, DATAFLOWS)
    if dataflow == "os":
        return T + rows + cols - 2
    return 2 * rows + cols + T - 2


def fold_schedule(Sr, Sc, T, rows, cols, dataflow: str) -> FoldSchedule:
    """Compute cycles and SRAM accesses of an ``Sr`` x ``Sc`` x ``T`` GEMM, as SCALE-Sim counts them.

    Args:
      Sr, Sc, T: spatial-row, spatial-column and temporal GEMM sizes (>= 1).
      rows, cols: systolic array shape (>= 1).
      dataflow: "os", "ws" or "is".

    Returns:
      a :class:`FoldSchedule`; every field equals SCALE-Sim 3.0.0's figure for the same GEMM.
    """
    checks.one_of("fold_schedule", "dataflow", dataflow, DATAFLOWS)
    for name, value in (("Sr", Sr), ("Sc", Sc), ("T", T), ("rows", rows), ("cols", cols)):
        _positive_integers("fold_schedule", name, value)
    row_folds = ceil_div(Sr, rows)
    col_folds = ceil_div(Sc, cols)
    folds = row_folds * col_folds
    per_fold = cycles_per_fold(T, rows, cols, dataflow)
    if dataflow == "os":
        reads = (col_folds * T * Sr, row_folds * T * Sc, Sr * Sc + folds * (rows + cols))
    elif dataflow == "ws":
        reads = (col_folds * T * Sr, Sr * Sc, row_folds * T * Sc)
    else:
        reads = (Sr * Sc, col_folds * T * Sr, row_folds * T * Sc)
    return FoldSchedule(row_folds=row_folds, col_folds=col_folds, folds=folds,
                        cycles_per_fold=per_fold, compute_cycles=folds * per_fold - 1,
                        ifmap_sram_reads=reads[0], filter_sram_reads=reads[1],
                        ofmap_sram_writes=reads[2])
