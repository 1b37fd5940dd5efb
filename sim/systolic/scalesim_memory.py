"""SCALE-Sim 3.0.0's memory system in USER-bandwidth mode, re-implemented: stalls and DRAM traffic.

What this is
------------
A compatibility model: for one layer it gives exactly the ``Stall Cycles`` (COMPUTE_REPORT.csv) and
the ``DRAM IFMAP Reads``, ``DRAM Filter Reads`` and ``DRAM OFMAP Writes``
(DETAILED_ACCESS_REPORT.csv) that SCALE-Sim 3.0.0 reports with ``InterfaceBandwidth: USER``, no
Ramulator trace, no custom layout and no sparsity. It is our own implementation of the algorithm of
SCALE-Sim's ``double_buffered_scratchpad`` (``read_buffer`` for ifmap and filter,
``write_buffer`` for ofmap), checked case by case against SCALE-Sim
(``benchmarks/scalesim_crosscheck.py --memory``, ``tests/sim/test_scalesim_memory.py``). It does
not import SCALE-Sim. It is not the project's memory model (:mod:`sim.systolic.memory`), which is
analytical; this one reproduces SCALE-Sim's trace-driven buffers, quirks included.

SCALE-Sim's model, as re-implemented here
-----------------------------------------
The compute side turns the layer into per-cycle demand rows (one row per cycle before stalls, one
column per array row or column; SCALE-Sim's fold order: column folds outer, row folds inner) and,
per read operand, a *prefetch sequence*: the order in which the operand matrix is streamed from
DRAM (anti-diagonal or row order of the folds stacked, per dataflow and operand).

Read buffer (ifmap, filter), per operand: SRAM of ``E`` words (words = elements), active half
``ceil(E / 2)``, prefetch half ``E - ceil(E / 2)``. The prefetch sequence (invalid entries dropped)
is cut into *lines* of ``ceil(E / 100)`` consecutive entries (``L`` lines, the last one partial,
possibly empty), used as a ring. The active window holds ``A = min(L, ceil(active / line))``
consecutive lines of the ring, and each prefetch moves it ``P = min(L - A, ceil(prefetch / line))``
lines on. Every demanded address is looked up in the window, in row order; while it misses, one
more prefetch is made. The words moved are counted in whole bandwidth lines: the first fill
``min(ceil(active / bw), ceil(size / bw)) * bw`` words (``size``: the prefetch matrix, padding
included), each prefetch ``ceil(prefetch / bw) * bw`` words. The first fill is done at cycle -1 and
prefetch ``j`` (counted over the layer) at ``T_j = -1 + j * d``, ``d = ceil(prefetch / bw) + 1``,
whatever the cycle of the demand that asked for it. A row at cycle ``c`` that makes prefetches
``j0+1 .. j0+m`` is served at ``z_m = T_(j0+m) + e_m``, with ``e_1 = max(0, T_(j0+1) - c - 1)`` and
``e_i = max(0, d - e_(i-1))``; its stall ``z_m - c - 1`` (SCALE-Sim's offset update, which makes it
negative when the prefetches were done early) is computed here in closed form.

Write buffer (ofmap): SRAM of ``E`` words, drain half ``D = E - ceil(E / 2)``. Written words are
packed into lines of ``bw`` words; when a word is written while no drain is running
(cycle >= end of the last drain) and more than ``D`` words are held, the open line is closed and up
to ``ceil(D / bw)`` lines are drained, one line per cycle, counting ``bw`` words per line except the
unfilled tail of the last one; a word written during a drain into a full SRAM stalls the row until
the drain ends. At the end all lines are drained.

Each demand row ``i`` starts at cycle ``i + stalls so far`` and stalls by the largest of the three
operands' stalls. Only the rows where something happens (a prefetch, a drain, a full write buffer)
are visited, so a layer costs O(demand words) numpy work plus a Python step per such event.

Parameters and the mapping from :class:`~sim.systolic.architecture.Accelerator`
-------------------------------------------------------------------------------
SCALE-Sim's model takes: the array size, the dataflow, three SRAM sizes ``*SramSzkB`` (integers)
and, in USER mode, three DRAM bandwidths in words per cycle: ifmap from
``IfmapSRAMBankBandwidth``, filter from ``FilterSRAMBankBandwidth`` (both in the ``[layout]``
section) and ofmap from ``Bandwidth``. Its word is hard-wired to one byte (``word_size = 1`` in
``single_layer_sim``), so its "kB" is 1024 *words* whatever the data width. Without a Ramulator trace
the DRAM latency is 1 cycle (reads) / 0 cycles (writes) and ``ReadRequestBuffer`` /
``WriteRequestBuffer`` have no effect; the offsets only separate the operands' addresses.

From an ``Accelerator``: ``rows``, ``cols``, ``dataflow`` as they are; each SRAM of
``sram_words(operand)`` words (``*_sram_kb`` KiB of ``word_bits``-bit words) becomes
``sram_words / 1024`` SCALE-Sim kB, which must be a whole number >= 1;
``dram_bandwidth_words_per_cycle`` becomes all three SCALE-Sim bandwidths and must be a whole
number (SCALE-Sim parses them as integers). Note that SCALE-Sim gives each operand its own
interface of that bandwidth (up to three times ``bw`` words per cycle in all), not one shared DRAM
channel. ``word_bits`` counts only through the SRAM sizes; ``clock_mhz`` plays no part.
:func:`scalesim_parameters` gives the values.

The layer is fed as ``benchmarks/scalesim_crosscheck.py`` feeds it: one group; ``N == 1`` layers
as a convolution on the padded input cropped to ``(P - 1) * stride + R`` x ``(Q - 1) * stride + S``
(so SCALE-Sim's output size equals ours and every window is in range), ``N > 1`` layers as the GEMM
``N*P*Q x (R*S*C/groups) x (M/groups)``. A grouped layer is ``groups`` runs of one group, counts
summed. Only SCALE-Sim's fold order (``Mapping(fold_order="col_outer")``) is representable.

Deviations: none found; every case recorded in ``tests/data/scalesim_user_reference.json``
(240, all three dataflows, many of them stalling) matches exactly. Out of scope: SCALE-Sim's CALC
mode, Ramulator traces, custom layouts (bank conflicts) and sparsity.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim import checks
from sim.arith import ceil_div
from sim.systolic.architecture import Accelerator
from sim.systolic.mapping import Mapping
from sim.workload import Layer

KB_WORDS = 1024
"""Words in one SCALE-Sim "kB" (its word is one byte)."""


class ScalesimMemory(NamedTuple):
    """SCALE-Sim's USER-mode figures for a whole layer (cycles and words)."""

    stall_cycles: int
    ifmap_dram_reads: int
    filter_dram_reads: int
    ofmap_dram_writes: int


