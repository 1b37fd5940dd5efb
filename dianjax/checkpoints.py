"""Run directories of the resumable loops (search, train, refine): one config each, orbax restore.

A run directory holds one run: it records its config, and resuming it with another config is
refused with the changed keys named, so that a resumed run never mixes two configs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import jax
import ml_collections
import orbax.checkpoint as ocp

CONFIG_FILE = "config.json"


def _as_json(config: ml_collections.ConfigDict | Mapping) -> dict:
    text = config.to_json() if isinstance(config, ml_collections.ConfigDict) else json.dumps(config)
    return json.loads(text)


def _changed_keys(saved: Mapping, current: Mapping, prefix: str = "") -> list[str]:
    """Dotted paths of the keys whose values differ (nested dicts compared key by key)."""
    changed = []
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_keys(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(prefix + key)
    return changed


def check_same_config(config: ml_collections.ConfigDict | Mapping, workdir: str | Path,
                      filename: str = CONFIG_FILE, free: tuple[str, ...] = ()) -> None:
    """Refuses ``workdir`` if its ``filename`` records a config other than ``config``.

    ``free``: dotted keys that may change between the parts of a run because they change how it
    is computed, never what (e.g. the number of input worker processes).

    Raises:
      ValueError: naming every changed key by its dotted path (e.g. ``search.steps``).
    """
    path = Path(workdir) / filename
    if not path.is_file():
        return
    changed = [key for key in _changed_keys(json.loads(path.read_text()), _as_json(config))
               if key not in free]
    if changed:
        raise ValueError(f"{workdir} holds a run of a different config (changed: {changed}); "
                         "resume with the same config or pick another directory")


def write_config(config: ml_collections.ConfigDict | Mapping, workdir: str | Path,
                 filename: str = CONFIG_FILE) -> None:
    """Records ``config`` in ``workdir/filename`` for :func:`check_same_config`."""
    (Path(workdir) / filename).write_text(json.dumps(_as_json(config), indent=1) + "\n")


def restore_latest(manager: ocp.CheckpointManager, state):
    """``(state, step)`` of the latest checkpoint, restored onto the shapes, dtypes and shardings
    of ``state`` (arrays, or ``jax.ShapeDtypeStruct`` with shardings); ``(state, 0)`` unchanged if
    there is none."""
    step = manager.latest_step()
    if not step:
        return state, 0
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)
    return manager.restore(step, args=ocp.args.StandardRestore(abstract)), step
