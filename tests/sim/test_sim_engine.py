"""The cycle-stepping engine: real products, SCALE-Sim 3.0.0's counts, the fast path's counts.

``tests/data/scalesim_reference.json`` holds SCALE-Sim 3.0.0's own figures (one group of each
layer; the config, version and input convention are stored in the file), written by
``python benchmarks/scalesim_crosscheck.py --record tests/data/scalesim_reference.json``.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import DATAFLOWS, MAPPINGS, Accelerator, Layer, Mapping, fold_schedule, simulate_layer
from sim.systolic.engine import conv_gemm_operands, run_gemm, run_layer

REFERENCE = json.loads((Path(__file__).parent.parent / "data"
                        / "scalesim_reference.json").read_text())
COUNTS = ("compute_cycles", "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes")
# Recorded cases the engine replays (its run time grows with the cycles): 463 of the 528.
ENGINE_CYCLE_BUDGET = 8000


def _direct_conv(layer: Layer, ifmap: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Reference convolution, written independently of the GEMM lowering."""
    p = layer.padding
    padded = np.pad(ifmap, ((0, 0), (0, 0), (p, p), (p, p)))
    channels, filters = layer.C // layer.groups, layer.M // layer.groups
    out = np.zeros((layer.N, layer.M, layer.P, layer.Q), np.int64)
    for m in range(layer.M):
        g = m // filters
        x = padded[:, g * channels:(g + 1) * channels]
        for r in range(layer.R):
            for s in range(layer.S):
                patch = x[:, :, r:r + layer.stride * layer.P:layer.stride,
                          s:s + layer.stride * layer.Q:layer.stride]
                out[:, m] += np.einsum("ncpq,c->npq", patch, weights[m, :, r, s])
    return out


def _random_operands(rng, layer):
    ifmap = rng.integers(-4, 5, (layer.N, layer.C, layer.H, layer.W))
    weights = rng.integers(-4, 5, (layer.M, layer.C // layer.groups, layer.R, layer.S))
    return ifmap, weights


# -- the product is computed by the operands meeting in the array --------------------------------
@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (7, 5, 3, 2, 3), (9, 11, 6, 4, 4),
                                   (3, 17, 10, 5, 2), (12, 2, 9, 1, 6), (5, 8, 1, 3, 1)])
def test_gemm_product_equals_matmul(dataflow, shape):
    pixels, window, filters, rows, cols = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(-9, 10, (pixels, window))
    b = rng.integers(-9, 10, (window, filters))
    result = run_gemm(a, b, Accelerator(rows=rows, cols=cols, dataflow=dataflow))
    np.testing.assert_array_equal(result.output, a @ b)
    assert result.macs == pixels * window * filters


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_gemm_product_floats(dataflow):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 7)), rng.normal(size=(7, 5))
    result = run_gemm(a, b, Accelerator(rows=3, cols=2, dataflow=dataflow))
    np.testing.assert_allclose(result.output, a @ b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("layer", [
    Layer.conv("conv", C=3, M=4, H=6, W=5, kernel=3, stride=2, N=2),
    Layer(name="rect", C=2, M=3, H=5, W=7, R=2, S=3, stride=1, padding=1),
    Layer.depthwise("dw", C=4, H=5, W=5, kernel=3),
    Layer.conv("grouped", C=4, M=6, H=4, W=4, kernel=3, groups=2),
    Layer.pointwise("pw", C=5, M=3, H=3, W=4),
    Layer.fc("fc", 7, 5, N=3),
], ids=lambda layer: layer.name)
def test_layer_output_equals_direct_convolution(dataflow, layer):
    ifmap, weights = _random_operands(np.random.default_rng(7), layer)
    result = run_layer(layer, Accelerator(rows=3, cols=4, dataflow=dataflow), ifmap, weights)
    np.testing.assert_array_equal(result.output, _direct_conv(layer, ifmap, weights))
    assert result.macs == layer.macs


def test_conv_gemm_operands_shapes():
    layer = Layer.conv("g", C=6, M=4, H=5, W=5, kernel=3, stride=2, groups=2, N=3)
    ifmap, weights = _random_operands(np.random.default_rng(0), layer)
    pairs = conv_gemm_operands(layer, ifmap, weights)
    assert len(pairs) == 2
    for a, b in pairs:
        assert a.shape == (3 * layer.P * layer.Q, 3 * 3 * 3)
        assert b.shape == (3 * 3 * 3, 2)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, match", [
    (np.ones((2, 3)), np.ones((4, 2)), "ifmap_matrix columns"),
    (np.ones(3), np.ones((3, 2)), "ifmap_matrix must be a non-empty 2-D"),
    (np.ones((2, 0)), np.ones((0, 2)), "non-empty"),
    (np.ones((2, 3)), np.array([["a", "b"]] * 3), "filter_matrix must hold integers or floats"),
])
def test_run_gemm_rejects_bad_operands(a, b, match):
    with pytest.raises(ValueError, match=match):
        run_gemm(a, b, Accelerator(rows=2, cols=2))


def test_run_gemm_rejects_bad_mapping():
    with pytest.raises(ValueError, match="mapping must be a sim.Mapping"):
        run_gemm(np.ones((2, 2)), np.ones((2, 2)), Accelerator(), mapping="row_outer")