def scalesim_parameters(accelerator: Accelerator) -> dict[str, int | str]:
    """The SCALE-Sim configuration values that represent ``accelerator`` (see the module doc).

    Keys: ``rows``, ``cols``, ``dataflow``, ``ifmap_sram_kb``, ``filter_sram_kb``,
    ``ofmap_sram_kb`` (SCALE-Sim kB: 1024 words) and ``bandwidth`` (words per cycle, for all three
    operands). Raises ValueError for an accelerator SCALE-Sim cannot represent.
    """
    if not isinstance(accelerator, Accelerator):
        raise TypeError(f"accelerator must be a sim.Accelerator, got {type(accelerator).__name__}")
    params: dict[str, int | str] = {"rows": accelerator.rows, "cols": accelerator.cols,
                                    "dataflow": accelerator.dataflow}
    for operand in ("ifmap", "filter", "ofmap"):
        field = f"{operand}_sram_kb"
        bits = getattr(accelerator, field) * 1024 * 8
        words = accelerator.sram_words(operand)
        if words * accelerator.word_bits != bits or words % KB_WORDS:
            raise ValueError(
                f"Accelerator.{field}={getattr(accelerator, field)} holds "
                f"{bits / accelerator.word_bits:g} words of {accelerator.word_bits} bits; SCALE-Sim "
                f"sizes SRAMs in whole kB of 1024 words; allowed: {field} * 8 / word_bits a whole "
                f"number >= 1")
        params[field] = words // KB_WORDS
    bandwidth = accelerator.dram_bandwidth_words_per_cycle
    if not float(bandwidth).is_integer():
        raise ValueError(
            f"Accelerator.dram_bandwidth_words_per_cycle={bandwidth} is not representable in "
            f"SCALE-Sim's USER mode; allowed: a whole number of words per cycle (finite, >= 1)")
    params["bandwidth"] = int(bandwidth)
    return params


