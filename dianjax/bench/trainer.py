"""Trains every seed of one network of a benchmark table through one compiled program.

One network = one compiled epoch program, a ``lax.scan`` over the epoch's steps, called once per
epoch with no Python per step. Seeds go through it either side by side (``"vmap"``: one program over
seed-stacked states; accelerators) or in turn (``"sequential"``: the single-seed program called per
seed; CPUs, where the vmapped program runs slower than the seeds in turn: on this project's 2-core CPU
5 seeds x 3 epochs of three quickstart networks took 1.37x the wall time side by side;
``benchmarks/bench_speed.py`` compares the modes). It compiles once per network;
every network starts from the supernet's compiled init (:meth:`SeedTrainer.init_variables`).
Evaluation predicts every seed on the whole ``search_val`` and ``test`` splits.

The step, optimizer and loss are those of :mod:`dianjax.train` (one recipe for final training and
the table); batches are :meth:`dianjax.data.Dataset.train_batch` of ``(seed, step)``: the batches
of ``dianjax train --config.eval_split=val`` with the recipe's seed, split and schedule. Only the
initial weights are drawn another way (the supernet's init, the same initializers).
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
    wall_s: float     # compile + training + evaluation of all seeds
    compile_s: float  # of which compilation


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
        splits = dict(data_dir=data_dir, val_fraction=recipe.val_fraction,
                      split_seed=recipe.split_seed)
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
        supernet_init = jax.jit(functools.partial(Supernet(self.space).init, train=False))
        self._supernet_init = lambda key: supernet_init(key, image, weights)
        # val and test in one array of whole EVAL_CHUNKs: one prediction program per network
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

    def init_variables(self, key: jax.Array, op_indices: tuple[int, ...]) -> dict:
        """Initial variables of network ``op_indices`` for ``key``: the supernet's variables drawn
        for ``key``, each layer keeping its chosen op's (the same initializers as a standalone
        network; one compiled init serves every network of the table)."""
        variables = self._supernet_init(key)
        return {collection: _derived_tree(tree, self.space, op_indices)
                for collection, tree in variables.items()}

    def train_network(self, op_indices) -> NetworkResult:
        """Trains network ``op_indices`` (columns of ``space.op_names``) once per recipe seed."""
        derived = DerivedNetwork(self.space, tuple(op_indices))
        programs = _Programs(derived.model, self.tx, self.recipe.label_smoothing)
        seeds = self.recipe.seeds
        vmapped = self.seed_mode == "vmap"
        start = time.perf_counter()
        states = [programs.init(self.init_variables(jax.random.key(seed), derived.op_indices))
                  for seed in seeds]
        if vmapped:
            states = [jax.tree.map(lambda *xs: jnp.stack(xs), *states)]
            epoch = jax.jit(jax.vmap(programs.epoch), donate_argnums=0)
            predict = jax.jit(jax.vmap(programs.predict, in_axes=(0, None)))
        else:
            epoch = jax.jit(programs.epoch, donate_argnums=0)
            predict = jax.jit(programs.predict)
        per_program = self._per_program(0)
        epoch = epoch.lower(states[0], per_program[0]).compile()
        compile_s = time.perf_counter() - start  # evaluation compiles later, inside wall_s only
        for number in range(self.recipe.num_epochs):
            states = [epoch(state, chunk) for state, chunk in zip(states, per_program)]
            if number + 1 < self.recipe.num_epochs:
                per_program = self._per_program(number + 1)
        correct = self._correct(predict, states)
        num_val = len(self.val.labels)
        val = correct[:, :num_val].mean(axis=1)
        test = correct[:, num_val:num_val + len(self.test.labels)].mean(axis=1)
        params = states[0][0]
        if vmapped:
            params = jax.tree.map(lambda x: x[0], params)
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
    """The pure single-seed functions of one network: init, an epoch of steps, prediction."""

    def __init__(self, model, tx: optax.GradientTransformation, label_smoothing: float):
        self.model, self.tx, self.label_smoothing = model, tx, label_smoothing

    def init(self, variables):
        """The training state (params, batch stats, optimizer state) from initial variables."""
        return variables["params"], variables["batch_stats"], self.tx.init(variables["params"])

    def _step(self, state, batch):
        params, stats, opt = state

        def loss_fn(p):
            logits, updates = self.model.apply({"params": p, "batch_stats": stats}, batch["image"],
                                               train=True, mutable=["batch_stats"])
            loss = jnp.mean(cross_entropy(logits, batch["label"], self.label_smoothing))
            return loss, updates["batch_stats"]

        (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt = self.tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), stats, opt), None

    def epoch(self, state, batches):
        """``state`` after the steps of ``batches`` (image [steps, B, ...], label [steps, B])."""
        return jax.lax.scan(self._step, state, batches)[0]

    def predict(self, state, images):
        params, stats, _ = state
        logits = self.model.apply({"params": params, "batch_stats": stats}, images, train=False)
        return jnp.argmax(logits, -1)
