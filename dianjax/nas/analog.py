"""The supernet on crossbars: every conv runs through a crossbar model of the hardware sampled for
its mapping slot (NAX's co-search, where the hardware changes accuracy).

A search on the crossbar template samples, per step, a crossbar size for every mapping slot (the
per-layer knob) and one ADC resolution for the accelerator, as straight-through one-hot weights of
the hardware logits (:func:`sample_choices`). A conv (or the classifier) of slot ``s`` then runs
through :meth:`AnalogSearch.matmul` for every crossbar size at once and keeps the output of the
sampled size: ``sum_j size[j] * y_j``, times the ADC's one-hot weight. The weights are exactly
one-hot in value but carry the task loss's gradient to the hardware logits (straight-through, as
the hard supernet does for the ops), so the logit step moves the crossbar sizes and ADC bits by
accuracy as well as by cost. Noise is drawn from the ``"crossbar"`` RNG stream per call, so
training with a fresh key per step is noise-aware training.

**The search's model (an approximation; the derived pair is evaluated with the full one).** The
bit-level pipeline of :mod:`dianjax.nas.crossbar_noise` holds a partial sum per (input vector,
crossbar, DAC cycle, weight slice, column), and would have to run once per crossbar size for every
size's logit to get a gradient (``benchmarks/analog_step_speed.py`` times both models).
``matmul`` keeps every stage of it that is linear exactly, and replaces the one that is not, the
ADC, by its quantization-noise model (Widrow):

- exact as in the pipeline: weight quantization, offset encoding and bit-slicing, the same
  conductance noise draw (same key, same cells), IR drop per crossbar size, input quantization
  and the signed split; with an ideal ADC the pipeline's output is ``x_int @ w_eff`` (the
  effective weights), which ``matmul`` computes directly;
- the ADC: each conversion of a partial sum errs by ``U(-D/2, D/2)``, ``D = F / L`` the ADC's
  step (``L = min(2**adc_bits - 1, F)``), independently; an output then errs by a Gaussian of
  variance ``sum 4**(c*dac_bits + s*cell_bits) * D**2 / 12`` over its conversions (crossbar,
  DAC cycle c, slice s) that read a nonzero input (an all-zero input reads zero exactly), and
  not at all where the ADC resolves every level of noise-free integer sums (lossless).

What it misses: the dead zone and the clipping of the real ADC (a partial sum below ``D/2``
reads zero, not zero plus noise), so it errs where partial sums are small against the ADC's step.
The derived network's accuracy in ``result.json`` comes from the full pipeline.

The fixed bits (weight, input, cell and DAC bits) come from the accelerator of the hardware space,
which must offer one choice for each: they set the bit-slicing and streaming of every slot.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dianjax.nas import gumbel
from dianjax.nas.crossbar_noise import (
    HIGHEST as _HIGHEST,
)
from dianjax.nas.crossbar_noise import (
    AnalogConfig,
    analog_config,
    bit_digits,
    check_dense_contraction,
    conductances,
    conv_as_matmul,
    effective_weights,
    granularity,
    quantize,
)
from sim import checks
from sim.crossbar import CrossbarAccelerator

SIZE_KNOB, ADC_KNOB = "crossbar_size", "adc_bits"
"""The hardware logits that reach the forward pass: per-slot crossbar size, accelerator ADC bits."""
FIXED_KNOBS = ("cell_bits", "dac_bits")
"""Knobs that change the forward pass but are not switched in it: one choice each."""


class SlotChoice(NamedTuple):
    """The hardware one conv slot runs on, as straight-through one-hot weights: ``size`` over the
    crossbar sizes and ``adc`` over the ADC choices (float, exactly one-hot in value)."""

    size: jax.Array
    adc: jax.Array


@dataclasses.dataclass(frozen=True)
class AnalogSearch:
    """The static part of the crossbar-aware supernet (hashable: a Flax module field).

    Attributes:
      accelerator: the accelerator's fixed bits (weight, input, cell, DAC); its crossbar size and
        ADC bits are ignored (they are the searched choices below).
      crossbar_sizes: the per-slot crossbar size choices (the mapping choices of the space).
      adc_choices: the ADC bits choices (ints or ``"lossless"``).
      conductance_sigma: sd of the multiplicative conductance variation (``AnalogConfig``).
      ir_drop: IR-drop loss on row 256 (``AnalogConfig``).
    """

    accelerator: CrossbarAccelerator
    crossbar_sizes: tuple[int, ...]
    adc_choices: tuple[int | str, ...]
    conductance_sigma: float = 0.0
    ir_drop: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "crossbar_sizes", tuple(int(s) for s in self.crossbar_sizes))
        object.__setattr__(self, "adc_choices", tuple(self.adc_choices))
        for name in ("crossbar_sizes", "adc_choices"):
            if not getattr(self, name):
                raise ValueError(f"AnalogSearch.{name} must hold at least one choice, got none")
        self.configs  # validates the bits, sigma and IR drop of every size  # noqa: B018
        self.adc_bits_table  # and every ADC choice  # noqa: B018

    @functools.cached_property
    def configs(self) -> tuple[AnalogConfig, ...]:
        """The crossbar model of each size, without ADC bits (they are passed traced)."""
        return tuple(dataclasses.replace(
            analog_config(self.accelerator, size, self.conductance_sigma, self.ir_drop),
            adc_bits=None) for size in self.crossbar_sizes)

    @functools.cached_property
    def adc_bits_table(self) -> np.ndarray:
        """int32[sizes, ADC choices]: the ADC resolution each choice has on each size."""
        return np.array([[dataclasses.replace(self.accelerator, adc_bits=choice)
                          .adc_resolution_bits(size) for choice in self.adc_choices]
                         for size in self.crossbar_sizes], np.int32)

    def config(self, size: int, adc_choice: int | str) -> AnalogConfig:
        """The static crossbar model of one (size, ADC choice): a derived network's conv."""
        checks.one_of("AnalogSearch", "crossbar size", size, self.crossbar_sizes)
        checks.one_of("AnalogSearch", "ADC choice", adc_choice, self.adc_choices)
        accelerator = dataclasses.replace(self.accelerator, adc_bits=adc_choice)
        return analog_config(accelerator, size, self.conductance_sigma, self.ir_drop)

    def _bits(self, choice: SlotChoice) -> jax.Array:
        """int32[sizes]: the chosen ADC choice's resolution on every size."""
        return jnp.asarray(self.adc_bits_table)[:, jnp.argmax(choice.adc)]

    def matmul(self, x: jax.Array, w: jax.Array, choice: SlotChoice, key: jax.Array) -> jax.Array:
        """The search's model of ``x[P, G, K] @ w[G, K, M]`` on the chosen hardware -> [P, G, M]
        (module docstring; ``key``: conductance noise and ADC error)."""
        config, rows = self.configs[0], granularity(self.configs)
        x, w = x.astype(jnp.float32), w.astype(jnp.float32)
        q, w_scale, parts, x_scale = quantize(x, w, config)
        cell_key, adc_key = jax.random.split(key)
        cells = conductances(q, config, cell_key if config.noisy else None, rows)
        signed = (parts[0] - parts[1]).astype(jnp.float32)
        digits = bit_digits(parts, config.dac_bits, config.input_chunks) > 0  # [2, P, G, K, C]
        cycle_weight = 4.0 ** (jnp.arange(config.input_chunks) * config.dac_bits)
        slice_weight = jnp.sum(4.0 ** (jnp.arange(config.weight_slices) * config.cell_bits))
        unit_error = jax.random.normal(adc_key, (*x.shape[:2], w.shape[-1]), jnp.float32)
        bits = self._bits(choice)
        # the noise-free output on each size (one when no IR drop: then all sizes store alike)
        ideal = []
        for size_config in self.configs if config.ir_drop > 0 else self.configs[:1]:
            w_eff = effective_weights(cells, w.shape[1], size_config)
            y = jnp.einsum("pgk,gkm->pgm", signed, w_eff, precision=_HIGHEST)
            y = y * x_scale * w_scale[:, 0]
            y_lin = jnp.einsum("pgk,gkm->pgm", x, w + lax.stop_gradient(w_eff * w_scale - w),
                               precision=_HIGHEST)
            ideal.append(y_lin + lax.stop_gradient(y - y_lin))
        outputs = []
        for index, size_config in enumerate(self.configs):
            full_scale = size_config.adc_full_scale
            levels = jnp.minimum(2.0 ** bits[index] - 1.0, full_scale)
            step = full_scale / levels
            exact = jnp.logical_and(levels >= full_scale, not config.noisy)  # integer sums
            tiles = -(-w.shape[1] // size_config.rows)
            padded = jnp.pad(digits, ((0, 0),) * 3 + ((0, tiles * size_config.rows
                                                        - w.shape[1]), (0, 0)))
            active = padded.reshape(*padded.shape[:3], tiles, size_config.rows, -1).any(axis=4)
            reads = jnp.einsum("apgtc,c->pg", active.astype(jnp.float32), cycle_weight)
            variance = jnp.where(exact, 0.0, reads * slice_weight * step ** 2 / 12.0)
            error = jnp.sqrt(variance)[..., None] * unit_error * x_scale * w_scale[:, 0]
            outputs.append(ideal[min(index, len(ideal) - 1)] + lax.stop_gradient(error))
        size = choice.size.astype(jnp.float32)
        adc = choice.adc[jnp.argmax(choice.adc)].astype(jnp.float32)
        return jnp.tensordot(size, jnp.stack(outputs), axes=1) * adc

    def conv(self, choice: SlotChoice, key: jax.Array):
        """A ``lax.conv_general_dilated`` replacement (for ``nn.Conv``) on the chosen hardware."""
        def conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                 dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                 precision=None, preferred_element_type=None):
            del precision
            return conv_as_matmul(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                  dimension_numbers, feature_group_count, batch_group_count,
                                  preferred_element_type, 1,
                                  lambda x, w: self.matmul(x, w, choice, key)[None])[0]
        return conv

    def dot(self, choice: SlotChoice, key: jax.Array):
        """A ``lax.dot_general`` replacement (for ``nn.Dense``: ``lhs[..., K] @ rhs[K, M]``)."""
        def dot(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
            del precision
            check_dense_contraction(lhs, rhs, dimension_numbers)
            y = self.matmul(lhs.reshape(-1, 1, rhs.shape[0]), rhs[None], choice, key)
            y = y.reshape(*lhs.shape[:-1], rhs.shape[1])
            return y.astype(preferred_element_type or jnp.result_type(lhs, rhs))
        return dot



def analog_search(hardware, conductance_sigma: float, ir_drop: float,
                  owner: str = "config.hardware") -> AnalogSearch:
    """The crossbar-aware supernet's static part for a crossbar :class:`HardwareSpace`; refuses a
    space that switches bits the forward pass keeps fixed (:data:`FIXED_KNOBS`)."""
    if hardware.template.name != "crossbar":
        raise ValueError(f"{owner}.template must be 'crossbar' for a crossbar-aware search "
                         f"(config.analog.enabled), got {hardware.template.name!r}")
    for knob in FIXED_KNOBS:
        if len(getattr(hardware, knob)) != 1:
            raise ValueError(f"{owner}.{knob} must offer one choice in a crossbar-aware search "
                             f"(it changes every conv's crossbar tiling), got "
                             f"{list(getattr(hardware, knob))}; allowed: one of them, e.g. "
                             f"({getattr(hardware, knob)[0]},)")
    accelerator = dataclasses.replace(hardware.base_accelerator(),
                                      **{knob: getattr(hardware, knob)[0] for knob in FIXED_KNOBS})
    return AnalogSearch(accelerator, hardware.mapping_choices, getattr(hardware, ADC_KNOB),
                        conductance_sigma, ir_drop)


def sample_choices(key: jax.Array, hw_logits: Mapping[str, jax.Array], temperature,
                   slots: tuple[str, ...]) -> dict[str, SlotChoice]:
    """Straight-through Gumbel samples of the crossbar size of every slot and of the ADC bits,
    as ``{slot name: SlotChoice}`` (the ADC sample shared by all slots)."""
    size_key, adc_key = jax.random.split(key)
    sizes = gumbel.gumbel_softmax(size_key, hw_logits[SIZE_KNOB], temperature, True)
    adc = gumbel.gumbel_softmax(adc_key, hw_logits[ADC_KNOB][None], temperature, True)[0]
    return {slot: SlotChoice(sizes[i], adc) for i, slot in enumerate(slots)}