def scalesim_memory(layer: Layer, accelerator: Accelerator,
                    mapping: Mapping | None = None) -> ScalesimMemory:
    """SCALE-Sim 3.0.0's USER-mode stall cycles and DRAM words for ``layer`` (all groups).

    ``mapping`` must be None or SCALE-Sim's fold order (``col_outer``). Raises ValueError for input
    SCALE-Sim's model cannot represent (see :func:`scalesim_parameters`), TypeError for arguments
    of the wrong type.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a sim.Layer, got {type(layer).__name__}")
    params = scalesim_parameters(accelerator)
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise TypeError(f"mapping must be a sim.Mapping or None, got {type(mapping).__name__}")
        checks.one_of("scalesim_memory", "mapping.fold_order", mapping.fold_order,
                      ("col_outer",))
    ifmap, filt, ofmap_valid = _operand_matrices(layer)
    demand_if, demand_f, demand_of, prefetch_if, prefetch_f = _streams(
        ifmap, filt, ofmap_valid, accelerator.rows, accelerator.cols, accelerator.dataflow)
    bandwidth = int(params["bandwidth"])
    readers = [_ReadBuffer(prefetch, demand, int(params[field]) * KB_WORDS, bandwidth)
               for prefetch, demand, field in ((prefetch_if, demand_if, "ifmap_sram_kb"),
                                               (prefetch_f, demand_f, "filter_sram_kb"))]
    writer = _WriteBuffer(demand_of, int(params["ofmap_sram_kb"]) * KB_WORDS, bandwidth)
    stalls = _run(readers, writer, len(demand_of))
    groups = layer.groups
    return ScalesimMemory(stall_cycles=groups * stalls,
                          ifmap_dram_reads=groups * readers[0].dram_words,
                          filter_dram_reads=groups * readers[1].dram_words,
                          ofmap_dram_writes=groups * writer.dram_words)


# -- operand matrices and the compute side's demand and prefetch streams ------------------------

def _operand_matrices(layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One group's SCALE-Sim operand matrices: ifmap addresses (pixels x window), filter addresses
    (window x filters) and the ofmap as zeros (pixels x filters; only its shape matters).

    Addresses are SCALE-Sim's, without its per-operand offsets: the ifmap is stored (row, column,
    channel) and the window is ordered (kernel row, kernel column, channel); a GEMM ``M x K`` is a
    ``M x K`` one-channel input with a ``1 x K`` kernel.
    """
    channels = layer.C // layer.groups
    filters = layer.M // layer.groups
    if layer.N == 1:
        stride, R, S, C = layer.stride, layer.R, layer.S, channels
        out_rows, out_cols = layer.P, layer.Q
        in_cols = (out_cols - 1) * stride + S
    else:
        stride, R, S, C = 1, 1, layer.R * layer.S * channels, 1
        out_rows, out_cols = layer.N * layer.P * layer.Q, 1
        in_cols = S
    pixel = np.arange(out_rows * out_cols)
    pixel_base = ((pixel // out_cols) * stride * in_cols + (pixel % out_cols) * stride) * C
    tap = np.arange(R * S * C)
    kernel_row, rest = np.divmod(tap, S * C)
    tap_offset = kernel_row * in_cols * C + rest
    ifmap = pixel_base[:, None] + tap_offset[None, :]
    window = R * S * C
    filt = np.arange(filters)[None, :] * window + np.arange(window)[:, None]
    return ifmap, filt, np.zeros((out_rows * out_cols, filters), dtype=np.int64)


def _tiles(matrix: np.ndarray, height: int, width: int) -> np.ndarray:
    """``matrix`` cut into ``height x width`` tiles (padded with -1), as (tile, h, w); tile index
    = tile_row * tiles_per_row + tile_col."""
    rows = ceil_div(matrix.shape[0], height) * height
    cols = ceil_div(matrix.shape[1], width) * width
    padded = np.full((rows, cols), -1, dtype=np.int64)
    padded[:matrix.shape[0], :matrix.shape[1]] = matrix
    return (padded.reshape(rows // height, height, cols // width, width)
            .transpose(0, 2, 1, 3).reshape(-1, height, width))


def _column_blocks(matrix: np.ndarray, width: int) -> np.ndarray:
    """``matrix`` cut into blocks of ``width`` columns (full height), as (block, rows, width)."""
    return _tiles(matrix, matrix.shape[0], width)


def _demand(blocks: np.ndarray, fold_block: np.ndarray, fold_rows: int, first_row: int,
            skewed: bool) -> np.ndarray:
    """The demand matrix (cycle x array port) of one operand: fold ``f`` places block
    ``fold_block[f]`` from row ``f * fold_rows + first_row``; entry (t, c) of a skewed block goes
    to row ``t + c`` (systolic skew), of an unskewed one to row ``h - 1 - t`` (loaded upside down,
    as SCALE-Sim loads stationary tiles)."""
    n_folds, (_, height, width) = len(fold_block), blocks.shape
    t = np.arange(height)[:, None]
    c = np.arange(width)[None, :]
    local = t + c if skewed else np.broadcast_to(height - 1 - t, (height, width))
    rows = (np.arange(n_folds) * fold_rows + first_row)[:, None, None] + local
    out = np.full((n_folds * fold_rows, width), -1, dtype=np.int64)
    out[rows, np.broadcast_to(c, rows.shape)] = blocks[fold_block]
    return out


def _anti_diagonal(matrix: np.ndarray) -> np.ndarray:
    """``matrix``'s entries by anti-diagonal (row + col ascending), column ascending within one."""
    n_rows, n_cols = matrix.shape
    diag = np.arange(n_rows + n_cols - 1)[:, None]
    col = np.arange(n_cols)[None, :]
    row = diag - col
    keep = (row >= 0) & (row < n_rows)
    return matrix[row[keep], np.broadcast_to(col, keep.shape)[keep]]


def _streams(ifmap: np.ndarray, filt: np.ndarray, ofmap: np.ndarray, ar: int, ac: int,
             dataflow: str):
    """Demand matrices (ifmap, filter, ofmap) and prefetch matrices (ifmap, filter; flattened in
    fetch order, -1 padding kept) of SCALE-Sim's compute model for ``dataflow``."""
    pixels, window = ifmap.shape
    filters = filt.shape[1]
    if dataflow == "os":
        n_fr, n_fc = ceil_div(pixels, ar), ceil_div(filters, ac)
        fr, fc = np.tile(np.arange(n_fr), n_fc), np.repeat(np.arange(n_fc), n_fr)
        fold_rows = window + ar + ac - 2
        if_blocks = _column_blocks(ifmap.T, ar)
        f_blocks = _column_blocks(filt, ac)
        of_tiles = _tiles(ofmap, ar, ac)
        demands = (_demand(if_blocks, fr, fold_rows, 0, True),
                   _demand(f_blocks, fc, fold_rows, 0, True),
                   _demand(of_tiles[:, ::-1], fr * n_fc + fc, fold_rows, window - 1, True))
        prefetch_if = _anti_diagonal(if_blocks.reshape(-1, ar))
        prefetch_f = _anti_diagonal(f_blocks.reshape(-1, ac))
    elif dataflow == "ws":
        n_fr, n_fc = ceil_div(window, ar), ceil_div(filters, ac)
        fr, fc = np.tile(np.arange(n_fr), n_fc), np.repeat(np.arange(n_fc), n_fr)
        fold_rows = 2 * ar + ac + pixels - 2
        if_blocks = _column_blocks(ifmap, ar)
        demands = (_demand(if_blocks, fr, fold_rows, ar, True),
                   _demand(_tiles(filt, ar, ac), fr * n_fc + fc, fold_rows, 0, False),
                   _demand(_column_blocks(ofmap, ac), fc, fold_rows, 2 * ar - 1, True))
        prefetch_if = _anti_diagonal(if_blocks.reshape(-1, ar))
        prefetch_f = _column_blocks(filt, ac).reshape(-1)
    else:  # "is"
        n_fr, n_fc = ceil_div(window, ar), ceil_div(pixels, ac)
        fr, fc = np.tile(np.arange(n_fr), n_fc), np.repeat(np.arange(n_fc), n_fr)
        fold_rows = 2 * ar + ac + filters - 2
        f_blocks = _column_blocks(filt.T, ar)
        demands = (_demand(_tiles(ifmap.T, ar, ac), fr * n_fc + fc, fold_rows, 0, False),
                   _demand(f_blocks, fr, fold_rows, ar, True),
                   _demand(_column_blocks(ofmap.T, ac), fc, fold_rows, 2 * ar - 1, True))
        prefetch_if = _column_blocks(ifmap.T, ac).reshape(-1)
        prefetch_f = _anti_diagonal(f_blocks.reshape(-1, ar))
    demand_if, demand_f, demand_of = demands
    return (demand_if, demand_f, np.count_nonzero(demand_of >= 0, axis=1),
            prefetch_if.reshape(-1), prefetch_f.reshape(-1))


# -- the buffers -----------------------------------------------------------------------------

class _ReadBuffer:
    """One read operand (ifmap or filter): its prefetch events per demand row and its DRAM words.

    ``event_rows`` (ascending), ``event_first`` and ``event_count``: the rows that make
    prefetches, the number of prefetches made before each and how many it makes.
    """

    def __init__(self, prefetch: np.ndarray, demand: np.ndarray, sram_words: int, bandwidth: int):
        active = ceil_div(sram_words, 2)
        fetch_words = sram_words - active
        fetch_lines = ceil_div(fetch_words, bandwidth)
        self.cycles_per_prefetch = fetch_lines + 1
        first_fill = min(ceil_div(active, bandwidth), ceil_div(prefetch.size, bandwidth)) * bandwidth
        sequence = prefetch[prefetch >= 0]
        flat = demand.reshape(-1)
        valid = np.flatnonzero(flat >= 0)
        rows, addresses = valid // demand.shape[1], flat[valid]
        jump_at, jumps = _prefetch_jumps(sequence, addresses, ceil_div(sram_words, 100), active,
                                         fetch_words)
        event_rows = rows[jump_at]
        self.event_rows, starts = np.unique(event_rows, return_index=True)
        self.event_count = np.add.reduceat(jumps, starts) if jumps.size else jumps
        self.event_first = np.concatenate(([0], np.cumsum(jumps)))[starts]
        self.dram_words = first_fill + int(jumps.sum()) * fetch_lines * bandwidth

    def stall(self, event: int, cycle: int) -> int:
        """Stall cycles (possibly negative) of event ``event``'s row, which starts at ``cycle``.

        With ``e_1 = max(0, T_1 - cycle - 1)`` and ``e_i = max(0, d - e_(i-1))`` (module doc):
        ``e_1 < d``, because the row of this operand's previous prefetch stalled until that
        prefetch was done (``cycle >= T_1 - d``), so ``e_m`` alternates between ``e_1`` and
        ``d - e_1``.
        """
        d = self.cycles_per_prefetch
        first, count = int(self.event_first[event]), int(self.event_count[event])
        excess = max(0, -1 + (first + 1) * d - cycle - 1)
        if count % 2 == 0:
            excess = d - excess
        return -1 + (first + count) * d + excess - cycle - 1


def _prefetch_jumps(sequence: np.ndarray, addresses: np.ndarray, line_words: int, active: int,
                    fetch_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the demanded ``addresses`` miss the active window and how many prefetches each miss
    makes (window moves of ``P`` lines on the ring of lines of the prefetch ``sequence``).

    The window after ``k`` prefetches holds the unrolled lines ``[k P, k P + A)``; line ``l`` of the
    ring is unrolled line ``l + j L``. A miss of address ``a`` after ``k`` prefetches moves to the
    first window that holds the next unrolled occurrence ``u >= k P + A`` of ``a``:
    ``k' = ceil((u - A + 1) / P)`` (A >= P, so that window exists and holds ``u``).
    """
    n_lines = sequence.size // line_words + 1
    A = min(n_lines, ceil_div(active, line_words))
    P = min(n_lines - A, ceil_div(fetch_words, line_words))
    if P == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keys = np.unique(sequence * n_lines + np.arange(sequence.size) // line_words)
    first_line = np.zeros(int(sequence.max()) + 1, dtype=np.int64)
    first_keys = keys[np.r_[True, keys[1:] // n_lines != keys[:-1] // n_lines]]
    first_line[first_keys // n_lines] = first_keys % n_lines

    def distance(addr: np.ndarray, start: int) -> np.ndarray:
        """Lines from ring position ``start`` to the next occurrence of each address (cyclic)."""
        query = addr * n_lines + start
        i = np.minimum(np.searchsorted(keys, query), keys.size - 1)
        found = keys[i]
        return np.where((found >= query) & (found // n_lines == addr), found - query,
                        first_line[addr] + n_lines - start)

    jump_at, jumps = [], []
    t, k, chunk = 0, 0, 4 * P * line_words
    while t < addresses.size:
        window = k * P
        misses = np.flatnonzero(distance(addresses[t:t + chunk], window % n_lines) >= A)
        if misses.size == 0:
            t += chunk
            chunk *= 2
            continue
        t += int(misses[0])
        chunk = max(64, 2 * int(misses[0]))
        past = window + A
        u = past + int(distance(addresses[t:t + 1], past % n_lines)[0])
        k_next = ceil_div(u - A + 1, P)
        jump_at.append(t)
        jumps.append(k_next - k)
        k, t = k_next, t + 1
    return np.asarray(jump_at, dtype=np.int64), np.asarray(jumps, dtype=np.int64)


class _WriteBuffer:
    """The ofmap write buffer: words written per demand row in, drains, stalls and DRAM words out.

    State: ``free`` words (SCALE-Sim's count, which credits a drained line with ``bw`` words even
    when a middle line is partial), the lines closed so far and drained so far, the sizes of the
    partial lines (closed early by a drain), the words in the open line and the drain end cycle.
    """

    def __init__(self, words_per_row: np.ndarray, sram_words: int, bandwidth: int):
        self.row_start = np.concatenate(([0], np.cumsum(words_per_row)))
        self.drain_words = sram_words - ceil_div(sram_words, 2)
        self.free = sram_words
        self.trigger_free = sram_words - self.drain_words
        self.bandwidth = bandwidth
        self.drain_lines = ceil_div(self.drain_words, bandwidth)
        self.written = 0
        self.lines = self.drained = self.open_words = 0
        self.partial: dict[int, int] = {}
        self.drain_end = 0
        self.dram_words = 0

    def store(self, words: int) -> None:
        """Writes ``words`` more words, in order, with no drain or stall among them."""
        self.free -= words
        self.written += words
        self.lines += (self.open_words + words) // self.bandwidth
        self.open_words = (self.open_words + words) % self.bandwidth

    def drain(self, cycle: int) -> None:
        """Closes the open line and drains up to ``drain_lines`` lines from ``cycle`` on."""
        if self.open_words:
            self.partial[self.lines] = self.open_words
            self.lines += 1
            self.open_words = 0
        count = min(self.drain_lines, self.lines - self.drained)
        last = self.drained + count - 1
        words = count * self.bandwidth - (self.bandwidth - self.partial.get(last, self.bandwidth))
        self.drained += count
        self.dram_words += words
        self.free += words
        self.drain_end = cycle + count - 1

    def next_event_row(self, row: int, stalls: int) -> int:
        """The first row >= ``row`` where a drain starts or the buffer is full during a drain,
        when rows start at cycle ``row + stalls`` (``len(rows)`` if none)."""
        n_rows = self.row_start.size - 1
        if self.written >= self.row_start[-1]:
            return n_rows
        full_at = self.written + max(0, self.free - 1)
        first_free_row = max(row, self.drain_end - stalls)
        if full_at < self.row_start[-1] and self._row_of(full_at) < first_free_row:
            return self._row_of(full_at)
        if first_free_row >= n_rows:
            return n_rows
        trigger_at = max(self.written + max(0, self.free - self.trigger_free),
                         int(self.row_start[first_free_row]))
        return self._row_of(trigger_at) if trigger_at < self.row_start[-1] else n_rows

    def _row_of(self, word: int) -> int:
        return int(np.searchsorted(self.row_start, word, side="right")) - 1

    def write_row(self, row: int, cycle: int) -> int:
        """Writes row ``row`` starting at ``cycle``; returns the cycle the row's writes end."""
        end = int(self.row_start[row + 1])
        current = cycle
        while self.written < end:
            if current < self.drain_end:
                at = self.written + max(0, self.free - 1)
                if at >= end:
                    break
                self.store(at - self.written + 1)
                current = self.drain_end
            else:
                at = self.written + max(0, self.free - self.trigger_free)
                if at >= end:
                    break
                self.store(at - self.written + 1)
                self.drain(current)
        self.store(end - self.written)
        return current

    def finish(self) -> None:
        """Writes the remaining rows (no events left) and drains everything (SCALE-Sim's final
        drain: only its word count matters, not its cycles)."""
        self.store(int(self.row_start[-1]) - self.written)
        while self.open_words or self.drained < self.lines:
            self.drain(self.drain_end + 1)


def _run(readers: list[_ReadBuffer], writer: _WriteBuffer, n_rows: int) -> int:
    """Steps the demand rows where something happens; returns the layer's stall cycles."""
    stalls, row = 0, 0
    next_event = [0] * len(readers)
    while True:
        read_rows = [int(r.event_rows[i]) if i < r.event_rows.size else n_rows
                     for r, i in zip(readers, next_event)]
        event_row = min(*read_rows, writer.next_event_row(row, stalls))
        if event_row >= n_rows:
            break
        writer.store(int(writer.row_start[event_row]) - writer.written)
        cycle = event_row + stalls
        row_stall = writer.write_row(event_row, cycle) - cycle
        for i, reader in enumerate(readers):
            if read_rows[i] == event_row:
                row_stall = max(row_stall, reader.stall(next_event[i], cycle))
                next_event[i] += 1
        stalls += row_stall
        row = event_row + 1
    writer.finish()
    return stalls
