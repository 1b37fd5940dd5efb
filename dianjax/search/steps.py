"""The pure steps of the joint search: ``(state, batches, key, temperature) -> (state, metrics)``.

One search step is a weight step on a batch of the train split followed (after the warm-up) by a
logit step on a batch of the val split, the alternating first-order scheme of DARTS/FBNet/DIAN:

- weight step: op weights are a Gumbel-softmax sample of the op logits (soft mixture or
  straight-through single path), SGD with momentum on the cross-entropy;
- logit step: the op logits follow ``task loss + lam * hardware cost`` and the hardware logits
  follow the hardware cost alone (the task loss does not depend on them, and Adam is invariant to
  the scale lam, so lam only trades accuracy against cost on the network side). On crossbars
  (``config.analog.enabled``) the supernet runs on hardware sampled from the hardware logits
  (:mod:`dianjax.nas.analog`) in both steps, so the weights train noise-aware and the hardware
  logits follow ``task loss + lam * hardware cost`` like the op logits. The hardware cost
  is the normalized objective of :func:`dianjax.cost.relaxed` for the noise-free op probabilities,
  plus squared relative violations of the optional area and latency limits. The step logs the
  norms of both terms' gradients on the op logits (``task_grad_norm``, ``cost_grad_norm``: the
  latter is ``lam`` times the cost's, plus the targets' terms), so a run shows which term steers
  the op choice. With cost targets (``cost.target_<name>``, :mod:`dianjax.search.config`) the op
  logits also follow each target's Lagrangian term and the step updates the multipliers.

A :class:`Phase` (static) says which logits move, whether the cost reaches the op logits and
whether the hardware is priced for the expected or for the derived (argmax) network; the modes of
:mod:`dianjax.search.config` are sequences of phases (:func:`phase_at`).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import chex
import flax
import jax
import jax.numpy as jnp
import optax

from dianjax.cost.best_design import constraint_penalty
from dianjax.nas import gumbel
from dianjax.nas.analog import sample_choices
from dianjax.nas.crossbar_noise import RNG_COLLECTION
from dianjax.nas.supernet import Supernet, init_supernet
from dianjax.search.config import SearchSetup
from dianjax.train import cross_entropy, make_optimizer


class Phase(NamedTuple):
    """What a logit step does (static: each phase compiles its own step)."""

    update_arch: bool       # the op logits move
    update_hw: bool         # the hardware logits move
    cost_to_arch: bool      # lam * cost reaches the op logits
    derived_net: bool       # the hardware is priced for the argmax network (not the expectation)

    @property
    def label(self) -> str:
        """A short name for logs: what the logit step moves."""
        moving = [name for name, on in (("op", self.update_arch), ("hardware", self.update_hw))
                  if on]
        if not moving:
            return "warm-up"
        return " + ".join(moving) + " logits" + (" (derived net)" if self.derived_net else "")


WARMUP = Phase(False, False, False, False)


def phase_at(setup: SearchSetup, step: int) -> Phase:
    """The phase of search step ``step`` (0-based) for the config's mode."""
    search = setup.config.search
    if step < search.warmup_steps:
        return WARMUP
    mode = setup.mode
    cost_to_arch = setup.config.cost.lam > 0 or bool(setup.targets)
    if mode == "joint":
        return Phase(True, True, cost_to_arch, False)
    if mode == "no_hw_loss":
        return Phase(True, True, False, False)
    if mode == "fixed_hw":
        return Phase(True, False, cost_to_arch, False)
    if mode == "fixed_net":
        return Phase(False, True, False, True)
    nas_steps = round(search.decoupled_nas_fraction * search.steps)
    if step < search.warmup_steps + nas_steps:
        return Phase(True, False, False, False)
    return Phase(False, True, False, True)


def run_phases(setup: SearchSetup) -> tuple[Phase, ...]:
    """The distinct phases of a whole run, in order: :func:`phase_at` changes only at the end of the
    warm-up and, in mode decoupled, at the end of the NAS part."""
    search = setup.config.search
    nas_end = search.warmup_steps + round(search.decoupled_nas_fraction * search.steps)
    return tuple(dict.fromkeys(phase_at(setup, step) for step in (0, search.warmup_steps, nas_end)
                               if step < setup.total_steps))


