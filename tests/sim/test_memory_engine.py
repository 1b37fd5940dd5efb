"""The fast memory model (sim.systolic.memory) equals the cycle-level reference
(sim.systolic.memory_engine): DRAM reads and writes per operand and stall cycles."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import Layer, fold_schedule, gemm_shape
from sim.systolic.memory import dram_traffic, stall_cycles
from sim.systolic.memory_engine import fold_traffic, run_memory

LAYER = Layer.conv("c", C=8, M=64, H=16, W=16, kernel=3)


def _fast(gemm, schedule, dataflow, fold_order, buffers, bandwidth):
    traffic = dram_traffic(gemm, schedule, dataflow, fold_order, buffers)
    stalls = stall_cycles(gemm, schedule, dataflow, fold_order, buffers, bandwidth)
    return (int(stalls), traffic.ifmap_dram_reads, traffic.filter_dram_reads,
            traffic.ofmap_dram_reads, traffic.ofmap_dram_writes)


def _reference(gemm, schedule, dataflow, fold_order, buffers, bandwidth):
    run = run_memory(gemm, schedule, dataflow, fold_order, buffers, bandwidth)
    return (run.stall_cycles, run.ifmap_dram_reads, run.filter_dram_reads, run.ofmap_dram_reads,
            run.ofmap_dram_writes)


def test_reference_by_hand():
    """os, col_outer on 8x8 with 1024-word halves (hand-worked in test_sim_memory.py)."""
    gemm = gemm_shape(LAYER, "os")
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, 8, 8, "os")
    run = run_memory(gemm, schedule, "os", "col_outer", (1024,) * 3, 4.0)
    assert (run.stall_cycles, run.ifmap_dram_reads, run.filter_dram_reads, run.ofmap_dram_reads,
            run.ofmap_dram_writes) == (806, 32 * 8 * 64, 4608, 0, 16384)
    assert run.total_cycles == 256 * 86 - 1 + 806
    loads, drains = fold_traffic(gemm, schedule, "os", "col_outer", (1024,) * 3)
    assert [loads[k]["filter"] for k in (0, 1, 31, 32)] == [576, 0, 0, 576]
    assert {d["ofmap"] for d in drains} == {64}


def test_reference_spills_and_reads_back_partial_sums():
    """ws, col_outer: the ofmap slice (2048 words) does not fit a 1024-word half, so each of the
    9 row folds writes it and all but the first read it back."""
    gemm = gemm_shape(LAYER, "ws")
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, 8, 8, "ws")
    loads, drains = fold_traffic(gemm, schedule, "ws", "col_outer", (4096, 4096, 1024))
    assert [loads[k]["ofmap"] for k in range(10)] == [0] + [2048] * 8 + [0]
    assert all(d["ofmap"] == 2048 for d in drains)


_layers = st.builds(
    lambda C, M, size, kernel, stride, groups, N: Layer.conv(
        "l", C=C * groups, M=M * groups, H=size, W=size, kernel=kernel, stride=stride,
        groups=groups, N=N),
    C=st.integers(1, 12), M=st.integers(1, 16), size=st.integers(3, 9),
    kernel=st.sampled_from([1, 3]), stride=st.integers(1, 2), groups=st.sampled_from([1, 2]),
    N=st.integers(1, 2))
# Half-buffer sizes around the slice sizes of these layers (a few words to all of it), and
# bandwidths that are exact binary fractions (so that float64 quotients are exact).
_buffers = st.tuples(*[st.one_of(st.integers(1, 64), st.sampled_from([128, 512, 4096, 10 ** 6]))
                       for _ in range(3)])
_bandwidths = st.one_of(st.integers(1, 256).map(lambda q: q / 4), st.just(math.inf))


@settings(max_examples=1200, deadline=None)
@given(_layers, st.integers(1, 6), st.integers(1, 6), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from(["col_outer", "row_outer"]), _buffers, _bandwidths)
def test_fast_model_equals_reference(layer, rows, cols, dataflow, fold_order, buffers, bandwidth):
    gemm = gemm_shape(layer, dataflow)
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, rows, cols, dataflow)
    assert _fast(gemm, schedule, dataflow, fold_order, buffers, bandwidth) == \
        _reference(gemm, schedule, dataflow, fold_order, buffers, bandwidth)
