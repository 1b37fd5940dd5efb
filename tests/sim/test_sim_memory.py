"""The double-buffered memory model: DRAM passes per operand, fold order, stalls."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import Accelerator, Layer, Mapping, fold_schedule, gemm_shape, simulate_layer
from sim.systolic.memory import buffer_words, dram_traffic, operand_passes, stall_cycles

# 8 -> 64 channels, 3x3, 16x16 pixels: per group D_ifmap = 2048, D_filter = 4608, D_ofmap = 16384
LAYER = Layer.conv("c", C=8, M=64, H=16, W=16, kernel=3)


def _traffic(dataflow, fold_order, ifmap_kb, filter_kb, ofmap_kb):
    acc = Accelerator(rows=8, cols=8, dataflow=dataflow, ifmap_sram_kb=ifmap_kb,
                      filter_sram_kb=filter_kb, ofmap_sram_kb=ofmap_kb)
    gemm = gemm_shape(LAYER, dataflow)
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, 8, 8, dataflow)
    return gemm, schedule, dram_traffic(gemm, schedule, dataflow, fold_order, buffer_words(acc))


def test_buffer_words_is_half_of_each_sram():
    acc = Accelerator(ifmap_sram_kb=4, filter_sram_kb=8, ofmap_sram_kb=1, word_bits=16)
    assert buffer_words(acc) == (1024, 2048, 256)


@pytest.mark.parametrize("fold_order, passes", [
    # OS on 8x8: 32 row folds (ifmap) x 8 column folds (filter); 4 KiB SRAMs: 1024-word halves.
    # col_outer: the filter slice (4608 / 8 = 576 words) stays; the ifmap (2048) is re-read 8 times
    ("col_outer", (8, 1, 1)),
    # row_outer: the ifmap slice (2048 / 32 = 64) stays; the filter (4608) is re-read 32 times
    ("row_outer", (1, 32, 1)),
])
def test_fold_order_decides_which_operand_is_refetched(fold_order, passes):
    gemm, _, traffic = _traffic("os", fold_order, 4, 4, 4)
    assert (traffic.ifmap_passes, traffic.filter_passes, traffic.ofmap_passes) == passes
    assert traffic.ifmap_dram_reads == passes[0] * 2048
    assert traffic.filter_dram_reads == passes[1] * 4608
    assert (traffic.ofmap_dram_writes, traffic.ofmap_dram_reads) == (16384, 0)


@pytest.mark.parametrize("ofmap_kb, fold_order, ofmap_passes", [
    # WS on 8x8: 9 row folds x 8 column folds; partial sums indexed by the column fold
    (8, "col_outer", 1),     # slice 16384 / 8 = 2048 words fits the 2048-word half
    (4, "col_outer", 9),     # does not fit: spilled and re-read on each of the 9 row folds
    (4, "row_outer", 9),     # whole ofmap (16384) does not fit: once per outer (row) fold
    (64, "row_outer", 1),    # whole ofmap fits the 16384-word half
])
def test_weight_stationary_partial_sums_spill(ofmap_kb, fold_order, ofmap_passes):
    _, _, traffic = _traffic("ws", fold_order, 8, 8, ofmap_kb)
    assert traffic.ofmap_passes == ofmap_passes
    assert traffic.ofmap_dram_writes == ofmap_passes * 16384
    assert traffic.ofmap_dram_reads == (ofmap_passes - 1) * 16384


@pytest.mark.parametrize("bandwidth, expected", [
    # OS on 8x8, col_outer: O = 8 column folds outer, I = 32 row folds inner, F = 256 folds of
    # C = 72 + 8 + 8 - 2 = 86 cycles. 1024-word halves: the ifmap (inner, 2048 words) streams 64
    # words per fold; the filter slice (outer, 576 words) is held and loads at each i = 0; the
    # ofmap (both) drains 64 words per fold.
    # bw 4: first load 640 / 4 = 160; a fold before a new column fold moves 576 + 64 + 64 words in
    # 176 cycles, 90 over C, 7 times; every other fold moves <= 128 words (32 cycles, hidden);
    # last drain 64 / 4 = 16.   160 + 7 * 90 + 16 = 806
    (4.0, 806),
    # bw 0.5: first load 1280; fold 0 moves 64 (128 cycles, 42 over); the 7 folds before a new
    # column fold 704 (1408, 1322 over); the last fold 64 (42 over); the other 247 folds 128 (256,
    # 170 over); last drain 128.   1280 + 42 + 7 * 1322 + 42 + 247 * 170 + 128 = 52736
    (0.5, 52736),
    (math.inf, 0),
])
def test_stall_cycles_by_hand(bandwidth, expected):
    gemm, schedule, _ = _traffic("os", "col_outer", 4, 4, 4)
    assert int(stall_cycles(gemm, schedule, "os", "col_outer", (1024,) * 3, bandwidth)) == expected


def test_stall_cycles_rejects_non_positive_bandwidth():
    gemm, schedule, _ = _traffic("os", "col_outer", 4, 4, 4)
    with pytest.raises(ValueError,
                       match="stall_cycles.dram_bandwidth_words_per_cycle must be > 0, got 0"):
        stall_cycles(gemm, schedule, "os", "col_outer", (1024,) * 3, 0)


def test_operand_passes_vectorizes():
    passes = operand_passes("outer", np.array([100, 100, 5000]), np.array([64, 128, 64]),
                            np.array([2, 2, 2]), np.array([7, 7, 7]))
    assert passes.tolist() == [1, 1, 7]
    with pytest.raises(ValueError, match=r"operand_passes.role must be one of"):
        operand_passes("middle", 1, 1, 1, 1)


def test_dram_traffic_rejects_unknown_names():
    gemm = gemm_shape(LAYER, "os")
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, 8, 8, "os")
    with pytest.raises(ValueError, match=r"fold_order must be one of \['col_outer', 'row_outer'\]"):
        dram_traffic(gemm, schedule, "os", "diagonal", (10, 10, 10))


_layers = st.builds(
    lambda C, M, size, kernel, stride, groups, N: Layer.conv(
        "l", C=C * groups, M=M * groups, H=size, W=size, kernel=kernel, stride=stride,
        groups=groups, N=N),
    C=st.integers(1, 24), M=st.integers(1, 24), size=st.integers(3, 20),
    kernel=st.sampled_from([1, 3]), stride=st.integers(1, 2), groups=st.sampled_from([1, 2, 4]),
    N=st.integers(1, 2))
_accelerators = st.builds(
    Accelerator, rows=st.integers(1, 32), cols=st.integers(1, 32),
    dataflow=st.sampled_from(["os", "ws", "is"]), ifmap_sram_kb=st.sampled_from([1, 4, 64]),
    filter_sram_kb=st.sampled_from([1, 4, 64]), ofmap_sram_kb=st.sampled_from([1, 4, 64]),
    dram_bandwidth_words_per_cycle=st.floats(0.25, 64))
_mappings = st.sampled_from([Mapping("col_outer"), Mapping("row_outer")])


@settings(max_examples=60, deadline=None)
@given(_layers, _accelerators, _mappings, st.floats(1.01, 100))
def test_tighter_bandwidth_never_gives_fewer_cycles(layer, acc, mapping, factor):
    fast = simulate_layer(layer, acc, mapping)
    slow = simulate_layer(layer, Accelerator(**{**acc.to_dict(),
                                                "dram_bandwidth_words_per_cycle":
                                                    acc.dram_bandwidth_words_per_cycle / factor}),
                          mapping)
    assert slow.total_cycles >= fast.total_cycles
    assert slow.compute_cycles == fast.compute_cycles
    assert slow.dram_words == fast.dram_words


@settings(max_examples=60, deadline=None)
@given(_layers, _accelerators, _mappings)
def test_unbounded_bandwidth_never_stalls_and_traffic_is_at_least_compulsory(layer, acc, mapping):
    report = simulate_layer(layer, Accelerator(**{**acc.to_dict(),
                                                  "dram_bandwidth_words_per_cycle": math.inf}),
                            mapping)
    assert report.stall_cycles == 0
    assert report.total_cycles == report.compute_cycles
    assert report.ifmap_dram_reads >= layer.ifmap_words
    assert report.filter_dram_reads >= layer.filter_words
    assert report.ofmap_dram_writes >= layer.ofmap_words
    assert report.ofmap_dram_reads == report.ofmap_dram_writes - layer.ofmap_words


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("fold_order", ["col_outer", "row_outer"])
def test_srams_that_hold_everything_read_each_operand_once(dataflow, fold_order):
    acc = Accelerator(rows=8, cols=8, dataflow=dataflow, ifmap_sram_kb=1024,
                      filter_sram_kb=1024, ofmap_sram_kb=1024)
    report = simulate_layer(LAYER, acc, Mapping(fold_order))
    assert (report.ifmap_dram_reads, report.filter_dram_reads, report.ofmap_dram_reads,
            report.ofmap_dram_writes) == (LAYER.ifmap_words, LAYER.filter_words, 0,
                                          LAYER.ofmap_words)


@settings(max_examples=30, deadline=None)
@given(_layers, st.sampled_from(["os", "ws", "is"]), st.sampled_from(["col_outer", "row_outer"]),
       st.lists(st.tuples(st.integers(1, 32), st.integers(1, 32), st.integers(1, 5000),
                          st.integers(1, 5000), st.integers(1, 5000), st.floats(0.25, 64)),
                min_size=1, max_size=5))
def test_traffic_and_stalls_vectorize_over_designs(layer, dataflow, fold_order, designs):
    gemm = gemm_shape(layer, dataflow)
    rows, cols, *buffers, bandwidth = (np.array(column) for column in zip(*designs))
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, rows, cols, dataflow)
    traffic = dram_traffic(gemm, schedule, dataflow, fold_order, tuple(buffers))
    stalls = stall_cycles(gemm, schedule, dataflow, fold_order, tuple(buffers), bandwidth)
    for index, (r, c, *buffer, bw) in enumerate(designs):
        one_schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, r, c, dataflow)
        one = dram_traffic(gemm, one_schedule, dataflow, fold_order, tuple(buffer))
        assert tuple(int(np.broadcast_to(field, rows.shape)[index]) for field in traffic) == one
        assert int(stalls[index]) == stall_cycles(gemm, one_schedule, dataflow, fold_order,
                                                  tuple(buffer), bw)
