"""Trains every seed of every network of a benchmark table through one compiled program.

The program is the supernet of the table's space in hard mode (:class:`~dianjax.nas.supernet.
Supernet`, ``hard=True``) with the network's one-hot op weights as an argument: each layer runs only
its chosen op (``lax.switch``), so a step computes exactly the derived network's forward and
backward pass, and one compilation serves every network of the space (per seed mode), instead of
one per network, which took as long as the training itself on CPU. Ops a network does not use get
zero gradients and never reach its output; their batch statistics are never updated. Initial
weights are the supernet's init for the seed (a standalone network's initializers).

An epoch is a ``lax.scan`` over its steps, called once per epoch with no Python per step. Seeds go
through it either side by side (``"vmap"``: one program over seed-stacked states; accelerators) or
in turn (``"sequential"``: the single-seed program called per seed; CPUs, where the vmapped program
runs slower than the seeds in turn: on this project's 2-core CPU 5 seeds x 3 epochs of three
quickstart networks took 1.37x the wall time side by side; ``benchmarks/bench_speed.py`` compares
the modes). Evaluation predicts every seed on the whole ``search_val`` and ``test`` splits.

The step, optimizer and loss are those of :mod:`dianjax.train` (one recipe for final training and
the table); batches are :meth:`dianjax.data.Dataset.train_batch` of ``(seed, step)``: the batches
of ``dianjax train --config.eval_split=val`` with the recipe's seed, split and schedule.
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dianjax import data
from dianjax.bench.recipe import SEED_MODES, Recipe
from dianjax.nas.search_space import get_space
from dianjax.nas.supernet import DerivedNetwork, Supernet
from dianjax.train import cross_entropy, make_optimizer
from sim import checks

EVAL_CHUNK = 1000  # examples per evaluation call (bounded memory on big test sets)


class NetworkResult(NamedTuple):
    """One network's row of the table (accuracies per seed, in the recipe's seed order)."""

    op_indices: tuple[int, ...]
    op_names: tuple[str, ...]
    num_params: int
    macs: int
    val_accuracy: tuple[float, ...]
    test_accuracy: tuple[float, ...]
    wall_s: float     # training + evaluation of all seeds
    compile_s: float  # compilation before it: the trainer's first network only, else 0


def default_seed_mode() -> str:
    """``"sequential"`` on CPU, ``"vmap"`` on GPU/TPU (see the module docstring)."""
    return "sequential" if jax.default_backend() == "cpu" else "vmap"


class _Split(NamedTuple):
    images: np.ndarray
    labels: np.ndarray


def _whole_split(dataset: data.Dataset) -> _Split:
    images, labels = [], []
    for batch in dataset.eval_batches(EVAL_CHUNK):
        keep = batch["mask"]
        images.append(batch["image"][keep])
        labels.append(batch["label"][keep])
    return _Split(np.concatenate(images), np.concatenate(labels))


class SeedTrainer:
    """Trains networks of ``recipe.space`` with ``recipe``; data loaded once, reused per network."""

    def __init__(self, recipe: Recipe, data_dir: str | None = None, seed_mode: str | None = None):
        self.recipe = recipe
        self.seed_mode = default_seed_mode() if seed_mode is None else seed_mode
        checks.one_of("SeedTrainer", "seed_mode", self.seed_mode, SEED_MODES)
        info = data.DATASETS[recipe.dataset]
        self.space = get_space(recipe.space, num_classes=info.num_classes)
        if (self.space.image_size, self.space.in_channels) != (info.image_size, info.channels):
            raise ValueError(f"recipe.space={recipe.space!r} takes {self.space.image_size}px x "
                             f"{self.space.in_channels} channels, recipe.dataset="
                             f"{recipe.dataset!r} has {info.image_size}px x {info.channels}")
        splits = {"data_dir": data_dir, "val_fraction": recipe.val_fraction,
                  "split_seed": recipe.split_seed}
        self.train = data.load(recipe.dataset, "search_train", **splits)
        self.steps_per_epoch = self.train.steps_per_epoch(recipe.batch_size)
        self.total_steps = recipe.num_epochs * self.steps_per_epoch
        self.val = _whole_split(data.load(recipe.dataset, "search_val", **splits))
        self.test = _whole_split(data.load(recipe.dataset, "test", **splits))
        self.tx, _ = make_optimizer(recipe.learning_rate, recipe.momentum, recipe.nesterov,
                                    recipe.weight_decay, self.total_steps)
        image = jnp.zeros((1, self.space.image_size, self.space.image_size,
                           self.space.in_channels), jnp.float32)
        weights = jnp.full((self.space.num_layers, self.space.num_ops), 1.0 / self.space.num_ops)
        self.supernet = Supernet(self.space, unroll_taps=True)
        supernet_init = jax.jit(functools.partial(self.supernet.init, train=False))
        self._supernet_init = lambda key: supernet_init(key, image, weights)
        self._programs = _Programs(self.supernet, self.tx, recipe.label_smoothing)
        self._compiled = None  # (epoch, predict), compiled by the first train_network
        # val and test in one array of whole EVAL_CHUNKs: one prediction program serves both
        self.eval_images, self.eval_labels = _padded(
            np.concatenate([self.val.images, self.test.images]),
            np.concatenate([self.val.labels, self.test.labels]), EVAL_CHUNK)

    def epoch_batches(self, epoch: int) -> dict:
        """Seed-stacked batches of ``epoch``: image float[S, steps, B, H, W, C], label
        int[S, steps, B]."""
        first = epoch * self.steps_per_epoch
        per_seed = [[self.train.train_batch(first + s, self.recipe.batch_size, seed)
                     for s in range(self.steps_per_epoch)] for seed in self.recipe.seeds]
        return {key: np.stack([np.stack([b[key] for b in seed]) for seed in per_seed])
                for key in ("image", "label")}

    def _per_program(self, epoch: int) -> list[dict]:
        """The batches of ``epoch`` per call of the epoch program: all seeds stacked in one
        (``"vmap"``), else one per seed."""
        batches = self.epoch_batches(epoch)
        if self.seed_mode == "vmap":
            return [batches]
        return [jax.tree.map(lambda x, i=i: x[i], batches) for i in range(len(self.recipe.seeds))]

    def init_variables(self, key: jax.Array) -> dict:
        """The supernet's initial variables for ``key`` (every op of every layer)."""
        return self._supernet_init(key)

    def _compile(self, state, batches, weights) -> tuple[float, tuple]:
        """Seconds spent compiling (0 once compiled) and the (epoch, predict) programs."""
        if self._compiled is None:
            start = time.perf_counter()
            if self.seed_mode == "vmap":
                epoch = jax.jit(jax.vmap(self._programs.epoch, in_axes=(0, 0, None)),
                                donate_argnums=0)
                predict = jax.jit(jax.vmap(self._programs.predict, in_axes=(0, None, None)))
            else:
                epoch = jax.jit(self._programs.epoch, donate_argnums=0)
                predict = jax.jit(self._programs.predict)
            images = self.eval_images[:EVAL_CHUNK]
            self._compiled = (epoch.lower(state, batches, weights).compile(),
                              predict.lower(state, images, weights).compile())
            return time.perf_counter() - start, self._compiled
        return 0.0, self._compiled

    def train_network(self, op_indices) -> NetworkResult:
        """Trains network ``op_indices`` (columns of ``space.op_names``) once per recipe seed."""
        derived = DerivedNetwork(self.space, tuple(op_indices))
        weights = jax.nn.one_hot(jnp.asarray(derived.op_indices), self.space.num_ops)
        states = [self._programs.init(self.init_variables(jax.random.key(seed)))
                  for seed in self.recipe.seeds]
        if self.seed_mode == "vmap":
            states = [jax.tree.map(lambda *xs: jnp.stack(xs), *states)]
        per_program = self._per_program(0)
        compile_s, (epoch, predict) = self._compile(states[0], per_program[0], weights)
        start = time.perf_counter()
        for number in range(self.recipe.num_epochs):
            states = [epoch(state, chunk, weights) for state, chunk in zip(states, per_program)]
            if number + 1 < self.recipe.num_epochs:
                per_program = self._per_program(number + 1)
        correct = self._correct(lambda state, images: predict(state, images, weights), states)
        num_val = len(self.val.labels)
        val = correct[:, :num_val].mean(axis=1)
        test = correct[:, num_val:num_val + len(self.test.labels)].mean(axis=1)
        params = states[0][0]
        if self.seed_mode == "vmap":
            params = jax.tree.map(lambda x: x[0], params)
        params = _derived_tree(params, self.space, derived.op_indices)
        return NetworkResult(
            op_indices=derived.op_indices, op_names=derived.op_names,
            num_params=int(sum(x.size for x in jax.tree.leaves(params))),
            macs=int(derived.network().macs),
            val_accuracy=tuple(float(v) for v in val), test_accuracy=tuple(float(v) for v in test),
            wall_s=time.perf_counter() - start, compile_s=compile_s)

    def _correct(self, predict, states) -> np.ndarray:
        """bool[S, M]: whether each seed classifies each of the padded val + test examples right."""
        chunks = []
        for begin in range(0, len(self.eval_labels), EVAL_CHUNK):
            images = self.eval_images[begin:begin + EVAL_CHUNK]
            labels = np.concatenate([np.asarray(predict(state, images)).reshape(-1, EVAL_CHUNK)
                                     for state in states])
            chunks.append(labels == self.eval_labels[begin:begin + EVAL_CHUNK][None])
        return np.concatenate(chunks, axis=1)


