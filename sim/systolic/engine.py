"""Cycle-stepping systolic-array engine: the slow test oracle, not the production path.

What it models. A ``rows`` x ``cols`` array of MAC processing elements (PEs) runs one GEMM
``O = A @ B`` (``A``: the ifmap operand matrix, one row per output pixel and one column per window
element; ``B``: the filter operand matrix, window x filters), fold by fold, exactly in the order and
with the timing of SCALE-Sim 3.0.0 (``scalesim/compute/systolic_compute_{ws,os,is}.py``). Every
cycle, numpy register arrays of shape ``(rows, cols)`` shift by one PE, and each PE performs one MAC
when both of its operands are valid, so the product really is computed by operands meeting in the
array (the tests check ``output == A @ B``). Fold sizes follow SCALE-Sim's ``S_r``, ``S_c``, ``T``:

====  ============================  ===================  ===================
flow  S_r (array rows)              S_c (array columns)  T (time)
====  ============================  ===================  ===================
ws    window  (filter stationary)   filters              output pixels
is    window  (ifmap stationary)    output pixels        filters
os    output pixels                 filters              window
====  ============================  ===================  ===================

with ``ceil(S_r/rows) * ceil(S_c/cols)`` folds, run one after another in the order of the
:class:`sim.systolic.mapping.Mapping` (SCALE-Sim's default: column folds outer, row folds inner).

* ws / is: the stationary block is loaded through the columns from the top edge, one row per
  cycle, last row first, for ``rows`` cycles (the fill of a full column); then the moving operand
  enters the left edge, row ``r`` skewed by ``r`` cycles, and moves right one PE per cycle, while
  partial sums move down one PE per cycle and leave the bottom edge into the ofmap SRAM. Partial
  sums of row folds accumulate in the ofmap SRAM (SCALE-Sim counts the writes, not the re-reads).
* os: ifmap rows enter the left edge (row ``r`` skewed by ``r``), filter columns enter the top
  edge (column ``c`` skewed by ``c``), and each PE accumulates its own output over ``T`` MACs.
  PE ``(r, c)`` finishes on cycle ``T - 1 + r + c`` of its fold, so at most one PE per column
  finishes in any cycle; it writes its result to the ofmap SRAM over its column's output bus in
  that cycle (``cols`` words per cycle, the bandwidth of the ws/is bottom edge). The engine checks
  that no column bus is driven twice in a cycle.

Conventions (SCALE-Sim's, so that the counts equal its reports).

* The edges of the array are fed on a fixed skewed schedule over the *full* array, unused rows and
  columns receiving empty slots (SCALE-Sim's ``-1`` null requests); a fold lasts until the last slot
  has left the array, ``2*rows + cols + T - 2`` cycles for ws/is and ``rows + cols + T - 2`` for os,
  and the next fold starts on the following cycle.
* ``compute_cycles`` is the index of the last busy cycle, the first cycle being cycle 0, i.e. one
  less than the number of busy cycles; this is SCALE-Sim's "Total Cycles - Stall Cycles".
* SRAM reads count the operand words that enter the array from an edge; ofmap SRAM writes count the
  results that leave it (partial sums included). SCALE-Sim 3.0.0's os ofmap counter also adds the
  padded fold's ``rows + cols`` once per fold (``create_ofmap_demand_mat`` in
  ``systolic_compute_os.py``: ``self.ofmap_writes += this_fold_demand.shape[0] +
  this_fold_demand.shape[1]``); the engine adds the same so that its count is SCALE-Sim's.
* A convolution is lowered to one GEMM per group (:func:`conv_gemm_operands`): ``A`` has
  ``N*P*Q`` rows and ``R*S*C/groups`` columns (window in SCALE-Sim's (r, s, c) order), ``B`` has
  ``M/groups`` columns; groups run one after another and their counts add, as SCALE-Sim runs a
  depthwise layer one channel at a time.

Units: cycles of the array clock; reads and writes in words; MACs in multiply-accumulates.
The engine runs a Python loop over cycles: use it for small problems (thousands of cycles).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.systolic.architecture import Accelerator
from sim.systolic.mapping import Mapping
from sim.workload import Layer


@dataclasses.dataclass(frozen=True)
class EngineResult:
    """What the engine computed and counted for one GEMM or one layer.

    Attributes:
      output: the product as it left the array, ``(pixels, filters)`` for a GEMM and
        ``(N, M, P, Q)`` for a layer.
      compute_cycles: SCALE-Sim's compute cycles (index of the last busy cycle).
      ifmap_sram_reads, filter_sram_reads, ofmap_sram_writes: SRAM accesses in words, as SCALE-Sim
        counts them.
      macs: MACs performed with two valid operands.
      folds: folds run.
    """

    output: np.ndarray
    compute_cycles: int
    ifmap_sram_reads: int
    filter_sram_reads: int
    ofmap_sram_writes: int
    macs: int
    folds: int


@dataclasses.dataclass
class _Counts:
    """Mutable tallies of one engine run (private, never returned)."""

    busy_cycles: int = 0
    top_edge_reads: int = 0     # words read from SRAM into the top edge of the array
    left_edge_reads: int = 0    # words read from SRAM into the left edge of the array
    writes: int = 0
    macs: int = 0
    folds: int = 0


def _fold_ranges(size: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, size)) for start in range(0, size, tile)]


def _fold_order(row_size: int, col_size: int, rows: int, cols: int,
                mapping: Mapping) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (row range, column range) of every fold, in the mapping's loop order."""
    row_ranges, col_ranges = _fold_ranges(row_size, rows), _fold_ranges(col_size, cols)
    if mapping.fold_order == "col_outer":
        return [(r, c) for c in col_ranges for r in row_ranges]
    return [(r, c) for r in row_ranges for c in col_ranges]


