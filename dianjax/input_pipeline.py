"""Training batches through grain: worker processes, exact resume, per-host shares, device prefetch.

The pipeline is a grain ``MapDataset`` over step numbers: element ``s`` is this host's share of the
global batch of step ``s``, :meth:`dianjax.data.Dataset.train_batch` of ``(seed, s)`` (read, pad /
crop / flip or Inception crop + resize, normalized). Because a batch is a pure function of its step,

- a run that resumes at step ``k`` starts the range at ``k`` and gets bit-identical batches;
- any number of worker processes gives the same batches in the same order (grain hands steps to
  the workers round-robin and reassembles them in order);
- host ``i`` of ``n`` builds rows ``[i B/n, (i+1) B/n)`` of each global batch of ``B`` (random draws
  are made for the whole batch), so the global batch does not depend on the number of hosts.

``workers = 0`` prepares batches in one background thread of the main process (enough for the
embedded digits, where a worker process would cost more to start than it saves); ``workers > 0``
in that many grain worker processes, each with :data:`WORKER_BUFFER` batches in flight. Batches
travel raw (uint8 where the images have a fixed size) and are normalized on the devices
(:func:`device_normalizer`), :data:`DEVICE_PREFETCH` steps ahead of the step that needs them
(:func:`dianjax.parallel.global_batch`).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import grain
import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from dianjax import data, parallel
from sim import checks

WORKER_BUFFER = 2    # batches each worker process prepares ahead
DEVICE_PREFETCH = 2  # global batches placed on the devices ahead of the step
AUTO_WORKERS = -1    # config value: one worker per core the process may use, less one
# Config fields of the data section that change how batches are made, never which: a run may
# resume with other values (dianjax.checkpoints.check_same_config's ``free``).
HOW_NOT_WHAT = ("workers", "decoded_cache")


def resolve_workers(owner: str, field: str, workers: object) -> int:
    """The number of worker processes a config value asks for (:data:`AUTO_WORKERS` or >= 0)."""
    if workers == AUTO_WORKERS and isinstance(workers, int):
        return max(1, len(os.sched_getaffinity(0)) - 1)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"{owner}.{field} must be an integer >= 0 or {AUTO_WORKERS} (one worker "
                         f"per core less one), got {workers!r}")
    return workers


class _StepBatch(grain.transforms.Map):
    """step -> this host's share of the training batch of that step (pickled to the workers)."""

    def __init__(self, dataset: data.Dataset, batch_size: int, seed: int, part: tuple[int, int]):
        self.dataset, self.batch_size, self.seed, self.part = dataset, batch_size, seed, part

    def map(self, step: int) -> dict:
        return self.dataset.raw_batch(int(step), self.batch_size, self.seed, self.part)


def _one_thread_per_worker(worker: int, count: int) -> None:
    """Caps a worker's BLAS / OpenMP pools (the ImageNet resize) at one thread: the workers are
    the parallelism, and a pool per worker would oversubscribe the cores."""
    del worker, count
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)


def _absl_flags_parsed() -> None:
    """grain reads its absl flags when it starts workers; outside an absl app nobody parsed them."""
    from absl import flags  # grain's own dependency

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


@contextlib.contextmanager
def host_batches(dataset: data.Dataset, batch_size: int, seed: int, start_step: int,
                 stop_step: int, workers: int = 0,
                 part: tuple[int, int] | None = None) -> Iterator[Iterator[dict]]:
    """This host's shares of the raw training batches of steps ``start_step .. stop_step - 1``.

    Raw: :meth:`dianjax.data.Dataset.raw_batch` (uint8 images where the data set has a fixed size:
    a quarter of float32's bytes to pass between processes and to the devices). A context
    manager: the worker processes stop when it exits. ``part`` defaults to
    ``(jax.process_index(), jax.process_count())``; ``batch_size`` is the global batch.
    """
    dataset.steps_per_epoch(batch_size)
    checks.non_negative_int("host_batches", "start_step", start_step)
    checks.non_negative_int("host_batches", "workers", workers)
    part = (jax.process_index(), jax.process_count()) if part is None else part
    if batch_size % part[1]:
        raise ValueError(f"batch_size={batch_size} must be divisible by the number of hosts "
                         f"({part[1]}); allowed: multiples of {part[1]}")
    steps = grain.MapDataset.range(start_step, max(start_step, stop_step))
    pipeline = steps.map(_StepBatch(dataset, batch_size, seed, part)).to_iter_dataset(
        grain.ReadOptions(num_threads=1, prefetch_buffer_size=WORKER_BUFFER))
    if workers:
        _absl_flags_parsed()
        pipeline = pipeline.mp_prefetch(grain.MultiprocessingOptions(
            num_workers=workers, per_worker_buffer_size=WORKER_BUFFER),
            worker_init_fn=_one_thread_per_worker)
    iterator = iter(pipeline)
    try:
        yield iterator
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def device_normalizer(info: data.DatasetInfo, mesh: Mesh):
    """A jitted ``batch -> batch`` that normalizes uint8 images on the devices where they lie.

    A lookup in :func:`dianjax.data.normalization_table`, so the values equal
    :meth:`dianjax.data.Dataset.train_batch`'s bit for bit; float images pass through.
    """
    table = jnp.asarray(data.normalization_table(info))
    channels = jnp.arange(info.channels)

    @functools.partial(jax.jit, out_shardings=parallel.batch_sharding(mesh))
    def normalized(batch):
        image = batch["image"]
        if image.dtype == jnp.uint8:
            image = table[image.astype(jnp.int32), channels]
        return {**batch, "image": image}

    return normalized


@contextlib.contextmanager
def device_batches(dataset: data.Dataset, batch_size: int, seed: int, start_step: int,
                   stop_step: int, mesh: Mesh, workers: int = 0) -> Iterator[Iterator]:
    """The training batches of steps ``start_step .. stop_step - 1``, sharded over ``mesh``.

    Equal to :meth:`dianjax.data.Dataset.train_batch` of each step. Each host contributes its share
    (:func:`host_batches`); the global arrays are assembled, normalized on the devices and placed
    :data:`DEVICE_PREFETCH` steps ahead, in a background thread.
    """
    normalized = device_normalizer(dataset.info, mesh)
    with host_batches(dataset, batch_size, seed, start_step, stop_step, workers) as batches:
        placed = data.prefetch((normalized(parallel.global_batch(batch, mesh))
                                for batch in batches), DEVICE_PREFETCH)
        try:
            yield placed
        finally:
            placed.close()