def _padded(images: np.ndarray, labels: np.ndarray, multiple: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """``images`` and ``labels`` padded (last example repeated) to a multiple of ``multiple``."""
    extra = -len(labels) % multiple
    return (np.concatenate([images, np.repeat(images[-1:], extra, axis=0)]),
            np.concatenate([labels, np.repeat(labels[-1:], extra)]))


def _derived_tree(tree, space, op_indices) -> dict:
    """The supernet variable tree cut down to one network: layer ``l`` keeps ``ops_<op>`` of its
    chosen op (and disappears for skip, which has no variables); stem and head as they are."""
    result = {}
    for name, subtree in tree.items():
        if name.startswith("layer") and name[5:].isdigit():
            op = space.op_names[op_indices[int(name[5:])]]
            if f"ops_{op}" in subtree:
                result[name] = subtree[f"ops_{op}"]
        else:
            result[name] = subtree
    return result


class _Programs:
    """The pure single-seed functions of the hard-mode supernet: init, an epoch of steps of the
    network that one-hot op ``weights`` [L, K] choose, prediction."""

    def __init__(self, supernet: Supernet, tx: optax.GradientTransformation,
                 label_smoothing: float):
        self.supernet, self.tx, self.label_smoothing = supernet, tx, label_smoothing

    def init(self, variables):
        """The training state (params, batch stats, optimizer state) from initial variables."""
        return variables["params"], variables["batch_stats"], self.tx.init(variables["params"])

    def _step(self, state, batch, weights):
        params, stats, opt = state

        def loss_fn(p):
            logits, updates = self.supernet.apply(
                {"params": p, "batch_stats": stats}, batch["image"], weights, train=True,
                hard=True, mutable=["batch_stats"])
            loss = jnp.mean(cross_entropy(logits, batch["label"], self.label_smoothing))
            return loss, updates["batch_stats"]

        (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt = self.tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), stats, opt

    def epoch(self, state, batches, weights):
        """``state`` after the steps of ``batches`` (image [steps, B, ...], label [steps, B])."""
        return jax.lax.scan(lambda s, b: (self._step(s, b, weights), None), state, batches)[0]

    def predict(self, state, images, weights):
        params, stats, _ = state
        logits = self.supernet.apply({"params": params, "batch_stats": stats}, images, weights,
                                     train=False, hard=True)
        return jnp.argmax(logits, -1)
