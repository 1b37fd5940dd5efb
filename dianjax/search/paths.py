"""Accuracy of any path (one op per searchable layer) of a trained supernet, compiled once.

One-shot NAS scores a path with the shared weights after re-estimating batch norm's running
statistics on that path: during a soft search every layer normalizes the *mixture* of its inputs,
so the search's running statistics do not match a single path (Guo et al., "Single Path One-Shot
NAS", ECCV 2020, Sec. 3.3). The path is an argument of the compiled functions (one-hot op
weights), so the derived network and the hundreds of networks of the one-shot front
(:mod:`dianjax.search.front`) share one compilation, and the batches they use are put on the
devices once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dianjax import data, parallel
from dianjax.nas.supernet import BN_MOMENTUM, Supernet
from dianjax.search.config import SearchSetup
from dianjax.search.steps import SearchState
from dianjax.train import cross_entropy

BN_RECALIBRATION_BATCHES = 8  # train batches (512 quickstart images) whose mean statistics are a
                              # path's batch-norm statistics


EVAL_CHUNK_BYTES = 1 << 30   # images of an eval set moved to the devices at once: a larger set is
                             # read again and moved in chunks of about this size on every use


@jax.jit
def _stack(*leaves):
    return jnp.stack(leaves)   # under jit: also for global arrays spread over several hosts


class EvalSet:
    """Every example of a data set once, as chunks of stacked device batches (the last batch
    padded and masked).

    A set of at most ``chunk_bytes`` of images is one chunk, kept on the devices (the one-shot
    front scores hundreds of paths on it); a larger one is read and moved chunk by chunk on every
    use, each chunk padded with masked batches to the same length (one compilation).
    """

    def __init__(self, setup: SearchSetup, dataset: data.Dataset, mesh,
                 chunk_bytes: int = EVAL_CHUNK_BYTES):
        self._dataset, self._mesh = dataset, mesh
        self._batch_size = setup.config.data.eval_batch_size
        info = dataset.info
        batch_bytes = self._batch_size * info.image_size ** 2 * info.channels * 4   # float32
        num_batches = -(-len(dataset) // self._batch_size)
        self.chunk_batches = max(1, min(num_batches, chunk_bytes // batch_bytes))
        self._kept = list(self._read()) if self.chunk_batches == num_batches else None

    def chunks(self):
        """``(images, labels, mask)`` per chunk, each ``[chunk_batches, batch, ...]``."""
        return iter(self._kept) if self._kept is not None else self._read()

    def _read(self):
        batches = self._dataset.eval_batches(self._batch_size, parallel.host_part())
        while chunk := list(itertools.islice(batches, self.chunk_batches)):
            chunk += [{**chunk[-1], "mask": np.zeros_like(chunk[-1]["mask"])}] * (
                self.chunk_batches - len(chunk))
            chunk = [parallel.global_batch(batch, self._mesh) for batch in chunk]
            yield tuple(_stack(*(batch[key] for batch in chunk))
                        for key in ("image", "label", "mask"))


class PathEvaluator:
    """Batch-norm statistics and accuracy of any path of ``state``'s supernet (module docstring).

    The statistics of a path are the mean of its batch statistics over ``num_batches`` batches of
    ``train_data`` (the same batches for every path), nothing kept from the search's running
    averages, which normalized the mixture; ops off the path keep the search's statistics.
    """

    def __init__(self, setup: SearchSetup, state: SearchState, train_data: data.Dataset, mesh,
                 num_batches: int = BN_RECALIBRATION_BATCHES):
        self.setup, self.state = setup, state
        batch_size = setup.config.data.batch_size
        self._images = _stack(*(parallel.global_batch(
            train_data.train_batch(step, batch_size, setup.config.seed + 2, parallel.host_part()),
            mesh)["image"] for step in range(num_batches)))
        model = Supernet(setup.space)

        def recalibrate(params, batch_stats, weights, images):
            def add(total, batch):
                _, updates = model.apply({"params": params, "batch_stats": batch_stats}, batch,
                                         weights, train=True, hard=True, mutable=["batch_stats"])
                # a running average m * old + (1 - m) * batch, solved for the batch's statistic
                # (the old one where the op did not run)
                return jax.tree.map(
                    lambda t, new, old: t + (new - BN_MOMENTUM * old) / (1 - BN_MOMENTUM),
                    total, updates["batch_stats"], batch_stats), None
            zeros = jax.tree.map(jnp.zeros_like, batch_stats)
            total = jax.lax.scan(add, zeros, images)[0]
            return jax.tree.map(lambda t: t / images.shape[0], total)

        def correct(params, batch_stats, weights, images, labels, mask):
            def count(sums, batch):
                batch_images, batch_labels, batch_mask = batch
                logits = model.apply({"params": params, "batch_stats": batch_stats}, batch_images,
                                     weights, train=False, hard=True)
                hits = ((logits.argmax(-1) == batch_labels) * batch_mask).sum()
                loss = (cross_entropy(logits, batch_labels) * batch_mask).sum()
                return (sums[0] + hits, sums[1] + loss), None
            zero = jnp.zeros((), jnp.float32)
            hits, loss = jax.lax.scan(count, (zero, zero), (images, labels, mask))[0]
            return hits, loss, mask.sum()

        self._recalibrate = jax.jit(recalibrate)
        self._correct = jax.jit(correct)

    def _weights(self, op_indices: Sequence[int]) -> jax.Array:
        return jax.nn.one_hot(jnp.asarray(op_indices), self.setup.space.num_ops)

    def batch_stats(self, op_indices: Sequence[int]):
        """The path's batch-norm statistics, re-estimated (class docstring)."""
        return self._recalibrate(self.state.params, self.state.batch_stats,
                                 self._weights(op_indices), self._images)

    def accuracy(self, op_indices: Sequence[int], examples: EvalSet, batch_stats=None) -> float:
        """Accuracy of the path on ``examples`` (inference-mode batch norm with ``batch_stats``;
        ``None``: re-estimated first)."""
        return self.scores(op_indices, examples, batch_stats)[0]

    def scores(self, op_indices: Sequence[int], examples: EvalSet, batch_stats=None
               ) -> tuple[float, float]:
        """``(accuracy, mean cross-entropy)`` of the path on ``examples`` (:meth:`accuracy`)."""
        if batch_stats is None:
            batch_stats = self.batch_stats(op_indices)
        sums = np.zeros(3)   # hits, summed cross-entropy, examples
        for images, labels, mask in examples.chunks():
            sums += [float(part) for part in self._correct(
                self.state.params, batch_stats, self._weights(op_indices), images, labels, mask)]
        hits, loss, total = sums
        return hits / total, loss / total
