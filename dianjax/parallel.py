"""Data parallelism with ``jax.sharding``: a 1-D device mesh, batches sharded, state replicated.

With several processes (multi-host, :mod:`dianjax.distributed`) the mesh spans every process's
devices and each process loads only its share of a batch (:func:`global_batch`).

Convention: the mesh has one axis, :data:`DATA_AXIS`, over the chosen devices. Every array of a batch
is split along its leading (example) dimension over that axis; parameters, optimizer state, batch-norm
statistics and architecture logits are replicated. A jitted step given inputs placed this way is
partitioned by XLA (GSPMD): means over the batch, batch-norm statistics included, become all-reduces,
so the step computes the same values on 1 device as on many, up to float summation order. The same
code runs on one CPU device, several GPUs or TPU cores.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named :data:`DATA_AXIS` over ``devices`` (default: all of ``jax.devices()``, of
    every process, listed process by process)."""
    devices = (sorted(jax.devices(), key=lambda d: (d.process_index, d.id)) if devices is None
               else list(devices))
    if not devices:
        raise ValueError("make_mesh needs at least one device, got none")
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The leading dimension split over the data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """Raises ValueError unless ``batch_size`` splits evenly over the mesh's devices."""
    devices = mesh.devices.size
    if batch_size % devices:
        raise ValueError(f"batch_size={batch_size} must be divisible by the number of devices "
                         f"({devices}); allowed: multiples of {devices}")


def replicate(tree, mesh: Mesh):
    """``tree`` placed on every device of ``mesh``."""
    return jax.device_put(tree, replicated_sharding(mesh))


def host_part() -> tuple[int, int]:
    """``(this process's index, process count)``: which share of a global batch this host loads."""
    return jax.process_index(), jax.process_count()


def global_batch(local_batch, mesh: Mesh):
    """A global batch split over the data axis, from this host's consecutive share of its rows.

    With one process this is :func:`shard_batch`. With several, host ``i`` of ``n`` passes rows
    ``[i B/n, (i+1) B/n)`` of the global batch of ``B`` (its devices' part of the mesh: the mesh
    lists the devices process by process) and gets back the global ``jax.Array``.
    """
    if jax.process_count() == 1:
        return shard_batch(local_batch, mesh)
    sharding = batch_sharding(mesh)

    def assemble(leaf):
        leaf = np.asarray(leaf)
        shape = (leaf.shape[0] * jax.process_count(), *leaf.shape[1:])
        check_batch_size(shape[0], mesh)
        return jax.make_array_from_process_local_data(sharding, leaf, shape)

    return jax.tree.map(assemble, local_batch)


def shard_batch(batch, mesh: Mesh):
    """A batch (pytree of arrays with a leading example dimension) split over the data axis."""
    for leaf in jax.tree.leaves(batch):
        check_batch_size(np.shape(leaf)[0], mesh)
    return jax.device_put(batch, batch_sharding(mesh))