def _stationary_fold(stationary: np.ndarray, moving: np.ndarray, rows: int, cols: int,
                     out: np.ndarray, counts: _Counts) -> None:
    """Runs one ws/is fold: ``out[t, c] += sum_k moving[t, k] * stationary[k, c]``.

    ``stationary`` is the ``(rows_used, cols_used)`` block held in the PEs, ``moving`` the
    ``(T, rows_used)`` operand streamed from the left edge; ``out`` is the fold's ``(T, cols_used)``
    slice of the ofmap SRAM.
    """
    rows_used, cols_used = stationary.shape
    steps_t = moving.shape[0]
    dtype = out.dtype

    # Fill: the stationary block enters the top edge, last row first, and shifts down one row per
    # cycle for a full column of `rows` cycles, so that row r ends in PE row r.
    weight = np.zeros((rows, cols), dtype)
    weight_valid = np.zeros((rows, cols), bool)
    for cycle in range(rows):
        weight[1:] = weight[:-1]
        weight_valid[1:] = weight_valid[:-1]
        source_row = rows - 1 - cycle
        weight[0] = 0
        weight_valid[0] = False
        if source_row < rows_used:
            weight[0, :cols_used] = stationary[source_row]
            weight_valid[0, :cols_used] = True
            counts.top_edge_reads += cols_used
        counts.busy_cycles += 1

    # Stream: row r of the left edge gets moving[t, r] at stream cycle t + r (slots exist for every
    # array row; rows >= rows_used carry empty slots). Partial sums start in PE row 0, carrying the
    # tag of the moving row they belong to, and move down one PE per cycle.
    operand = np.zeros((rows, cols), dtype)
    operand_slot = np.zeros((rows, cols), bool)    # a slot (possibly empty) occupies the PE
    operand_valid = np.zeros((rows, cols), bool)   # the slot carries a real operand
    operand_tag = np.zeros((rows, cols), np.int64)
    psum = np.zeros((rows, cols), dtype)
    psum_slot = np.zeros((rows, cols), bool)
    psum_tag = np.zeros((rows, cols), np.int64)
    row_ids = np.arange(rows)
    used_rows = row_ids < rows_used
    last_injection = steps_t - 1 + rows - 1
    cycle = 0
    while True:
        for register in (operand, operand_slot, operand_valid, operand_tag):
            register[:, 1:] = register[:, :-1]
        t = cycle - row_ids
        feeding = (t >= 0) & (t < steps_t)
        reading = feeding & used_rows
        operand_slot[:, 0] = feeding
        operand_valid[:, 0] = reading
        operand_tag[:, 0] = t
        operand[:, 0] = 0
        operand[reading, 0] = moving[t[reading], row_ids[reading]]
        counts.left_edge_reads += int(reading.sum())

        for register in (psum, psum_slot, psum_tag):
            register[1:] = register[:-1]
        psum[0] = 0
        psum_slot[0] = operand_slot[0]
        psum_tag[0] = operand_tag[0]
        mac = operand_valid & weight_valid
        psum[mac] += operand[mac] * weight[mac]
        counts.macs += int(mac.sum())

        leaving = psum_slot[rows - 1, :cols_used]
        tags = psum_tag[rows - 1, :cols_used][leaving]
        out[tags, np.flatnonzero(leaving)] += psum[rows - 1, :cols_used][leaving]
        counts.writes += int(leaving.sum())

        counts.busy_cycles += 1
        cycle += 1
        # Slots leave the array past the right edge (operands) and the bottom edge (psums).
        operand_slot[:, -1] = operand_valid[:, -1] = False
        psum_slot[-1] = False
        if cycle > last_injection and not operand_slot.any() and not psum_slot.any():
            break