def test_run_layer_rejects_bad_shapes():
    layer = Layer.conv("c", C=3, M=4, H=5, W=5, kernel=3)
    with pytest.raises(ValueError, match="layer must be a sim.Layer"):
        run_layer(layer.to_dict(), Accelerator(), np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"ifmap must have shape \(1, 3, 5, 5\)"):
        run_layer(layer, Accelerator(), np.ones((1, 3, 5, 4)), np.ones((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"weights must have shape \(4, 3, 3, 3\)"):
        run_layer(layer, Accelerator(), np.ones((1, 3, 5, 5)), np.ones((4, 1, 3, 3)))


# -- SCALE-Sim 3.0.0's recorded figures ------------------------------------------------------------
def _case_id(case):
    return f"{case['layer']['name']}-{case['rows']}x{case['cols']}-{case['dataflow']}"


ENGINE_CASES = [case for case in REFERENCE["cases"]
                if case["per_group"]["compute_cycles"] <= ENGINE_CYCLE_BUDGET]


def test_reference_file_is_broad():
    cases = REFERENCE["cases"]
    assert REFERENCE["scalesim_version"] == "3.0.0"
    assert {case["dataflow"] for case in cases} == set(DATAFLOWS)
    assert len(cases) >= 150
    assert len(ENGINE_CASES) >= 400
    assert {Layer.from_dict(case["layer"]).kind for case in cases} == {
        "conv", "pointwise", "fc", "depthwise", "grouped"}


@pytest.mark.parametrize("case", ENGINE_CASES, ids=_case_id)
def test_engine_equals_scalesim(case):
    gemm = case["gemm"]
    rng = np.random.default_rng(0)
    a = rng.integers(-4, 5, (gemm["pixels"], gemm["window"]))
    b = rng.integers(-4, 5, (gemm["window"], gemm["filters"]))
    result = run_gemm(a, b, Accelerator(rows=case["rows"], cols=case["cols"],
                                        dataflow=case["dataflow"]))
    np.testing.assert_array_equal(result.output, a @ b)
    assert {name: getattr(result, name) for name in COUNTS} == {
        name: case["per_group"][name] for name in COUNTS}


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=_case_id)
def test_fast_model_equals_scalesim(case):
    layer = Layer.from_dict(case["layer"])
    report = simulate_layer(layer, Accelerator(rows=case["rows"], cols=case["cols"],
                                               dataflow=case["dataflow"]))
    assert {name: getattr(report, name) for name in COUNTS} == {
        name: layer.groups * case["per_group"][name] for name in COUNTS}


# -- the fast fold-level path equals the engine --------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(pixels=st.integers(1, 24), window=st.integers(1, 24), filters=st.integers(1, 24),
       rows=st.integers(1, 9), cols=st.integers(1, 9), dataflow=st.sampled_from(DATAFLOWS),
       mapping=st.sampled_from(MAPPINGS), seed=st.integers(0, 2**16))
def test_fold_schedule_equals_engine_on_random_gemms(pixels, window, filters, rows, cols, dataflow,
                                                     mapping, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, (pixels, window))
    b = rng.integers(-4, 5, (window, filters))
    result = run_gemm(a, b, Accelerator(rows=rows, cols=cols, dataflow=dataflow), mapping)
    Sr, Sc, T = {"os": (pixels, filters, window), "ws": (window, filters, pixels),
                 "is": (window, pixels, filters)}[dataflow]
    schedule = fold_schedule(Sr, Sc, T, rows, cols, dataflow)
    np.testing.assert_array_equal(result.output, a @ b)
    assert result.folds == schedule.folds
    assert {name: getattr(result, name) for name in COUNTS} == {
        name: getattr(schedule, name) for name in COUNTS}


@st.composite
def small_layers(draw):
    groups = draw(st.integers(1, 3))
    C = groups * draw(st.integers(1, 4))
    M = groups * draw(st.integers(1, 4))
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.integers(0, 2))
    H = draw(st.integers(max(1, R - 2 * padding), 8))
    W = draw(st.integers(max(1, S - 2 * padding), 8))
    return Layer(name="random", N=draw(st.integers(1, 2)), C=C, M=M, H=H, W=W, R=R, S=S,
                 stride=draw(st.integers(1, 3)), padding=padding, groups=groups)


@settings(max_examples=300, deadline=None)
@given(layer=small_layers(), rows=st.integers(1, 10), cols=st.integers(1, 10),
       dataflow=st.sampled_from(DATAFLOWS), mapping=st.sampled_from(MAPPINGS),
       seed=st.integers(0, 2**16))
def test_simulate_layer_equals_engine_on_random_layers(layer, rows, cols, dataflow, mapping, seed):
    ifmap, weights = _random_operands(np.random.default_rng(seed), layer)
    accelerator = Accelerator(rows=rows, cols=cols, dataflow=dataflow)
    result = run_layer(layer, accelerator, ifmap, weights, mapping)
    report = simulate_layer(layer, accelerator, mapping)
    np.testing.assert_array_equal(result.output, _direct_conv(layer, ifmap, weights))
    assert (result.macs, result.folds) == (report.macs, report.folds)
    assert {name: getattr(result, name) for name in COUNTS} == {
        name: getattr(report, name) for name in COUNTS}


def test_fold_order_changes_no_engine_count():
    rng = np.random.default_rng(5)
    a, b = rng.integers(-4, 5, (10, 7)), rng.integers(-4, 5, (7, 9))
    for dataflow in DATAFLOWS:
        accelerator = Accelerator(rows=3, cols=4, dataflow=dataflow)
        col_outer, row_outer = (run_gemm(a, b, accelerator, Mapping(order))
                                for order in ("col_outer", "row_outer"))
        np.testing.assert_array_equal(row_outer.output, col_outer.output)
        assert {name: getattr(row_outer, name) for name in COUNTS} == {
            name: getattr(col_outer, name) for name in COUNTS}
