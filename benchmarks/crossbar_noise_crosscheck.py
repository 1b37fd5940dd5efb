"""Cross-checks ``dianjax.nas.crossbar_noise`` against IBM aihwkit 1.2.0 where the models coincide.

aihwkit (its own virtualenv, never a dependency; ``benchmarks/aihwkit_worker.py`` runs its tiles in
a subprocess and hands the outputs back through a temporary .npz) simulates an analog tile with a
DAC (``forward.inp_res`` over ``[-inp_bound, inp_bound]``), abs-max noise management, an ADC
(``forward.out_res`` over ``[-out_bound, out_bound]``), output-referred weight noise
(``forward.w_noise``) and, at inference, programming noise (``noise_model``). Its conventions,
read in its sources (``UniformQuantize``, ``ForwardBackwardPassIOManaged``, ``rintf``):

* a quantizer of resolution ``res`` and bound ``b`` has the step ``res * 2 * b`` and levels
  ``k * step`` (round half to even), clipped to ``[-b, b]``; so ``inp_res = 1 / (2**(B+1) - 2)``
  gives the inputs ``k / (2**B - 1)``, ``|k| <= 2**B - 1``: our ``input_bits = B`` (magnitude bits,
  the sign by two passes), and ``out_bound = F^, out_res = 1 / (2 L)`` gives the levels
  ``j * F^ / L``, ``|j| <= L``: our ADC (``L = 2**adc_bits - 1`` steps over ``[0, F]``) on the
  non-negative half, ``F^`` the full scale in aihwkit's normalized units;
* ABS_MAX noise management scales each input vector (of each physical tile) by its abs max.

So the models coincide, and each case checks it, on:

1. ``ideal``: ``is_perfect`` vs our pipeline with a lossless ADC, on weights and inputs on our
   grids: both are the plain matrix product (exact up to float32).
2. ``dac_abs_max_b*``: abs-max input quantization alone (no ADC), float signed inputs, weights on
   our 8-bit grid: aihwkit's ONE_PASS output = ours (exact up to float32).
3. ``adc_one_tile``: the ADC of one partly used tile (K < rows), one weight slice, one DAC cycle:
   aihwkit fed the offset-encoded conductances ``u = q + 2**(weight_bits-1)`` (scaled to
   ``[0, 1]``), ``out_bound = rows``, ``out_res = 1/(2L)``; ours ``crossbar_mvm``
   ``= (2**cell_bits - 1) * y_aihwkit - 2**(weight_bits-1) * sum(x_int)`` exactly.
4. ``adc_bit_streamed``: aihwkit's bit-serial input (``TorchInferenceRPUConfigIRDropT``,
   ``mv_type=BIT_WISE``, ``ir_drop=0``: one ADC reading per input bit, shifted and added) vs our
   ``dac_bits=1`` bit-streaming (exact).
5. ``adc_sliced_tiled``: bit-slicing (4 two-bit slices), 2-bit DAC chunks and two full row tiles
   (aihwkit's ``TileModuleArray``, ``max_input_size = rows``): aihwkit run once per DAC chunk on
   the digit matrix, our shift-and-add applied to its per-column readings (exact).
6. ``signed_pos_neg``: float signed inputs through aihwkit's ``POS_NEG_SEPARATE_DIGITAL_SUM`` (one
   ADC reading per input sign, as our signed split) with abs-max DAC and ADC, the offset term
   ``sum(x)`` from an aihwkit reference column without ADC: ``crossbar_matmul`` (exact).
7. ``programming_noise_s*``: our static multiplicative per-cell variation ``g (1 + sigma eps)``,
   clipped at 0, vs aihwkit's programming noise with ``prog_coeff = [0, sigma g_max, 0]`` (aihwkit
   also clips at 0; no drift or read noise), one ``program_weights()`` per draw, on the digit
   (cell) matrix: per-output mean and sd of the output error over the draws.
8. ``hwa_mult_normal_s0.1``: the same against aihwkit's hardware-aware-training modifier
   ``MULT_NORMAL`` (``w (1 + sigma eps)``, not clipped; negligible at sigma 0.1).
9. ``w_noise_uniform_cells``: aihwkit's ``forward.w_noise`` (``ADDITIVE_CONSTANT``: output noise of
   sd ``w_noise * ||x||``, independent of the weights) equals ours in each output's distribution
   only when every cell conducts the same ``U`` (here all weights equal): ``w_noise = sigma U``.

Where they do not coincide (not compared): aihwkit has no weight bit-slicing (one analog weight
per differential pair; ``NPairConductanceConverter`` splits conductances only for programming
noise, read back as one weight through one ADC) and its default C++ tile no input bit-streaming
(only the IR-drop torch tile's ``BIT_WISE`` / ``SPLIT_MODE``); its weights are signed (g+ - g-),
so zero weights carry no programming noise, where our offset-encoded cells store ``2**(wb-1)`` and
do; its ``w_noise`` is redrawn for every input vector and its ABS_MAX scale is per physical tile
(ours: one device per call, one scale per input vector); its ``TileModuleArray`` splits K into
equal parts (ours fills ``rows``-row crossbars in order, so only full tiles coincide); its ADC
clips at ``out_bound`` with bound management (ours never clips: ``F`` is the worst case); its IR
drop is a current-dependent circuit model (ours a stated linear attenuation). Exact ties (a
partial sum half-way between two ADC levels) are avoided by an odd full scale ``F`` (odd
``rows``): aihwkit's float32 normalized arithmetic puts a tie on either side, ours rounds it half
to even.

Usage (project virtualenv; about 20 s on 2 cores)::

    python benchmarks/crossbar_noise_crosscheck.py
    python benchmarks/crossbar_noise_crosscheck.py --record tests/data/aihwkit_reference.json

Exits with status 1 if a case disagrees beyond its stated tolerance (exact cases: max abs
difference within ``1e-5`` of the output's range, below half an ADC level; noise cases: every
output's mean and log sd within ``Z_BOUND`` standard errors).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from dianjax.nas import crossbar_noise as cn
from dianjax.nas.crossbar_noise import AnalogConfig

WORKER = Path(__file__).with_name("aihwkit_worker.py")
EXACT_RTOL = 1e-5
Z_BOUND = 5.0
DRAWS = 2000

# aihwkit forward settings shared by the cases: no output noise, no bound management, no clipping
# unless the case sets bounds.
QUIET = {"out_noise": 0.0, "bound_management": "NONE", "w_noise": 0.0}
NO_ADC = {"out_res": -1.0, "out_bound": -1.0}


def dac(input_bits: int) -> dict:
    """aihwkit's abs-max DAC equal to our ``input_bits``: levels k / (2**B - 1)."""
    return {"noise_management": "ABS_MAX", "inp_bound": 1.0,
            "inp_res": 1.0 / (2 ** (input_bits + 1) - 2)}


