"""Multi-host JAX: join a cluster of processes when the environment asks for one.

Asked for by, in this order:

- the standard variables ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0),
  ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``: jax reads only the address itself for a plain
  launch, so the count and id are read here and passed on (all three, or an error names the
  missing one);
- a SLURM job step of more than one task (``SLURM_NTASKS`` > 1), or a Cloud TPU pod slice with more
  than one host (``TPU_WORKER_HOSTNAMES`` lists several): jax's own cluster detection fills in
  address, count and id.

Otherwise the run stays one process. After joining, ``jax.devices()`` lists every process's
devices, :func:`dianjax.parallel.make_mesh` spans them all, each process loads only its share of a
batch (:mod:`dianjax.input_pipeline`), and files a run writes once (config, metrics, result.json)
are written by process 0 alone (:func:`is_primary`); orbax checkpoints are saved by all together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax

ADDRESS, COUNT, PROCESS = "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"


def _int_var(environ: Mapping[str, str], name: str, low: int, high: int | None = None) -> int:
    value = environ.get(name, "")
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"environment variable {name}={value!r} (set because {ADDRESS} is set); "
                         f"allowed: {allowed}")
    return number


def cluster_request(environ: Mapping[str, str] = os.environ) -> dict | None:
    """The ``jax.distributed.initialize`` arguments the environment asks for; None: one process."""
    if environ.get(ADDRESS):
        count = _int_var(environ, COUNT, 1)
        return {"coordinator_address": environ[ADDRESS], "num_processes": count,
                "process_id": _int_var(environ, PROCESS, 0, count - 1)}
    if int(environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return {}
    if len([h for h in environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1:
        return {}
    return None


def initialize(environ: Mapping[str, str] = os.environ) -> bool:
    """Joins the cluster the environment asks for (before any other JAX call); True if it did."""
    request = cluster_request(environ)
    if request is None or jax.distributed.is_initialized():
        return False
    jax.distributed.initialize(**request)
    return True


def is_primary() -> bool:
    """True in the process that writes a run's files (process 0, or the only process)."""
    return jax.process_index() == 0
