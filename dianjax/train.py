"""Final training of a derived network from scratch, and its evaluation (``dianjax train``).

The recipe of the NAS literature's final training (e.g. FBNet, DARTS): SGD with Nesterov momentum, a
cosine learning-rate decay to zero over the whole run (per step), L2 weight decay on convolution and
dense kernels only (not on batch-norm scales or biases), and cross-entropy with label smoothing
(Szegedy et al. 2016). Steps are pure and jitted, ``(state, batch) -> (state, metrics)``, as in the
Flax ImageNet example; the loop around them does data (:mod:`dianjax.input_pipeline`), logging (``metrics.jsonl`` + TensorBoard),
orbax checkpoints and the tqdm progress bar. Batches are sharded over all devices
(:mod:`dianjax.parallel`), and a run resumes bit-exactly from its last checkpoint in ``workdir``
because a batch is a pure function of ``(seed, step)``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from typing import Any

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm
from flax import linen as nn
from flax.training import train_state

from dianjax import data, distributed, input_pipeline, parallel
from dianjax.checkpoints import check_same_config, restore_latest, write_config
from dianjax.metrics_log import MetricsWriter
from dianjax.nas.analog import AnalogSearch
from dianjax.nas.crossbar_noise import RNG_COLLECTION, noisy_evaluate
from dianjax.nas.search_space import SPACES, get_space, layer_table
from dianjax.nas.supernet import DerivedNet, DerivedNetwork
from sim import checks
from sim.crossbar import CROSSBAR_SIZES, CrossbarAccelerator

RESULT_FILE = "train_result.json"
BN_RECALIBRATION_BATCHES = 30   # train batches re-estimating batch norm on the full crossbar model
# eval_split -> (the data split trained on, the data split evaluated on)
EVAL_SPLITS = {"test": ("train", "test"), "val": ("search_train", "search_val")}


class TrainState(train_state.TrainState):
    """Flax's train state plus the batch-norm running statistics."""

    batch_stats: Any


def _kernel_mask(params):
    """True for conv/dense kernels (decayed), False for batch-norm scales and biases."""
    return jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", params)


def make_optimizer(learning_rate: float, momentum: float, nesterov: bool, weight_decay: float,
                   total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """SGD (Nesterov) with per-step cosine decay and kernel-only weight decay; and the schedule."""
    schedule = optax.cosine_decay_schedule(learning_rate, decay_steps=total_steps)
    tx = optax.chain(optax.add_decayed_weights(weight_decay, mask=_kernel_mask),
                     optax.sgd(schedule, momentum=momentum, nesterov=nesterov))
    return tx, schedule


def create_train_state(key: jax.Array, model: nn.Module, image_shape: tuple[int, int, int],
                       tx: optax.GradientTransformation) -> TrainState:
    """Initial parameters and batch statistics of ``model`` for images of shape ``image_shape``."""
    init = jax.jit(functools.partial(model.init, train=False))
    variables = init(key, jnp.zeros((1, *image_shape), jnp.float32))
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                             batch_stats=variables["batch_stats"])


def cross_entropy(logits: jax.Array, labels: jax.Array, label_smoothing: float = 0.0) -> jax.Array:
    """Per-example cross-entropy against one-hot labels smoothed by ``label_smoothing``."""
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
    return optax.softmax_cross_entropy(logits, targets)


