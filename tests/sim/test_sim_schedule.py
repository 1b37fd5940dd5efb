"""The closed-form fold schedule against SCALE-Sim 3.0.0's own figures, and its vectorized form.

Expected numbers: SCALE-Sim 3.0.0 (PyPI ``scalesim``, numpy 1.26) run one layer at a time through
``scalesim.single_layer_sim`` with the config ``ArrayHeight = rows``, ``ArrayWidth = cols``,
``Dataflow`` as given, ``InterfaceBandwidth = USER`` with ``Bandwidth = bw``, the listed ifmap /
filter / ofmap SRAM sizes, no sparsity, default layouts; the topology row is the layer with the
padded input (``H + 2 * padding``, SCALE-Sim has no padding and no batch), and depthwise layers are
named ``DP...`` so that SCALE-Sim splits them into one single-channel layer per channel (the figures
are the sums). ``compute_cycles`` is COMPUTE_REPORT's "Total Cycles" minus "Stall Cycles"; the SRAM
counts are DETAILED_ACCESS_REPORT's "SRAM IFMAP Reads", "SRAM Filter Reads", "SRAM OFMAP Writes".
Only layers whose output size is the same under both conventions (``(H + 2p - R) % stride == 0``)
are used. The first rows were hand-checked against the equations of ``sim.systolic.schedule``, e.g.
the 64->64 3x3 conv on 8x8 pixels on a 32x32 OS array: S_r = 64, S_c = 64, T = 576, 2 x 2 folds of
576 + 32 + 32 - 2 = 638 cycles: 4 * 638 - 1 = 2551 cycles; ifmap reads 2 * 576 * 64 = 73728.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import Accelerator, Layer, fold_schedule, gemm_shape, simulate_layer
from sim.arith import ceil_div
from sim.systolic.schedule import cycles_per_fold

# ((C, M, H, W, R, S, stride, padding, groups), rows, cols, dataflow, SCALE-Sim memory config,
#  (compute_cycles, ifmap_sram_reads, filter_sram_reads, ofmap_sram_writes))
SCALE_SIM_CASES = [
    # ResNet-20-like convs, an FC, a MobileNetV2 pointwise, a strided conv, a depthwise conv
    ((64, 64, 8, 8, 3, 3, 1, 1, 1), 32, 32, "os", "64/64/64 KiB, bw 10", (2551, 73728, 73728, 4352)),
    ((64, 64, 8, 8, 3, 3, 1, 1, 1), 32, 32, "ws", "64/64/64 KiB, bw 10", (5687, 73728, 36864, 73728)),
    ((64, 64, 8, 8, 3, 3, 1, 1, 1), 32, 32, "is", "64/64/64 KiB, bw 10", (5687, 36864, 73728, 73728)),
    ((8, 8, 8, 8, 3, 3, 1, 1, 8), 4, 4, "os", "64/64/64 KiB, bw 10", (1912, 4608, 1152, 1536)),
    ((8, 8, 8, 8, 3, 3, 1, 1, 8), 4, 4, "ws", "64/64/64 KiB, bw 10", (1768, 4608, 72, 1536)),
    ((8, 8, 8, 8, 3, 3, 1, 1, 8), 4, 4, "is", "64/64/64 KiB, bw 10", (4216, 4608, 1152, 1536)),
    ((3, 16, 32, 32, 3, 3, 1, 1, 1), 8, 8, "os", "64/64/64 KiB, bw 10", (10495, 55296, 55296, 20480)),
    ((32, 32, 16, 16, 3, 3, 1, 1, 1), 16, 16, "os", "64/64/64 KiB, bw 10", (10175, 147456, 147456, 9216)),
    ((64, 10, 1, 1, 1, 1, 1, 0, 1), 8, 16, "os", "64/64/64 KiB, bw 10", (85, 64, 640, 34)),
    ((16, 96, 32, 32, 1, 1, 1, 0, 1), 16, 8, "os", "64/64/64 KiB, bw 10", (29183, 196608, 98304, 116736)),
    ((8, 16, 15, 15, 3, 3, 2, 1, 1), 8, 4, "os", "64/64/64 KiB, bw 10", (2623, 18432, 9216, 1408)),
    ((3, 16, 32, 32, 3, 3, 1, 1, 1), 8, 8, "ws", "64/64/64 KiB, bw 10", (8367, 55296, 432, 65536)),
    ((32, 32, 16, 16, 3, 3, 1, 1, 1), 16, 16, "ws", "64/64/64 KiB, bw 10", (10871, 147456, 9216, 147456)),
    ((64, 10, 1, 1, 1, 1, 1, 0, 1), 8, 16, "ws", "64/64/64 KiB, bw 10", (247, 64, 640, 80)),
    ((16, 96, 32, 32, 1, 1, 1, 0, 1), 16, 8, "ws", "64/64/64 KiB, bw 10", (12743, 196608, 1536, 98304)),
    ((8, 16, 15, 15, 3, 3, 2, 1, 1), 8, 4, "ws", "64/64/64 KiB, bw 10", (2951, 18432, 1152, 9216)),
    ((3, 16, 32, 32, 3, 3, 1, 1, 1), 8, 8, "is", "64/64/64 KiB, bw 10", (19455, 27648, 55296, 65536)),
    ((32, 32, 16, 16, 3, 3, 1, 1, 1), 16, 16, "is", "64/64/64 KiB, bw 10", (22463, 73728, 147456, 147456)),
    ((64, 10, 1, 1, 1, 1, 1, 0, 1), 8, 16, "is", "64/64/64 KiB, bw 10", (319, 64, 640, 80)),
    ((16, 96, 32, 32, 1, 1, 1, 0, 1), 16, 8, "is", "64/64/64 KiB, bw 10", (17151, 16384, 196608, 98304)),
    ((8, 16, 15, 15, 3, 3, 2, 1, 1), 8, 4, "is", "64/64/64 KiB, bw 10", (4895, 4608, 18432, 9216)),
    # random small layers: odd array shapes (1 x n, n x 1), non-square kernels, strides 2 and 3,
    # more filters than columns, single channels, SRAMs small enough for SCALE-Sim to stall
    ((4, 7, 10, 3, 3, 3, 1, 0, 1), 1, 3, "os", "2/1/1 KiB, bw 2", (911, 864, 2016, 152)),
    ((2, 16, 7, 15, 1, 1, 2, 0, 1), 5, 1, "os", "64/64/64 KiB, bw 100", (671, 1024, 224, 1184)),
    ((3, 4, 21, 19, 7, 7, 2, 0, 1), 3, 4, "os", "2/1/1 KiB, bw 1", (2887, 8232, 11172, 357)),
    ((16, 1, 7, 2, 7, 1, 1, 0, 1), 2, 2, "os", "2/1/1 KiB, bw 2", (113, 224, 112, 6)),
    ((1, 8, 29, 24, 5, 3, 3, 0, 1), 2, 8, "os", "256/256/128 KiB, bw 1", (827, 1080, 4320, 936)),
    ((16, 33, 11, 2, 3, 1, 1, 0, 1), 16, 6, "os", "1/1/1 KiB, bw 10", (815, 5184, 3168, 858)),
    ((1, 16, 9, 6, 3, 3, 1, 0, 1), 4, 32, "os", "1/1/1 KiB, bw 10", (300, 252, 1008, 700)),
    ((16, 8, 11, 10, 7, 3, 1, 0, 1), 5, 4, "os", "1/1/1 KiB, bw 100", (5487, 26880, 21504, 464)),
    ((5, 2, 14, 16, 5, 1, 3, 0, 1), 1, 8, "ws", "1/1/1 KiB, bw 2", (799, 600, 50, 1200)),
    ((5, 4, 25, 13, 7, 7, 3, 0, 1), 5, 1, "ws", "2/1/1 KiB, bw 2", (5879, 20580, 980, 4116)),
    ((16, 33, 5, 25, 2, 1, 3, 0, 1), 2, 2, "ws", "1/1/1 KiB, bw 2", (5983, 9792, 1056, 9504)),
    ((4, 8, 15, 5, 7, 1, 1, 0, 1), 3, 2, "ws", "2/1/1 KiB, bw 10", (2039, 5040, 224, 3600)),
    ((3, 3, 6, 3, 3, 3, 3, 0, 1), 32, 16, "ws", "1/1/1 KiB, bw 1", (79, 54, 81, 6)),
    ((4, 33, 8, 10, 2, 2, 1, 0, 1), 32, 32, "ws", "2/1/1 KiB, bw 1", (313, 2016, 528, 2079)),
    ((1, 7, 1, 22, 1, 1, 3, 0, 1), 16, 1, "ws", "64/64/64 KiB, bw 100", (272, 56, 7, 56)),
    ((5, 33, 6, 8, 1, 1, 1, 0, 1), 3, 2, "ws", "1/1/1 KiB, bw 1", (1835, 4080, 165, 3168)),
    ((1, 2, 7, 3, 3, 3, 1, 0, 1), 1, 6, "is", "2/1/1 KiB, bw 100", (71, 45, 18, 90)),
    ((5, 4, 5, 5, 1, 3, 2, 0, 1), 3, 1, "is", "2/1/1 KiB, bw 1", (269, 90, 360, 120)),
    ((16, 4, 31, 6, 7, 3, 3, 0, 1), 5, 8, "is", "1/1/1 KiB, bw 1", (4079, 6048, 4032, 4896)),
    ((1, 16, 15, 25, 3, 1, 3, 0, 1), 5, 4, "is", "2/1/1 KiB, bw 100", (335, 135, 576, 720)),
    ((1, 33, 28, 16, 7, 7, 3, 0, 1), 2, 2, "is", "64/64/64 KiB, bw 10", (14799, 1568, 25872, 26400)),
    ((16, 33, 9, 5, 5, 3, 2, 0, 1), 32, 2, "is", "1/1/1 KiB, bw 10", (2327, 1440, 23760, 1584)),
    ((1, 1, 6, 5, 1, 1, 1, 0, 1), 4, 8, "is", "1/1/1 KiB, bw 10", (59, 30, 4, 30)),
    ((8, 4, 9, 7, 3, 3, 1, 0, 1), 5, 1, "is", "1/1/1 KiB, bw 10", (6824, 2520, 10080, 2100)),
]


def _case_layer(dims):
    C, M, H, W, R, S, stride, padding, groups = dims
    return Layer("case", C=C, M=M, H=H, W=W, R=R, S=S, stride=stride, padding=padding,
                 groups=groups)


def _case_accelerator(rows, cols, dataflow, memory):
    sizes, bandwidth = memory.split(" KiB, bw ")
    ifmap_kb, filter_kb, ofmap_kb = (float(kb) for kb in sizes.split("/"))
    return Accelerator(rows=rows, cols=cols, dataflow=dataflow, ifmap_sram_kb=ifmap_kb,
                       filter_sram_kb=filter_kb, ofmap_sram_kb=ofmap_kb,
                       dram_bandwidth_words_per_cycle=float(bandwidth))


@pytest.mark.parametrize("dims, rows, cols, dataflow, memory, expected", SCALE_SIM_CASES)
def test_simulate_layer_equals_scalesim(dims, rows, cols, dataflow, memory, expected):
    layer = _case_layer(dims)
    report = simulate_layer(layer, _case_accelerator(rows, cols, dataflow, memory))
    got = (report.compute_cycles, report.ifmap_sram_reads, report.filter_sram_reads,
           report.ofmap_sram_writes)
    assert got == expected


def test_cases_use_layers_where_output_conventions_agree():
    for dims, *_ in SCALE_SIM_CASES:
        layer = _case_layer(dims)
        padded_h, padded_w = layer.H + 2 * layer.padding, layer.W + 2 * layer.padding
        assert layer.P == -(-(padded_h - layer.R + layer.stride) // layer.stride)
        assert layer.Q == -(-(padded_w - layer.S + layer.stride) // layer.stride)


def test_cases_cover_every_dataflow_and_a_depthwise_layer():
    assert {case[3] for case in SCALE_SIM_CASES} == {"os", "ws", "is"}
    assert any(case[0][-1] > 1 for case in SCALE_SIM_CASES)


@pytest.mark.parametrize("dataflow, expected", [
    # S_r = 36, S_c = 8, T = 36 on 4 x 4: 9 x 2 folds
    ("os", (9, 2, 18, 42, 755, 2592, 2592, 288 + 18 * 8)),
    ("ws", (9, 2, 18, 46, 827, 2592, 288, 2592)),
    ("is", (9, 2, 18, 46, 827, 288, 2592, 2592)),
])
def test_fold_schedule_by_hand(dataflow, expected):
    assert tuple(fold_schedule(36, 8, 36, 4, 4, dataflow)) == expected


def test_gemm_and_schedule_compose_for_a_whole_layer():
    layer = Layer.conv("c", C=64, M=64, H=8, W=8, kernel=3)
    gemm = gemm_shape(layer, "os")
    schedule = fold_schedule(gemm.Sr, gemm.Sc, gemm.T, 32, 32, "os")
    assert (gemm.Sr, gemm.Sc, gemm.T) == (64, 64, 576)
    assert schedule.compute_cycles == 2551


_dims = st.integers(1, 300)
_array = st.integers(1, 40)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_dims, _dims, _dims, _array, _array), min_size=1, max_size=6),
       st.sampled_from(["os", "ws", "is"]))
def test_fold_schedule_vectorizes_over_numpy_arrays(rows_of_args, dataflow):
    columns = [np.array(column, dtype=np.int64) for column in zip(*rows_of_args)]
    batched = fold_schedule(*columns, dataflow)
    for index, args in enumerate(rows_of_args):
        single = fold_schedule(*args, dataflow)
        assert tuple(int(field[index]) for field in batched) == tuple(single)


@settings(max_examples=60, deadline=None)
@given(_dims, _dims, _dims, _array, _array, st.sampled_from(["os", "ws", "is"]))
def test_fold_schedule_invariants(Sr, Sc, T, rows, cols, dataflow):
    schedule = fold_schedule(Sr, Sc, T, rows, cols, dataflow)
    assert schedule.folds == ceil_div(Sr, rows) * ceil_div(Sc, cols)
    assert schedule.compute_cycles + 1 == schedule.folds * cycles_per_fold(T, rows, cols, dataflow)
    # every MAC needs a PE-cycle: the padded folds give at least Sr * Sc * T of them
    assert (schedule.compute_cycles + 1) * rows * cols >= Sr * Sc * T
    # the stationary / spatial operand is read exactly once; streamed ones once per other fold
    stationary = {"os": None, "ws": schedule.filter_sram_reads, "is": schedule.ifmap_sram_reads}
    if stationary[dataflow] is not None:
        assert stationary[dataflow] == Sr * Sc


@pytest.mark.parametrize("args, message", [
    ((0, 8, 36, 4, 4, "os"), r"fold_schedule.Sr must be integer\(s\) >= 1, got 0"),
    ((36, 8, 36, 4, 2.5, "os"), r"fold_schedule.cols must be integer\(s\) >= 1"),
    ((36, 8, True, 4, 4, "os"), r"fold_schedule.T must be integer\(s\) >= 1"),
    ((np.array([3, 0]), 8, 36, 4, 4, "ws"), r"fold_schedule.Sr must be integer\(s\) >= 1"),
    ((36, 8, 36, 4, 4, "rs"), r"fold_schedule.dataflow must be one of \['ws', 'os', 'is'\], got 'rs'"),
])
def test_fold_schedule_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        fold_schedule(*args)