def _output_stationary_fold(a: np.ndarray, b: np.ndarray, rows: int, cols: int,
                            out: np.ndarray, counts: _Counts) -> None:
    """Runs one os fold: PE (r, c) computes ``out[r, c] = sum_k a[r, k] * b[k, c]``.

    ``a`` is the fold's ``(rows_used, T)`` ifmap block entering the left edge, ``b`` its
    ``(T, cols_used)`` filter block entering the top edge, ``out`` the fold's slice of the ofmap
    SRAM.
    """
    rows_used, steps_t = a.shape
    cols_used = b.shape[1]
    dtype = out.dtype
    left = np.zeros((rows, cols), dtype)
    left_slot = np.zeros((rows, cols), bool)
    left_valid = np.zeros((rows, cols), bool)
    top = np.zeros((rows, cols), dtype)
    top_slot = np.zeros((rows, cols), bool)
    top_valid = np.zeros((rows, cols), bool)
    acc = np.zeros((rows, cols), dtype)
    macs_done = np.zeros((rows, cols), np.int64)
    row_ids, col_ids = np.arange(rows), np.arange(cols)
    used_rows, used_cols = row_ids < rows_used, col_ids < cols_used
    last_injection = steps_t - 1 + max(rows, cols) - 1
    cycle = 0
    while True:
        for register in (left, left_slot, left_valid):
            register[:, 1:] = register[:, :-1]
        k_left = cycle - row_ids
        feeding = (k_left >= 0) & (k_left < steps_t)
        reading = feeding & used_rows
        left_slot[:, 0] = feeding
        left_valid[:, 0] = reading
        left[:, 0] = 0
        left[reading, 0] = a[row_ids[reading], k_left[reading]]
        counts.left_edge_reads += int(reading.sum())

        for register in (top, top_slot, top_valid):
            register[1:] = register[:-1]
        k_top = cycle - col_ids
        feeding = (k_top >= 0) & (k_top < steps_t)
        reading = feeding & used_cols
        top_slot[0] = feeding
        top_valid[0] = reading
        top[0] = 0
        top[0, reading] = b[k_top[reading], col_ids[reading]]
        counts.top_edge_reads += int(reading.sum())

        mac = left_valid & top_valid
        acc[mac] += left[mac] * top[mac]
        macs_done[mac] += 1
        counts.macs += int(mac.sum())

        # A PE that has done its T MACs drives its column's output bus to the ofmap SRAM.
        finished = mac & (macs_done == steps_t)
        if (finished.sum(axis=0) > 1).any():
            raise AssertionError("os column output bus driven by two PEs in one cycle")
        done_rows, done_cols = np.nonzero(finished)
        out[done_rows, done_cols] = acc[done_rows, done_cols]
        counts.writes += done_rows.size

        counts.busy_cycles += 1
        cycle += 1
        # Slots leave the array past the right (left operands) and bottom (top operands) edges.
        left_slot[:, -1] = left_valid[:, -1] = False
        top_slot[-1] = top_valid[-1] = False
        if cycle > last_injection and not left_slot.any() and not top_slot.any():
            break