def train_step(state: TrainState, batch: dict, label_smoothing: float,
               key: jax.Array | None = None) -> tuple[TrainState, dict]:
    """One SGD step on ``batch`` (batch-norm in training mode); metrics: loss, accuracy.
    ``key``: the crossbar noise of a network on crossbars (noise-aware training)."""
    chex.assert_rank(batch["image"], 4)
    chex.assert_shape(batch["label"], (batch["image"].shape[0],))
    rngs = {} if key is None else {"rngs": {RNG_COLLECTION: key}}

    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                         batch["image"], train=True, mutable=["batch_stats"],
                                         **rngs)
        loss = jnp.mean(cross_entropy(logits, batch["label"], label_smoothing))
        return loss, (logits, updates["batch_stats"])

    (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
    return state, {"loss": loss, "accuracy": accuracy}


def eval_step(state: TrainState, batch: dict, apply_fn=None) -> dict:
    """Sums over the unmasked examples of ``batch``: loss_sum, correct, count (no smoothing).
    ``apply_fn``: the model to evaluate with (default the state's)."""
    logits = (apply_fn or state.apply_fn)({"params": state.params, "batch_stats": state.batch_stats},
                                          batch["image"], train=False)
    mask = batch["mask"].astype(jnp.float32)
    loss = cross_entropy(logits, batch["label"])
    correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
    return {"loss_sum": jnp.sum(loss * mask), "correct": jnp.sum(correct * mask),
            "count": jnp.sum(mask)}


def evaluate(eval_fn, state: TrainState, dataset: data.Dataset, batch_size: int,
             mesh) -> dict[str, float]:
    """Accuracy and mean loss of ``state`` over every example of ``dataset``."""
    totals = {"loss_sum": 0.0, "correct": 0.0, "count": 0.0}
    for batch in dataset.eval_batches(batch_size, parallel.host_part()):
        sums = eval_fn(state, parallel.global_batch(batch, mesh))
        totals = {k: totals[k] + float(sums[k]) for k in totals}
    return {"accuracy": totals["correct"] / totals["count"],
            "loss": totals["loss_sum"] / totals["count"]}


def schedule_config() -> ml_collections.ConfigDict:
    """The training schedule and its defaults, declared once: the fields of ``dianjax train``'s
    config that the search's ``final_train`` and refine's ``train`` sections set too."""
    return ml_collections.ConfigDict(dict(
        num_epochs=30,
        batch_size=64,
        learning_rate=0.1,                # peak of the cosine decay
        weight_decay=5e-4,                # on conv/dense kernels only
        label_smoothing=0.1))


SCHEDULE_FIELDS = tuple(schedule_config().keys())


def validate_schedule(schedule: ml_collections.ConfigDict, path: str) -> None:
    """Checks the :data:`SCHEDULE_FIELDS` of ``schedule``, naming each as ``<path>.<field>``
    (``config.final_train.label_smoothing`` for the search's section)."""
    checks.positive_int(path, "num_epochs", schedule.num_epochs)
    checks.positive_int(path, "batch_size", schedule.batch_size)
    checks.positive_number(path, "learning_rate", schedule.learning_rate)
    for field in ("weight_decay", "label_smoothing"):
        checks.number_in(path, field, schedule[field], 0, 1, high_open=True)


def analog_section() -> ml_collections.ConfigDict:
    """``config.analog`` of ``dianjax train``: train and evaluate the network on memristive
    crossbars (:mod:`dianjax.nas.analog`) instead of digitally."""
    return ml_collections.ConfigDict(dict(
        enabled=False,
        crossbar_sizes=(128,),            # per mapping slot of the space's layer table (in its
                                          # order), or one size for every slot
        adc_bits=8,                       # an int or "lossless" (resolved per crossbar size)
        cell_bits=4, dac_bits=2, weight_bits=8, input_bits=8,
        conductance_sigma=0.1,            # sd of the multiplicative conductance variation
        ir_drop=0.0,                      # IR-drop loss on row 256 (linear in the row)
        eval_samples=8))                  # chips (noise draws) of the final evaluation


def analog_models(config: ml_collections.ConfigDict, derived: DerivedNetwork):
    """``(training model, evaluation model)`` of ``derived`` on the crossbars of
    ``config.analog``: noise-aware training on the search's model, evaluation on the full
    bit-level pipeline (:class:`~dianjax.nas.supernet.DerivedNet`); None when not enabled."""
    section = config.get("analog")
    if section is None or not section.enabled:
        return None
    owner = "config.analog"
    try:
        accelerator = CrossbarAccelerator(
            adc_bits=section.adc_bits, cell_bits=section.cell_bits, dac_bits=section.dac_bits,
            weight_bits=section.weight_bits, input_bits=section.input_bits)
        search = AnalogSearch(accelerator, CROSSBAR_SIZES, (section.adc_bits,),
                              section.conductance_sigma, section.ir_drop)
    except ValueError as error:
        raise ValueError(str(error).replace("CrossbarAccelerator.", f"{owner}.", 1)
                         .replace("AnalogConfig.", f"{owner}.", 1)) from None
    slots = layer_table(derived.space).mapping_slots
    sizes = tuple(section.crossbar_sizes)
    if len(sizes) == 1:
        sizes *= len(slots)
    if len(sizes) != len(slots):
        raise ValueError(f"{owner}.crossbar_sizes must give one size, or one per mapping slot of "
                         f"space {config.space!r} ({len(slots)}: {list(slots)}), got {len(sizes)}")
    for size in sizes:
        checks.one_of(owner, "crossbar_sizes", size, CROSSBAR_SIZES)
    checks.positive_int(owner, "eval_samples", section.eval_samples)
    if section.eval_samples < 2:
        raise ValueError(f"{owner}.eval_samples must be >= 2 (a mean and an sd), got "
                         f"{section.eval_samples}")
    pairs = tuple(zip(slots, sizes))
    return tuple(DerivedNet(derived.space, derived.op_indices, search, pairs, section.adc_bits,
                            exact=exact) for exact in (False, True))


def crossbar_accuracy(model: nn.Module, variables: dict, train_data: data.Dataset,
                      eval_sets: dict[str, data.Dataset], *, seed: int, batch_size: int,
                      eval_batch_size: int, samples: int) -> dict[str, dict]:
    """Accuracy of ``variables`` on ``model`` (a network on the full crossbar model) over
    ``samples`` chips (noise draws) on each of ``eval_sets``, after re-estimating batch norm on
    that model (:data:`BN_RECALIBRATION_BATCHES` train batches, one chip): ``{name: {"mean",
    "sd", "samples"}}``."""
    chip = jax.random.key(seed + 3)
    params = variables["params"]

    @jax.jit
    def update(batch_stats, images):
        _, updates = model.apply({"params": params, "batch_stats": batch_stats}, images,
                                 train=True, mutable=["batch_stats"], rngs={RNG_COLLECTION: chip})
        return updates["batch_stats"]

    batch_stats = variables["batch_stats"]
    for step in range(BN_RECALIBRATION_BATCHES):
        batch_stats = update(batch_stats, train_data.train_batch(step, batch_size, seed + 2)["image"])

    def apply(params, images, key):
        return model.apply({"params": params, "batch_stats": batch_stats}, images, train=False,
                           rngs={RNG_COLLECTION: key})

    result = {}
    for index, (name, dataset) in enumerate(eval_sets.items()):
        images, labels = [], []
        for batch in dataset.eval_batches(eval_batch_size):
            keep = np.asarray(batch["mask"]).astype(bool)
            images.append(np.asarray(batch["image"])[keep])
            labels.append(np.asarray(batch["label"])[keep])
        measured = noisy_evaluate(apply, params, np.concatenate(images), np.concatenate(labels),
                                  jax.random.key(seed + 4 + index), samples, eval_batch_size)
        result[name] = {"mean": measured.mean, "sd": measured.sd,
                        "samples": measured.samples.tolist()}
    return result


_POSITIVE_INTS = ("eval_batch_size", "eval_every_epochs", "checkpoint_every_steps",
                  "log_every_steps")


def _validate(config: ml_collections.ConfigDict) -> None:
    checks.one_of("config", "dataset", config.dataset, data.DATASETS)
    checks.one_of("config", "space", config.space, SPACES)
    validate_schedule(config, "config")
    for field in _POSITIVE_INTS:
        checks.positive_int("config", field, config[field])
    checks.non_negative_int("config", "seed", config.seed)
    checks.one_of("config", "eval_split", config.eval_split, EVAL_SPLITS)
    checks.number_in("config", "val_fraction", config.val_fraction, 0, 1, low_open=True,
                      high_open=True)
    checks.non_negative_int("config", "split_seed", config.split_seed)
    checks.number_in("config", "momentum", config.momentum, 0, 1, high_open=True)
    input_pipeline.resolve_workers("config", "workers", config.workers)


def derived_from_config(config: ml_collections.ConfigDict) -> DerivedNetwork:
    """The network ``config.ops`` names in ``config.space``, checked against ``config.dataset``."""
    _validate(config)
    info = data.DATASETS[config.dataset]
    space = get_space(config.space, num_classes=info.num_classes)
    if (space.image_size, space.in_channels) != (info.image_size, info.channels):
        raise ValueError(f"config.space={config.space!r} takes {space.image_size}x{space.image_size}"
                         f"x{space.in_channels} images but config.dataset={config.dataset!r} has "
                         f"{info.image_size}x{info.image_size}x{info.channels}")
    ops = tuple(config.ops)
    if len(ops) != space.num_layers:
        raise ValueError(f"config.ops must name one op per searchable layer of space "
                         f"{config.space!r} ({space.num_layers}), got {len(ops)}: {list(ops)}")
    for name in ops:
        checks.one_of("config", "ops", name, space.op_names)
    return DerivedNetwork.from_op_names(space, ops)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict:
    """Trains ``config.ops`` of ``config.space`` on ``config.dataset`` from scratch, then evaluates.

    With ``config.eval_split == "test"`` it trains on the whole training split and evaluates on the
    test split (the final figure); with ``"val"`` it trains on ``search_train`` and evaluates on
    ``search_val`` (``config.val_fraction``, ``config.split_seed``), so that choosing among
    networks by this accuracy never looks at the test split.

    Resumes from the last orbax checkpoint in ``workdir/checkpoints`` if there is one (a workdir
    of another config is refused). Writes ``config.json``, ``metrics.jsonl``, TensorBoard events
    and ``train_result.json`` in ``workdir``.

    Returns:
      The result: ``eval_split``, ``<eval_split>_accuracy`` and ``<eval_split>_loss``, last training
      loss, parameter and MAC counts, op names, steps, wall time (seconds).
    """
    derived = derived_from_config(config)
    analog = analog_models(config, derived)
    workdir = Path(workdir)
    check_same_config(config, workdir, free=input_pipeline.HOW_NOT_WHAT)
    split = config.eval_split
    train_split, eval_data_split = EVAL_SPLITS[split]
    splits = {"data_dir": config.data_dir or None, "val_fraction": config.val_fraction,
              "split_seed": config.split_seed,
              "decoded_cache": data.resolve_decoded_cache(config.decoded_cache)}
    train_data = data.load(config.dataset, train_split, **splits)
    eval_data = data.load(config.dataset, eval_data_split, **splits)
    mesh = parallel.make_mesh()
    parallel.check_batch_size(config.batch_size, mesh)
    parallel.check_batch_size(config.eval_batch_size, mesh)
    steps_per_epoch = train_data.steps_per_epoch(config.batch_size)
    total_steps = config.num_epochs * steps_per_epoch
    primary = distributed.is_primary()
    if primary:
        workdir.mkdir(parents=True, exist_ok=True)
        write_config(config, workdir)

    tx, schedule = make_optimizer(config.learning_rate, config.momentum, config.nesterov,
                                  config.weight_decay, total_steps)
    info = train_data.info
    state = create_train_state(jax.random.key(config.seed), derived.model,
                               (info.image_size, info.image_size, info.channels), tx)
    noise_key = None
    if analog is not None:   # same variables; trained on crossbars, evaluated digitally en route
        state = state.replace(apply_fn=analog[0].apply)
        noise_key = jax.random.key(config.seed + 1)
    state = parallel.replicate(state, mesh)
    options = ocp.CheckpointManagerOptions(max_to_keep=2,
                                           save_interval_steps=config.checkpoint_every_steps)
    start = time.perf_counter()
    with ocp.CheckpointManager((workdir / "checkpoints").absolute(), options=options) as manager:
        state, start_step = restore_latest(manager, state)
        step_fn = jax.jit(functools.partial(train_step, label_smoothing=config.label_smoothing))
        eval_fn = jax.jit(functools.partial(eval_step, apply_fn=derived.model.apply))
        metrics, held_out = {}, None
        with MetricsWriter(workdir, resume_step=start_step, enabled=primary) as writer, \
                tqdm.tqdm(total=total_steps, initial=start_step, desc="train", unit="step",
                          disable=None if primary else True) as bar, \
                input_pipeline.device_batches(
                    train_data, config.batch_size, config.seed, start_step, total_steps, mesh,
                    input_pipeline.resolve_workers("config", "workers", config.workers)
                ) as batches:
            for step, batch in enumerate(batches, start=start_step + 1):
                key = None if noise_key is None else jax.random.fold_in(noise_key, step)
                state, metrics = step_fn(state, batch, key=key)
                epoch, epoch_end = divmod(step, steps_per_epoch)
                do_eval = (epoch_end == 0 and epoch % config.eval_every_epochs == 0
                           or step == total_steps)  # the last evaluation is the result's
                if do_eval or step % config.log_every_steps == 0:
                    record = {k: float(v) for k, v in metrics.items()}
                    record["learning_rate"] = float(schedule(step - 1))
                    if do_eval:
                        held_out = evaluate(eval_fn, state, eval_data, config.eval_batch_size,
                                            mesh)
                        record.update({f"{split}_accuracy": held_out["accuracy"],
                                       f"{split}_loss": held_out["loss"]})
                    writer.write(step, record)
                    bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['accuracy']:.3f}")
                manager.save(step, args=ocp.args.StandardSave(state),
                             force=step == total_steps)
                bar.update(1)
            manager.wait_until_finished()
    if held_out is None:  # resumed from the last step's checkpoint: nothing was evaluated
        held_out = evaluate(eval_fn, state, eval_data, config.eval_batch_size, mesh)
    network = derived.network()
    result = {
        "dataset": config.dataset,
        "space": config.space,
        "ops": list(derived.op_names),
        "eval_split": split,
        f"{split}_accuracy": held_out["accuracy"],
        f"{split}_loss": held_out["loss"],
        "final_train_loss": float(metrics["loss"]) if metrics else None,
        "num_params": int(sum(x.size for x in jax.tree.leaves(state.params))),
        "macs": network.macs,
        "steps": total_steps,
        "resumed_from_step": start_step,
        "wall_s": time.perf_counter() - start,
    }
    if analog is not None:
        result[f"{split}_accuracy_crossbar"] = crossbar_accuracy(
            analog[1], {"params": state.params, "batch_stats": state.batch_stats}, train_data,
            {split: eval_data}, seed=config.seed, batch_size=config.batch_size,
            eval_batch_size=config.eval_batch_size, samples=config.analog.eval_samples)[split]
        result["analog"] = config.analog.to_dict()
    if primary:
        (workdir / RESULT_FILE).write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """``dianjax train [--config FILE|NAME] [--config.key=value ...] [--workdir DIR]``."""
    from dianjax.cli import run_with_config

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/train",
                        help="run directory: checkpoints, metrics, train_result.json (default "
                             "runs/train; an existing run of the same config resumes)")
    return run_with_config(parser, argv, "train_derived", _train_command)


def _train_command(args: argparse.Namespace, config: ml_collections.ConfigDict, _spec: str) -> int:
    result = train_and_evaluate(config, args.workdir)
    print(f"{result['dataset']} / {result['space']}: ops {result['ops']}")
    split = result["eval_split"]
    print(f"{split} accuracy {result[f'{split}_accuracy']:.4f}  "
          f"{split} loss {result[f'{split}_loss']:.4f}  "
          f"params {result['num_params']:,}  MACs {result['macs']:,}  "
          f"{result['steps']} steps in {result['wall_s']:.1f} s -> {args.workdir}/{RESULT_FILE}")
    return 0
