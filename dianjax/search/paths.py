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

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from dianjax import data, parallel
from dianjax.nas.supernet import Supernet
from dianjax.search.config import SearchSetup
from dianjax.search.steps import SearchState
from dianjax.train import cross_entropy

BN_RECALIBRATION_BATCHES = 8  # train batches (512 quickstart images) re-estimating a path's
                              # batch-norm statistics


@jax.jit
def _stack(*leaves):
    return jnp.stack(leaves)   # under jit: also for global arrays spread over several hosts


class EvalSet:
    """Every example of a data set once, as stacked device batches (the last one padded, masked)."""

    def __init__(self, setup: SearchSetup, dataset: data.Dataset, mesh):
        batches = [parallel.global_batch(batch, mesh) for batch in
                   dataset.eval_batches(setup.config.data.eval_batch_size, parallel.host_part())]
        self.images, self.labels, self.mask = (_stack(*(b[key] for b in batches))
                                               for key in ("image", "label", "mask"))


class PathEvaluator:
    """Batch-norm statistics and accuracy of any path of ``state``'s supernet (module docstring).

    The statistics of a path are re-estimated on ``num_batches`` batches of ``train_data`` (the
    same batches for every path), starting from the search's running averages.
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
            def update(stats, batch):
                _, updates = model.apply({"params": params, "batch_stats": stats}, batch, weights,
                                         train=True, hard=True, mutable=["batch_stats"])
                return updates["batch_stats"], None
            return jax.lax.scan(update, batch_stats, images)[0]

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
        hits, loss, total = self._correct(self.state.params, batch_stats,
                                          self._weights(op_indices), examples.images,
                                          examples.labels, examples.mask)
        return float(hits) / float(total), float(loss) / float(total)