@flax.struct.dataclass
class SearchState:
    """Everything a search step changes; checkpointed whole."""

    step: jax.Array
    params: Any
    batch_stats: Any
    weight_opt: Any
    arch_logits: jax.Array
    hw_logits: dict
    arch_opt: Any
    hw_opt: Any
    multipliers: dict      # {Metrics field: Lagrange multiplier} of the set targets


class Optimizers(NamedTuple):
    weights: optax.GradientTransformation
    arch: optax.GradientTransformation
    hw: optax.GradientTransformation


def make_optimizers(setup: SearchSetup) -> Optimizers:
    """SGD + momentum with cosine decay (weights), Adam (op logits), Adam (hardware logits)."""
    search = setup.config.search
    weights, _ = make_optimizer(search.weight_lr, search.weight_momentum, False,
                                search.weight_decay, setup.total_steps)
    return Optimizers(weights, optax.adam(search.arch_lr), optax.adam(search.hw_lr))


def initial_logits(setup: SearchSetup) -> tuple[jax.Array, dict]:
    """Uniform logits, or all mass on the fixed network / accelerator of modes fixed_net / fixed_hw."""
    space, table, hardware = setup.space, setup.table, setup.hardware
    arch = jnp.zeros((space.num_layers, space.num_ops), jnp.float32)
    if setup.mode == "fixed_net":
        arch = 1e3 * jax.nn.one_hot(jnp.asarray(setup.fixed_op_indices()), space.num_ops)
    if setup.mode == "fixed_hw":
        hw = hardware.one_hot_logits(setup.fixed_design(), table)
    else:
        hw = hardware.init_logits(table)
    return arch, jax.tree.map(jnp.asarray, hw)


def init_state(setup: SearchSetup, optimizers: Optimizers, key: jax.Array) -> SearchState:
    """Fresh supernet variables (from ``key``) and logits, with their optimizer states."""
    variables = init_supernet(key, setup.space)
    arch, hw = initial_logits(setup)
    return SearchState(step=jnp.zeros((), jnp.int32), params=variables["params"],
                       batch_stats=variables["batch_stats"],
                       weight_opt=optimizers.weights.init(variables["params"]),
                       arch_logits=arch, hw_logits=hw, arch_opt=optimizers.arch.init(arch),
                       hw_opt=optimizers.hw.init(hw),
                       multipliers={field: jnp.zeros((), jnp.float32) for field in setup.targets})


def temperature_at(setup: SearchSetup, step) -> jax.Array:
    """Gumbel temperature: ``temperature_initial`` through the warm-up, then annealed to the final."""
    search = setup.config.search
    return gumbel.annealed_temperature(jnp.maximum(step - search.warmup_steps, 0),
                                      search.temperature_initial, search.temperature_final,
                                      search.steps)


def hardware_objective(setup: SearchSetup):
    """The cost model's objective argument for the config: a metric name or a weights dict."""
    cost_config = setup.config.cost
    if cost_config.objective == "weighted":
        return {name: float(w) for name, w in cost_config.weights.items() if w > 0}
    return cost_config.objective


def _analog_inputs(setup: SearchSetup, hw_logits, key: jax.Array, temperature) -> dict:
    """The crossbar-aware supernet's extra arguments: the sampled hardware of every slot and the
    noise key (none for a digital search)."""
    if setup.analog is None:
        return {}
    sample_key, noise_key = jax.random.split(jax.random.fold_in(key, 1))
    hardware = sample_choices(sample_key, hw_logits, temperature, setup.table.mapping_slots)
    return {"hardware": hardware, "rngs": {RNG_COLLECTION: noise_key}}


def _task_loss(setup: SearchSetup, params, batch_stats, images, labels, op_weights,
               analog_inputs: dict):
    logits, updates = Supernet(setup.space, remat=setup.config.search.remat,
                               analog=setup.analog).apply(
        {"params": params, "batch_stats": batch_stats}, images, op_weights, train=True,
        hard=setup.config.search.hard, mutable=["batch_stats"], **analog_inputs)
    loss = jnp.mean(cross_entropy(logits, labels))
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return loss, (accuracy, updates["batch_stats"])