def run_gemm(ifmap_matrix: np.ndarray, filter_matrix: np.ndarray, accelerator: Accelerator,
             mapping: Mapping | None = None) -> EngineResult:
    """Runs ``ifmap_matrix @ filter_matrix`` cycle by cycle on the accelerator's array.

    Args:
      ifmap_matrix: ``(pixels, window)`` ifmap operand matrix (SCALE-Sim's ifmap matrix).
      filter_matrix: ``(window, filters)`` filter operand matrix.
      accelerator: gives ``rows``, ``cols`` and ``dataflow``; memories are not modelled here.
      mapping: the fold loop order; ``None`` is SCALE-Sim's (``Mapping()``).

    Returns:
      An :class:`EngineResult` whose ``output`` is the ``(pixels, filters)`` product as it left
      the array and whose counts are SCALE-Sim's for this GEMM.
    """
    a, b = _checked_operands(ifmap_matrix, filter_matrix)
    mapping = Mapping() if mapping is None else mapping
    if not isinstance(mapping, Mapping):
        raise ValueError(f"engine.run_gemm: mapping must be a sim.Mapping or None, "
                         f"got {type(mapping).__name__}")
    rows, cols, dataflow = accelerator.rows, accelerator.cols, accelerator.dataflow
    pixels, window = a.shape
    filters = b.shape[1]
    dtype = np.int64 if np.issubdtype(np.result_type(a, b), np.integer) else np.float64
    a, b = a.astype(dtype), b.astype(dtype)
    counts = _Counts()
    output = np.zeros((pixels, filters), dtype)

    if dataflow in ("ws", "is"):
        # ws: window x filters stationary, pixels stream; is: window x pixels stationary, filters
        # stream and the outputs leave transposed.
        stationary = b if dataflow == "ws" else a.T
        moving = a if dataflow == "ws" else b.T
        target = output if dataflow == "ws" else output.T
        for (row_start, row_end), (col_start, col_end) in _fold_order(
                window, stationary.shape[1], rows, cols, mapping):
            _stationary_fold(stationary[row_start:row_end, col_start:col_end],
                             moving[:, row_start:row_end], rows, cols,
                             target[:, col_start:col_end], counts)
            counts.folds += 1
        writes = counts.writes
    else:
        for (row_start, row_end), (col_start, col_end) in _fold_order(
                pixels, filters, rows, cols, mapping):
            _output_stationary_fold(a[row_start:row_end], b[:, col_start:col_end], rows, cols,
                                    output[row_start:row_end, col_start:col_end], counts)
            counts.folds += 1
        writes = counts.writes + counts.folds * (rows + cols)   # SCALE-Sim's os counter, see above
    # The ifmap enters the left edge in ws and os and is loaded through the top edge in is.
    ifmap_reads, filter_reads = ((counts.top_edge_reads, counts.left_edge_reads) if dataflow == "is"
                                 else (counts.left_edge_reads, counts.top_edge_reads))

    return EngineResult(output=output, compute_cycles=counts.busy_cycles - 1,
                        ifmap_sram_reads=ifmap_reads, filter_sram_reads=filter_reads,
                        ofmap_sram_writes=writes, macs=counts.macs, folds=counts.folds)