def adc(config: AnalogConfig, full_scale: float) -> dict:
    """aihwkit's ADC equal to ours: L steps over ``[0, full_scale]`` (aihwkit's units)."""
    return {"out_bound": full_scale, "out_res": 1.0 / (2 * (2 ** config.adc_bits - 1))}


def run(name: str, weights: np.ndarray, inputs: np.ndarray, forward: dict, *,
        config: str = "InferenceRPUConfig", max_input_size: int = 0, noise: dict | None = None,
        draws: int = 1, seed: int = 0) -> dict:
    """One aihwkit run for the worker: ``weights`` [out, in], ``inputs`` [P, in]."""
    return {"name": name, "config": config, "forward": forward, "max_input_size": max_input_size,
            "weights": np.asarray(weights, np.float32).tolist(),
            "inputs": np.asarray(inputs, np.float32).tolist(), "noise": noise, "draws": draws,
            "seed": seed}


# ------------------------------------------------------------------ data on our grids


def grid_weights(rng, rows_k: int, columns: int, weight_bits: int, scaled: bool) -> np.ndarray:
    """Signed integers q[K, M], |q| <= 2**(wb-1) - 1, each column reaching the bound (so that our
    per-channel quantizer returns q exactly); times a per-column scale when ``scaled``."""
    w_max = 2 ** (weight_bits - 1) - 1
    q = rng.integers(-w_max, w_max + 1, (rows_k, columns))
    q[rng.integers(0, rows_k, columns), np.arange(columns)] = w_max * rng.choice([-1, 1], columns)
    if not scaled:
        return q
    return (q * rng.uniform(0.01, 0.1, columns)).astype(np.float32)