def weight_step(setup: SearchSetup, optimizers: Optimizers, state: SearchState, batch: dict,
                key: jax.Array, temperature: jax.Array) -> tuple[SearchState, dict]:
    """One SGD step of the supernet weights on a train batch, ops sampled from the op logits."""
    chex.assert_rank(batch["image"], 4)
    mask = setup.space.op_mask()
    op_weights = gumbel.gumbel_softmax(key, state.arch_logits, temperature,
                                      setup.config.search.hard, mask)
    analog_inputs = _analog_inputs(setup, state.hw_logits, key, temperature)
    (loss, (accuracy, batch_stats)), grads = jax.value_and_grad(
        lambda p: _task_loss(setup, p, state.batch_stats, batch["image"], batch["label"],
                             op_weights, analog_inputs), has_aux=True)(state.params)
    updates, weight_opt = optimizers.weights.update(grads, state.weight_opt, state.params)
    state = state.replace(params=optax.apply_updates(state.params, updates),
                          batch_stats=batch_stats, weight_opt=weight_opt)
    return state, {"train_loss": loss, "train_accuracy": accuracy}


def logit_step(setup: SearchSetup, optimizers: Optimizers, phase: Phase, state: SearchState,
               batch: dict, key: jax.Array, temperature: jax.Array,
               reference) -> tuple[SearchState, dict]:
    """One Adam step of the op logits (task loss + lam * cost) and hardware logits (cost) on a val batch."""
    chex.assert_rank(batch["image"], 4)
    mask = setup.space.op_mask()
    gumbel_key, cost_key = jax.random.split(key)
    lam = setup.config.cost.lam if phase.cost_to_arch else 0.0

    def task(arch_logits, hw_logits):
        op_weights = gumbel.gumbel_softmax(gumbel_key, arch_logits, temperature,
                                          setup.config.search.hard, mask)
        loss, (accuracy, _) = _task_loss(setup, state.params, state.batch_stats, batch["image"],
                                         batch["label"], op_weights,
                                         _analog_inputs(setup, hw_logits, key, temperature))
        return loss, accuracy

    def hardware(op_probs, hw_logits):
        cost_config = setup.config.cost
        metrics = setup.cost_model.relaxed(
            op_probs, hw_logits, cost_key, temperature, num_samples=cost_config.num_samples,
            estimator=cost_config.estimator, objective=hardware_objective(setup),
            reference=reference)
        penalty = constraint_penalty(metrics, setup.hardware_limits, cost_config.penalty)
        return metrics.objective + penalty, metrics

    def lagrangian(op_probs):
        """The targets' terms, each metric on the space's best accelerator for the op mixture."""
        best = setup.cost_model.best_case(op_probs)
        ratios = {field: getattr(best, field) / target for field, target in setup.targets.items()}
        return sum((state.multipliers[f] * r for f, r in ratios.items()), jnp.zeros(())), ratios

    (task_loss, accuracy), (task_grad, task_hw_grad) = jax.value_and_grad(
        task, argnums=(0, 1), has_aux=True)(state.arch_logits, state.hw_logits)
    if phase.derived_net:
        op_probs, probs_vjp = gumbel.argmax_weights(state.arch_logits, mask), None
    else:
        op_probs, probs_vjp = jax.vjp(lambda a: gumbel.probabilities(a, mask), state.arch_logits)
    hw_cost, hw_vjp, metrics = jax.vjp(hardware, op_probs, state.hw_logits, has_aux=True)
    probs_grad, hw_grad = hw_vjp(jnp.ones_like(hw_cost))
    ratios = {}
    if setup.targets:
        _, lagrangian_vjp, _ = jax.vjp(lagrangian, op_probs, has_aux=True)
        if phase.cost_to_arch:
            probs_grad = lam * probs_grad + lagrangian_vjp(jnp.ones(()))[0]
    elif phase.cost_to_arch:
        probs_grad = lam * probs_grad
    cost_grad = jnp.zeros_like(task_grad)
    if probs_vjp is not None and phase.cost_to_arch:
        cost_grad = probs_vjp(probs_grad)[0]
    arch_grad = task_grad + cost_grad
    if phase.update_arch:
        updates, arch_opt = optimizers.arch.update(arch_grad, state.arch_opt, state.arch_logits)
        state = state.replace(arch_logits=optax.apply_updates(state.arch_logits, updates),
                              arch_opt=arch_opt)
    if setup.analog is not None:   # accuracy steers the crossbars too: lam trades it off
        hw_grad = jax.tree.map(lambda t, c: t + lam * c, task_hw_grad, hw_grad)
    if phase.update_hw:
        updates, hw_opt = optimizers.hw.update(hw_grad, state.hw_opt, state.hw_logits)
        state = state.replace(hw_logits=optax.apply_updates(state.hw_logits, updates),
                              hw_opt=hw_opt)
    if setup.targets:   # dual ascent on what the derivation would pick now: the argmax network
        derived = setup.cost_model.best_case(gumbel.argmax_weights(state.arch_logits, mask))
        ratios = {field: getattr(derived, field) / target
                  for field, target in setup.targets.items()}
        state = state.replace(multipliers={
            field: jnp.maximum(mu + setup.config.cost.target_lr * jnp.log(ratios[field]), 0.0)
            for field, mu in state.multipliers.items()})
    return state, {**{f"multiplier_{field}": mu for field, mu in state.multipliers.items()},
                   **{f"target_ratio_{field}": ratio for field, ratio in ratios.items()},
                   "val_loss": task_loss, "val_accuracy": accuracy, "hw_cost": hw_cost,
                   "loss": task_loss + lam * hw_cost, "latency_s": metrics.latency_s,
                   "energy_pj": metrics.energy_pj, "area_mm2": metrics.area_mm2,
                   "edp_pj_s": metrics.edp_pj_s, "task_grad_norm": optax.tree.norm(task_grad),
                   "cost_grad_norm": optax.tree.norm(cost_grad)}


