"""The crossbar forward pass against IBM aihwkit 1.2.0 where the two models coincide.

``tests/data/aihwkit_reference.json`` holds aihwkit's own figures (its version, each case's
settings and the digital steps applied to its outputs are stored in the file and described in
``benchmarks/crossbar_noise_crosscheck.py``), written by
``python benchmarks/crossbar_noise_crosscheck.py --record tests/data/aihwkit_reference.json`` with
aihwkit in its own virtualenv; aihwkit is not needed here.

* exact cases (ideal product, abs-max DAC, ADC of one tile, bit-streamed ADC, bit-sliced and
  tiled ADC, signed inputs with an ADC reading per sign): our output equals aihwkit's within the
  recorded tolerance (float32 rounding, below half an ADC level);
* statistics cases (programming noise at sigma 0.1 and 1.0, the MULT_NORMAL training modifier,
  ``w_noise`` on uniform cells): over as many noise keys as aihwkit had draws, each output's error
  mean and log sd are within ``z_bound`` standard errors of aihwkit's.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax.nas import crossbar_noise as cn
from dianjax.nas.crossbar_noise import AnalogConfig

REFERENCE = json.loads((Path(__file__).parent.parent / "data"
                        / "aihwkit_reference.json").read_text())
CASES = {case["name"]: case for case in REFERENCE["cases"]}
EXACT = [name for name, case in CASES.items() if case["kind"] == "exact"]
STATISTICS = [name for name, case in CASES.items() if case["kind"] == "statistics"]
# Jitted: run eagerly, every small op of the pipeline would compile on its own (seconds a case).
_FUNCTIONS = {"crossbar_mvm": (jax.jit(cn.crossbar_mvm, static_argnames="config"), jnp.int32),
              "crossbar_matmul": (jax.jit(cn.crossbar_matmul, static_argnames="config"),
                                  jnp.float32)}


def _ours(case: dict, key: jax.Array | None = None) -> jax.Array:
    """Our output for the case (``crossbar_mvm``: x = x_int, w = q), under ``key``'s noise."""
    function, dtype = _FUNCTIONS[case["function"]]
    return function(jnp.asarray(case["x"], dtype), jnp.asarray(case["w"], dtype),
                    config=AnalogConfig(**case["config"]), key=key)


def test_the_record_covers_every_coinciding_setting():
    assert REFERENCE["aihwkit_version"] == "1.2.0"
    assert set(CASES) == {
        "ideal", "dac_abs_max_b1", "dac_abs_max_b4", "dac_abs_max_b8", "adc_one_tile",
        "adc_bit_streamed", "adc_sliced_tiled", "signed_pos_neg", "programming_noise_s0.1",
        "programming_noise_s1.0", "hwa_mult_normal_s0.1", "w_noise_uniform_cells"}


@pytest.mark.parametrize("name", EXACT)
def test_exact_cases_equal_aihwkit(name):
    case = CASES[name]
    ours = np.asarray(_ours(case), np.float64)
    reference = np.asarray(case["reference"])
    assert ours.shape == reference.shape
    assert np.max(np.abs(ours - reference)) <= case["tolerance"]
    config = AnalogConfig(**case["config"])
    if config.adc_bits is not None and case["function"] == "crossbar_mvm":
        # The tolerance is far below one ADC level, so a level off anywhere would fail.
        assert case["tolerance"] < 0.01 * config.adc_full_scale / (2 ** config.adc_bits - 1)


def _moments(errors: np.ndarray) -> dict[str, np.ndarray]:
    mean = errors.mean(axis=0)
    sd = errors.std(axis=0, ddof=1)
    return {"mean": mean, "sd": sd, "kurtosis": ((errors - mean) ** 4).mean(axis=0) / sd ** 4}


@pytest.mark.parametrize("name", STATISTICS)
def test_noise_statistics_match_aihwkit(name):
    case = CASES[name]
    draws = case["draws"]
    keys = jax.random.split(jax.random.key(7, impl="rbg"), draws)
    y = np.asarray(jax.vmap(lambda k: _ours(case, k))(keys), np.float64)
    ours = _moments(y - np.asarray(case["x"]) @ np.asarray(case["w"]))
    ref = {key: np.asarray(value) for key, value in case["reference"].items()}
    z_mean = (ours["mean"] - ref["mean"]) / np.sqrt((ours["sd"] ** 2 + ref["sd"] ** 2) / draws)
    se_log_sd = np.sqrt((ours["kurtosis"] - 1 + ref["kurtosis"] - 1) / (4 * draws))
    z_sd = np.log(ours["sd"] / ref["sd"]) / se_log_sd
    assert np.max(np.abs(z_mean)) <= case["z_bound"], z_mean
    assert np.max(np.abs(z_sd)) <= case["z_bound"], z_sd
    if name == "programming_noise_s1.0":
        # Clipping g (1 + sigma eps) at 0 biases every output upwards, in both models alike.
        assert np.all(ref["mean"] > 5 * ref["sd"] / np.sqrt(draws))
    # The pooled sd agrees to a few percent (2000 draws: about 1.6 % standard error per output).
    pooled = np.sqrt(np.sum(ours["sd"] ** 2) / np.sum(ref["sd"] ** 2))
    assert abs(pooled - 1) < 0.05, pooled