def unsigned_inputs(rng, vectors: int, rows_k: int, input_bits: int) -> np.ndarray:
    """Integers x_int[P, K] in [0, 2**B - 1], each vector reaching 2**B - 1 (so aihwkit's abs-max
    DAC passes them unchanged)."""
    x_max = 2 ** input_bits - 1
    x = rng.integers(0, x_max + 1, (vectors, rows_k))
    x[np.arange(vectors), rng.integers(0, rows_k, vectors)] = x_max
    return x


def float_inputs(rng, vectors: int, rows_k: int, input_bits: int) -> np.ndarray:
    """Signed float32 inputs whose scaled magnitudes |x| / max|x| * (2**B - 1) stay 1e-3 of a step
    away from a rounding tie (the two float32 computations may round a near-tie differently)."""
    x = rng.standard_normal((vectors, rows_k)).astype(np.float32)
    while True:
        t = np.abs(x) / np.abs(x).max(axis=1, keepdims=True) * (2 ** input_bits - 1)
        near = np.abs(t - np.floor(t) - 0.5) < 1e-3
        if not near.any():
            return x
        x[near] = rng.standard_normal(int(near.sum())).astype(np.float32)


def stored(q: np.ndarray, config: AnalogConfig) -> np.ndarray:
    """Offset-encoded cell contents u = q + 2**(wb-1)."""
    return q + 2 ** (config.weight_bits - 1)


def digit_matrix(q: np.ndarray, config: AnalogConfig) -> np.ndarray:
    """The cells [K, M*S] (column m*S + s: slice s of weight column m)."""
    u = stored(q, config)
    digits = [u // 2 ** (s * config.cell_bits) % 2 ** config.cell_bits
              for s in range(config.weight_slices)]
    return np.stack(digits, axis=-1).reshape(q.shape[0], -1)


def shift_add(outputs: np.ndarray, config: AnalogConfig) -> np.ndarray:
    """Per-slice readings [..., M*S] -> sum_s 2**(s*cell_bits) * reading [..., M]."""
    per_slice = outputs.reshape(*outputs.shape[:-1], -1, config.weight_slices)
    return per_slice @ (2.0 ** (np.arange(config.weight_slices) * config.cell_bits))