def search_step(setup: SearchSetup, optimizers: Optimizers, phase: Phase, state: SearchState,
                train_batch: dict, val_batch: dict | None, key: jax.Array,
                reference) -> tuple[SearchState, dict]:
    """A weight step, then (outside the warm-up) a logit step; the step counter advances by one."""
    temperature = temperature_at(setup, state.step)
    weight_key, logit_key = jax.random.split(key)
    state, metrics = weight_step(setup, optimizers, state, train_batch, weight_key, temperature)
    if phase != WARMUP:
        state, logit_metrics = logit_step(setup, optimizers, phase, state, val_batch, logit_key,
                                          temperature, reference)
        metrics = {**metrics, **logit_metrics}
    mask = setup.space.op_mask()
    metrics["temperature"] = temperature
    metrics["arch_entropy"] = jnp.mean(gumbel.entropy(state.arch_logits, mask))
    return state.replace(step=state.step + 1), metrics


def batch_spec(setup: SearchSetup, batch_size: int, sharding=None) -> dict:
    """The shapes of a batch of the config's images (:mod:`dianjax.data`'s convention: float32 NHWC
    images, int32 labels), placed by ``sharding``: what :func:`compile_step` compiles for."""
    space = setup.space
    image = (batch_size, space.image_size, space.image_size, space.in_channels)
    return {"image": jax.ShapeDtypeStruct(image, jnp.float32, sharding=sharding),
            "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32, sharding=sharding)}


def compile_step(setup: SearchSetup, optimizers: Optimizers, phase: Phase, state, batch: dict,
                 key: jax.Array, reference) -> jax.stages.Compiled:
    """:func:`search_step` of ``phase`` compiled ahead of time for the shapes and placements of its
    arguments (arrays or ``jax.ShapeDtypeStruct``; ``batch`` serves as train and val batch):
    nothing runs, and :mod:`dianjax.step_memory` reads the memory it needs."""
    step = jax.jit(functools.partial(search_step, setup, optimizers, phase))
    return step.lower(state, batch, None if phase == WARMUP else batch, key, reference).compile()