def conv_gemm_operands(layer: Layer, ifmap: np.ndarray,
                       weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Lowers a convolution to one ``(ifmap_matrix, filter_matrix)`` GEMM pair per group.

    Args:
      layer: the layer; its padding is applied here as zeros.
      ifmap: ``(N, C, H, W)`` input feature map.
      weights: ``(M, C // groups, R, S)`` filters.

    Returns:
      ``groups`` pairs: ``(N*P*Q, R*S*C/groups)`` and ``(R*S*C/groups, M/groups)`` matrices, the
      window in SCALE-Sim's (r, s, c) order and pixels in (n, p, q) order.
    """
    if not isinstance(layer, Layer):
        raise ValueError(f"engine.conv_gemm_operands: layer must be a sim.Layer, "
                         f"got {type(layer).__name__}")
    _check_array("ifmap", ifmap, (layer.N, layer.C, layer.H, layer.W))
    channels, filters = layer.C // layer.groups, layer.M // layer.groups
    _check_array("weights", weights, (layer.M, channels, layer.R, layer.S))
    pad = layer.padding
    padded = np.pad(ifmap, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rs = np.arange(layer.R)[:, None] + layer.stride * np.arange(layer.P)[None, :]   # (R, P)
    ss = np.arange(layer.S)[:, None] + layer.stride * np.arange(layer.Q)[None, :]   # (S, Q)
    # windows[n, c, r, s, p, q] = padded[n, c, p*stride + r, q*stride + s]
    windows = padded[:, :, rs[:, None, :, None], ss[None, :, None, :]]
    pairs = []
    for group in range(layer.groups):
        block = windows[:, group * channels:(group + 1) * channels]          # (N, Cg, R, S, P, Q)
        a = block.transpose(0, 4, 5, 2, 3, 1).reshape(layer.N * layer.P * layer.Q, -1)
        w = weights[group * filters:(group + 1) * filters]                    # (Mg, Cg, R, S)
        b = w.transpose(2, 3, 1, 0).reshape(-1, filters)
        pairs.append((a, b))
    return pairs


def run_layer(layer: Layer, accelerator: Accelerator, ifmap: np.ndarray, weights: np.ndarray,
              mapping: Mapping | None = None) -> EngineResult:
    """Runs a convolution / pointwise / FC layer group by group on the engine.

    Args:
      layer: the layer.
      accelerator: gives ``rows``, ``cols`` and ``dataflow``.
      ifmap: ``(N, C, H, W)`` input; weights: ``(M, C // groups, R, S)`` filters.
      mapping: the fold loop order; ``None`` is SCALE-Sim's (``Mapping()``).

    Returns:
      An :class:`EngineResult` with the ``(N, M, P, Q)`` output and the counts summed over groups
      (each group is one SCALE-Sim layer, so its compute cycles add).
    """
    results = [run_gemm(a, b, accelerator, mapping)
               for a, b in conv_gemm_operands(layer, ifmap, weights)]
    per_group = [r.output.reshape(layer.N, layer.P, layer.Q, -1) for r in results]
    output = np.concatenate(per_group, axis=3).transpose(0, 3, 1, 2)
    return EngineResult(output=output,
                        compute_cycles=sum(r.compute_cycles for r in results),
                        ifmap_sram_reads=sum(r.ifmap_sram_reads for r in results),
                        filter_sram_reads=sum(r.filter_sram_reads for r in results),
                        ofmap_sram_writes=sum(r.ofmap_sram_writes for r in results),
                        macs=sum(r.macs for r in results),
                        folds=sum(r.folds for r in results))


def _checked_operands(ifmap_matrix: object, filter_matrix: object) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(ifmap_matrix), np.asarray(filter_matrix)
    for name, m in (("ifmap_matrix", a), ("filter_matrix", b)):
        if m.ndim != 2 or 0 in m.shape:
            raise ValueError(f"engine.run_gemm: {name} must be a non-empty 2-D array, "
                             f"got shape {m.shape}")
        if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
            raise ValueError(f"engine.run_gemm: {name} must hold integers or floats, "
                             f"got dtype {m.dtype}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"engine.run_gemm: ifmap_matrix columns ({a.shape[1]}) must equal "
                         f"filter_matrix rows ({b.shape[0]}); allowed: matching window sizes")
    return a, b


def _check_array(name: str, value: object, shape: tuple[int, ...]) -> None:
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"engine.conv_gemm_operands: {name} must have shape {shape}, "
                         f"got {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"engine.conv_gemm_operands: {name} must hold integers or floats, "
                         f"got dtype {array.dtype}")


__all__ = ["EngineResult", "conv_gemm_operands", "run_gemm", "run_layer"]