def ties(partial_sums: np.ndarray, config: AnalogConfig) -> int:
    """Partial sums exactly half-way between two ADC levels: 2 p L / F an odd integer."""
    steps = 2 ** config.adc_bits - 1
    twice = 2 * np.asarray(partial_sums, np.int64) * steps
    return int(np.sum((twice % config.adc_full_scale == 0)
                      & ((twice // config.adc_full_scale) % 2 == 1)))


# ------------------------------------------------------------------ the cases


@dataclasses.dataclass
class Case:
    """One comparison. ``ours``: the function (``crossbar_matmul`` on float ``x``, ``w`` or
    ``crossbar_mvm`` on integer ``x``, ``w`` = q), its config and operands. ``runs``: the aihwkit
    runs; ``reference(outputs)`` turns their outputs into the figure ours must equal (exact: [P, M];
    statistics: the output error per draw [draws, P, M])."""

    name: str
    what: str
    kind: str  # "exact" | "statistics"
    function: str
    config: AnalogConfig
    x: np.ndarray
    w: np.ndarray
    runs: list[dict]
    reference: object
    notes: dict = dataclasses.field(default_factory=dict)


def ideal_case(rng) -> Case:
    config = AnalogConfig(rows=32, weight_bits=8, cell_bits=2, input_bits=8, dac_bits=1)
    config = dataclasses.replace(config, adc_bits=config.lossless_adc_bits)
    w = grid_weights(rng, 24, 6, config.weight_bits, scaled=True)
    x_int = rng.integers(-255, 256, (8, 24))
    x_int[np.arange(8), rng.integers(0, 24, 8)] = 255
    x = (x_int * rng.uniform(0.01, 0.1, (8, 1))).astype(np.float32)
    return Case("ideal", "is_perfect vs lossless ADC, grid weights and inputs: the plain product",
                "exact", "crossbar_matmul", config, x, w,
                [run("y", w.T, x, {"is_perfect": True})], lambda out: out["y"][0],
                {"float64_matmul": x.astype(np.float64) @ w.astype(np.float64)})


def dac_case(rng, input_bits: int) -> Case:
    config = AnalogConfig(rows=32, weight_bits=8, cell_bits=2, input_bits=input_bits, dac_bits=1)
    w = grid_weights(rng, 24, 6, config.weight_bits, scaled=True)
    x = float_inputs(rng, 16, 24, input_bits)
    forward = {**QUIET, **NO_ADC, **dac(input_bits), "mv_type": "ONE_PASS"}
    return Case(f"dac_abs_max_b{input_bits}",
                f"abs-max input quantization, inp_res = 1/(2^{input_bits + 1} - 2), no ADC",
                "exact", "crossbar_matmul", config, x, w, [run("y", w.T, x, forward)],
                lambda out: out["y"][0])


def adc_one_tile_case(rng) -> Case:
    config = AnalogConfig(rows=15, weight_bits=4, cell_bits=4, input_bits=3, dac_bits=3,
                          adc_bits=5)
    q = grid_weights(rng, 12, 8, config.weight_bits, scaled=False)
    x = unsigned_inputs(rng, 16, 12, config.input_bits)
    cell_max = 2 ** config.cell_bits - 1
    forward = {**QUIET, **dac(config.input_bits), **adc(config, config.rows), "mv_type": "ONE_PASS"}
    offset = 2 ** (config.weight_bits - 1) * x.sum(axis=1, keepdims=True)
    return Case("adc_one_tile", "ADC of one partly used tile (K=12 of 15 rows), 1 slice, 1 DAC "
                "cycle; aihwkit on u/15, out_bound = rows, out_res = 1/(2L)", "exact",
                "crossbar_mvm", config, x, q,
                [run("y", stored(q, config).T / cell_max, x, forward)],
                lambda out: cell_max * out["y"][0] - offset,
                {"ties": ties(x @ stored(q, config), config)})


def adc_bit_streamed_case(rng) -> Case:
    config = AnalogConfig(rows=15, weight_bits=4, cell_bits=4, input_bits=4, dac_bits=1,
                          adc_bits=4)
    q = grid_weights(rng, 15, 8, config.weight_bits, scaled=False)
    x = unsigned_inputs(rng, 16, 15, config.input_bits)
    x_max, cell_max = 2 ** config.input_bits - 1, 2 ** config.cell_bits - 1
    # One bit plane reads sum_k bit_k/x_max * u_k/cell_max: full scale rows / x_max.
    forward = {**QUIET, **dac(config.input_bits), **adc(config, config.rows / x_max),
               "mv_type": "BIT_WISE", "ir_drop": 0.0}
    offset = 2 ** (config.weight_bits - 1) * x.sum(axis=1, keepdims=True)
    bits = [(x >> b) & 1 for b in range(config.input_bits)]
    return Case("adc_bit_streamed", "bit-serial inputs (aihwkit IR-drop torch tile, BIT_WISE, "
                "ir_drop=0) vs dac_bits=1: one ADC reading per input bit", "exact", "crossbar_mvm",
                config, x, q, [run("y", stored(q, config).T / cell_max, x, forward,
                                   config="TorchInferenceRPUConfigIRDropT")],
                lambda out: cell_max * out["y"][0] - offset,
                {"ties": sum(ties(b @ stored(q, config), config) for b in bits)})


def adc_sliced_tiled_case(rng) -> Case:
    config = AnalogConfig(rows=15, weight_bits=8, cell_bits=2, input_bits=4, dac_bits=2,
                          adc_bits=4)
    rows_k = 2 * config.rows
    q = grid_weights(rng, rows_k, 4, config.weight_bits, scaled=False)
    x = unsigned_inputs(rng, 12, rows_k, config.input_bits)
    digits = digit_matrix(q, config)
    dac_max, cell_max = 2 ** config.dac_bits - 1, 2 ** config.cell_bits - 1
    # Inputs x_c / dac_max are on the grid of a 2-bit DAC without noise management (lossless).
    forward = {**QUIET, **adc(config, config.rows), "noise_management": "NONE", "inp_bound": 1.0,
               "inp_res": 1.0 / (2 ** (config.dac_bits + 1) - 2), "mv_type": "ONE_PASS"}
    chunks = [(x >> (c * config.dac_bits)) & dac_max for c in range(config.input_chunks)]
    runs = [run(f"chunk{c}", digits.T / cell_max, chunk / dac_max, forward,
                max_input_size=config.rows) for c, chunk in enumerate(chunks)]
    offset = 2 ** (config.weight_bits - 1) * x.sum(axis=1, keepdims=True)

    def reference(out):
        total = sum(2.0 ** (c * config.dac_bits) * shift_add(out[f"chunk{c}"][0], config)
                    for c in range(config.input_chunks))
        return dac_max * cell_max * total - offset

    partial = [chunk[:, t * config.rows:(t + 1) * config.rows]
               @ digits[t * config.rows:(t + 1) * config.rows]
               for chunk in chunks for t in range(2)]
    return Case("adc_sliced_tiled", "4 two-bit weight slices x 2 two-bit DAC chunks x 2 full row "
                "tiles (TileModuleArray, max_input_size = rows), NM none; shift-add of aihwkit's "
                "per-column readings", "exact", "crossbar_mvm", config, x, q, runs, reference,
                {"ties": sum(ties(p, config) for p in partial)})


def signed_case(rng) -> Case:
    config = AnalogConfig(rows=15, weight_bits=4, cell_bits=4, input_bits=3, dac_bits=3,
                          adc_bits=5)
    w = grid_weights(rng, 12, 8, config.weight_bits, scaled=True)
    w_scale = np.abs(w).max(axis=0) / (2 ** (config.weight_bits - 1) - 1)
    q = np.round(w / w_scale).astype(np.int64)
    x = float_inputs(rng, 16, 12, config.input_bits)
    cell_max = 2 ** config.cell_bits - 1
    analog = {**QUIET, **dac(config.input_bits), **adc(config, config.rows),
              "mv_type": "POS_NEG_SEPARATE_DIGITAL_SUM"}
    column = {**QUIET, **NO_ADC, **dac(config.input_bits), "mv_type": "ONE_PASS"}
    x_max = 2 ** config.input_bits - 1
    x_int = np.round(np.abs(x) / np.abs(x).max(axis=1, keepdims=True) * x_max).astype(np.int64)
    u = stored(q, config)
    return Case("signed_pos_neg", "float signed inputs, POS_NEG_SEPARATE_DIGITAL_SUM (an ADC "
                "reading per sign) with abs-max DAC and ADC; sum(x) from an aihwkit reference "
                "column", "exact", "crossbar_matmul", config, x, w,
                [run("y", u.T / cell_max, x, analog), run("sum_x", np.ones((1, 12)), x, column)],
                lambda out: w_scale * (cell_max * out["y"][0]
                                       - 2 ** (config.weight_bits - 1) * out["sum_x"][0]),
                {"ties": ties(np.where(x > 0, x_int, 0) @ u, config)
                 + ties(np.where(x < 0, x_int, 0) @ u, config)})


def _noise_data(rng, config: AnalogConfig):
    q = grid_weights(rng, 16, 4, config.weight_bits, scaled=False)
    x = unsigned_inputs(rng, 4, 16, config.input_bits)
    return q, x


def programming_case(rng, sigma: float, kind: str) -> Case:
    config = AnalogConfig(rows=16, weight_bits=8, cell_bits=2, input_bits=4, dac_bits=4,
                          conductance_sigma=sigma)
    q, x = _noise_data(rng, config)
    offset = 2 ** (config.weight_bits - 1) * x.sum(axis=1, keepdims=True)
    ideal = x @ q
    forward = {"is_perfect": True}
    name = ("programming_noise" if kind == "programming" else "hwa_mult_normal") + f"_s{sigma}"
    what = ("aihwkit programming noise, prog_coeff = [0, sigma g_max, 0], clipped at 0, one "
            "program_weights() per draw" if kind == "programming" else
            "aihwkit HWA-training modifier MULT_NORMAL (train mode, one post_update_step() per "
            "draw)")
    return Case(name, what + ", on the cell (digit) matrix; output error over draws",
                "statistics", "crossbar_mvm", config, x, q,
                [run("y", digit_matrix(q, config).T, x, forward,
                     noise={"kind": kind, "sigma": sigma}, draws=DRAWS, seed=1)],
                lambda out: shift_add(out["y"], config) - offset - ideal,
                {"analytic_sd": analytic_sd(x, q, config)})


def w_noise_case(rng) -> Case:
    sigma = 0.1
    config = AnalogConfig(rows=16, weight_bits=4, cell_bits=4, input_bits=4, dac_bits=4,
                          conductance_sigma=sigma)
    q = np.full((16, 4), 3)
    x = unsigned_inputs(rng, 4, 16, config.input_bits)
    u = stored(q, config)
    forward = {**QUIET, **NO_ADC, "noise_management": "NONE", "inp_res": -1.0, "inp_bound": -1.0,
               "mv_type": "ONE_PASS", "w_noise_type": "ADDITIVE_CONSTANT",
               "w_noise": sigma * float(u[0, 0])}
    offset = 2 ** (config.weight_bits - 1) * x.sum(axis=1, keepdims=True)
    return Case("w_noise_uniform_cells", f"aihwkit forward.w_noise ADDITIVE_CONSTANT = sigma*U = "
                f"{sigma * u[0, 0]:g} on cells all U = {u[0, 0]} (all weights 3): each output's "
                "distribution (aihwkit redraws per vector, ours per call)", "statistics",
                "crossbar_mvm", config, x, q,
                [run("y", u.T, x, forward, draws=DRAWS, seed=2)],
                lambda out: out["y"] - offset - x @ q,
                {"analytic_sd": analytic_sd(x, q, config)})


def analytic_sd(x: np.ndarray, q: np.ndarray, config: AnalogConfig) -> np.ndarray:
    """sd of our output error without the clip at 0: sigma * sqrt(sum_{k,s} (x_k 2**(s cb)
    u_s[k, m])**2), [P, M]."""
    cells = digit_matrix(q, config).reshape(q.shape[0], q.shape[1], config.weight_slices)
    weighted = cells * 2.0 ** (np.arange(config.weight_slices) * config.cell_bits)
    return config.conductance_sigma * np.sqrt(np.einsum("pk,kms->pm", x ** 2.0, weighted ** 2))


def cases() -> list[Case]:
    rng = np.random.default_rng(2026)
    return [ideal_case(rng), *(dac_case(rng, b) for b in (1, 4, 8)), adc_one_tile_case(rng),
            adc_bit_streamed_case(rng), adc_sliced_tiled_case(rng), signed_case(rng),
            programming_case(rng, 0.1, "programming"), programming_case(rng, 1.0, "programming"),
            programming_case(rng, 0.1, "modifier_mult_normal"), w_noise_case(rng)]


# ------------------------------------------------------------------ aihwkit and ours


def run_aihwkit(python: str, all_cases: list[Case]) -> tuple[dict[str, dict], dict]:
    """Every case's runs in one worker process: {case: {run: [draws, P, out]}}, versions."""
    runs = [dict(r, name=f"{case.name}/{r['name']}") for case in all_cases for r in case.runs]
    with tempfile.TemporaryDirectory(prefix="aihwkit_") as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "out.npz"
        spec.write_text(json.dumps({"runs": runs}))
        done = subprocess.run([python, str(WORKER), str(spec), str(out)], check=False,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"aihwkit worker failed:\n{done.stderr[-3000:]}")
        with np.load(out) as arrays:
            flat = {name: arrays[name] for name in arrays.files}
    versions = json.loads(done.stdout.strip().splitlines()[-1])
    outputs: dict[str, dict] = {case.name: {} for case in all_cases}
    for name, value in flat.items():
        case_name, run_name = name.split("/")
        outputs[case_name][run_name] = value
    return outputs, versions


_FUNCTIONS = {"crossbar_mvm": (jax.jit(cn.crossbar_mvm, static_argnames="config"), jnp.int32),
              "crossbar_matmul": (jax.jit(cn.crossbar_matmul, static_argnames="config"),
                                  jnp.float32)}


def ours_exact(function: str, config: AnalogConfig, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Our output [P, M] (``crossbar_mvm``: x = x_int, w = q)."""
    fn, dtype = _FUNCTIONS[function]
    return np.asarray(fn(jnp.asarray(x, dtype), jnp.asarray(w, dtype), config=config), np.float64)


def ours_error_draws(config: AnalogConfig, x: np.ndarray, q: np.ndarray, draws: int,
                     seed: int) -> np.ndarray:
    """Our output error ``crossbar_mvm - x @ q`` for ``draws`` noise keys: [draws, P, M]."""
    keys = jax.random.split(jax.random.key(seed, impl="rbg"), draws)
    x_j, q_j = jnp.asarray(x, jnp.int32), jnp.asarray(q, jnp.int32)
    y = jax.jit(jax.vmap(lambda k: cn.crossbar_mvm(x_j, q_j, config, k)))(keys)
    return np.asarray(y, np.float64) - (x @ q)


def moments(errors: np.ndarray) -> dict[str, np.ndarray]:
    """Per output over the draws (axis 0): mean, sd (ddof=1) and kurtosis mu4 / sd**4."""
    mean = errors.mean(axis=0)
    sd = errors.std(axis=0, ddof=1)
    kurtosis = ((errors - mean) ** 4).mean(axis=0) / np.maximum(sd, 1e-30) ** 4
    return {"mean": mean, "sd": sd, "kurtosis": kurtosis}


def z_scores(ours: dict, ref: dict, draws_ours: int, draws_ref: int) -> tuple[np.ndarray, ...]:
    """z of the mean difference and of the log-sd difference per output; the log-sd standard
    error from each side's kurtosis: var(log s) = (kurtosis - 1) / (4 n)."""
    z_mean = (ours["mean"] - ref["mean"]) / np.sqrt(ours["sd"] ** 2 / draws_ours
                                                    + ref["sd"] ** 2 / draws_ref)
    se = np.sqrt((ours["kurtosis"] - 1) / (4 * draws_ours)
                 + (ref["kurtosis"] - 1) / (4 * draws_ref))
    return z_mean, np.log(ours["sd"] / ref["sd"]) / se


def compare_exact(case: Case, reference: np.ndarray) -> tuple[bool, str, dict]:
    """Max abs difference of ours from aihwkit's within ``EXACT_RTOL`` of the output's range."""
    ours = ours_exact(case.function, case.config, case.x, case.w)
    diff = float(np.max(np.abs(ours - reference)))
    tolerance = EXACT_RTOL * float(np.max(np.abs(reference)))
    ok = diff <= tolerance and case.notes.get("ties", 0) == 0
    extra = f", ties {case.notes['ties']}" if "ties" in case.notes else ""
    if case.config.adc_bits is not None and case.function == "crossbar_mvm":
        extra += f", ADC level {case.config.adc_full_scale / (2 ** case.config.adc_bits - 1):.3g}"
    if "float64_matmul" in case.notes:
        extra += f", vs float64 x@w {np.max(np.abs(ours - case.notes['float64_matmul'])):.2g}"
    line = (f"exact  max|ours - aihwkit| {diff:.3g} (tol {tolerance:.3g}, max|y| "
            f"{np.max(np.abs(reference)):.4g}{extra})")
    return ok, line, {"reference": reference.tolist(), "tolerance": tolerance}


def compare_statistics(case: Case, errors: np.ndarray) -> tuple[bool, str, dict]:
    """Per-output error mean and log sd of ours within ``Z_BOUND`` standard errors of
    aihwkit's, over as many noise keys as aihwkit had draws."""
    ref = moments(errors)
    draws = errors.shape[0]
    mine = moments(ours_error_draws(case.config, case.x, case.w, draws, seed=7))
    z_mean, z_sd = z_scores(mine, ref, draws, draws)
    ok = bool(np.all(np.abs(z_mean) <= Z_BOUND) and np.all(np.abs(z_sd) <= Z_BOUND))
    ratio = mine["sd"] / ref["sd"]
    pooled = np.sqrt(np.sum(mine["sd"] ** 2) / np.sum(ref["sd"] ** 2))
    analytic = np.sqrt(np.sum(case.notes["analytic_sd"] ** 2) / np.sum(ref["sd"] ** 2))
    line = (f"stats  error mean ours {np.mean(mine['mean']):+.3g} aihwkit "
            f"{np.mean(ref['mean']):+.3g} (max|z| {np.max(np.abs(z_mean)):.2f}); sd ours/aihwkit "
            f"pooled {pooled:.4f}, per output {ratio.min():.3f}-{ratio.max():.3f} (max|z| "
            f"{np.max(np.abs(z_sd)):.2f}); unclipped analytic/aihwkit {analytic:.4f}; {draws} "
            f"draws each")
    return ok, line, {"draws": draws, "reference": {k: v.tolist() for k, v in ref.items()},
                      "z_bound": Z_BOUND}


CONVENTION = (
    "ours(function, config, x, w) must equal reference (exact: within tolerance) or, for "
    "statistics, have per-output error mean and log-sd within z_bound standard errors of "
    "reference's (error = crossbar_mvm - x @ w over draws noise keys; log-sd standard error from "
    "the kurtosis). crossbar_mvm takes x = x_int, w = q. Each reference is aihwkit's output after "
    "the digital steps stated in benchmarks/crossbar_noise_crosscheck.py (shift-add of slices and "
    "chunks, offset-encoding correction); aihwkit_runs gives each run's settings (its weights and "
    "inputs are derived from x, w there)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aihwkit-python", default="/work/aihwkit-venv/bin/python",
                        help="Python of the virtualenv where aihwkit 1.2.0 is installed")
    parser.add_argument("--record", type=Path, help="write aihwkit's figures to this JSON file")
    args = parser.parse_args(argv)
    if not Path(args.aihwkit_python).exists():
        parser.error(f"--aihwkit-python {args.aihwkit_python!r} does not exist")

    all_cases = cases()
    outputs, versions = run_aihwkit(args.aihwkit_python, all_cases)
    print(f"aihwkit {versions['aihwkit']} (torch {versions['torch']}) vs "
          f"dianjax.nas.crossbar_noise")
    failures = 0
    records = []
    for case in all_cases:
        compare = compare_exact if case.kind == "exact" else compare_statistics
        ok, line, figures = compare(case, case.reference(outputs[case.name]))
        print(f"{case.name:<26} {line}  {'ok' if ok else 'DIFFERS'}")
        failures += not ok
        runs = [{k: v for k, v in r.items() if k not in ("weights", "inputs")} for r in case.runs]
        records.append({"name": case.name, "what": case.what, "kind": case.kind,
                        "function": case.function, "config": dataclasses.asdict(case.config),
                        "x": case.x.tolist(), "w": case.w.tolist(), "aihwkit_runs": runs,
                        **figures})
    print(f"{len(all_cases) - failures}/{len(all_cases)} cases agree")

    if args.record:
        head = {"aihwkit_version": versions["aihwkit"], "torch_version": versions["torch"],
                "convention": CONVENTION}
        cases_json = ",\n  ".join(json.dumps(_rounded(r), separators=(",", ":")) for r in records)
        text = json.dumps(head, indent=1)[:-2]
        args.record.write_text(f'{text},\n "cases": [\n  {cases_json}\n ]\n}}\n')
        print(f"recorded {len(records)} cases to {args.record} "
              f"({args.record.stat().st_size} bytes)")
    return 1 if failures else 0


def _rounded(value):
    """Floats to 9 significant digits (float32 operands stay exact in float32)."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
