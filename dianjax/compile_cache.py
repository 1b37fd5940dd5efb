"""JAX's persistent compilation cache, on by default: a second run skips the compilations it reuses.

Every ``dianjax`` command that runs JAX (and the ``experiments/`` scripts) stores the XLA programs it
compiles on disk and loads them back on the next run of the same program (same shapes, flags, JAX
version and device). Where: ``$DIANJAX_COMPILATION_CACHE`` if set, else
``$XDG_CACHE_HOME/dianjax/jax`` (default ``~/.cache/dianjax/jax``). Off: set the variable to ``off``
or run ``dianjax --no-compilation-cache <command>``. JAX stores compilations that took at least
:data:`MIN_COMPILE_TIME_S`; entries are never evicted (delete the folder to reclaim the space).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "DIANJAX_COMPILATION_CACHE"
OFF = "off"
MIN_COMPILE_TIME_S = 0.5   # below this, recompiling is about as fast as reading the cache


def default_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder the environment asks for, or None if it turns the cache off."""
    chosen = environ.get(ENV, "")
    if chosen.strip().lower() == OFF:
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dianjax" / "jax"


def enable(directory: str | Path | None) -> Path | None:
    """Points JAX's persistent compilation cache at ``directory`` (None: leaves it off).

    Call it before the first compilation. Returns the folder used.
    """
    if directory is None:
        return None
    import jax  # noqa: PLC0415  (dianjax simulate never imports JAX)

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return directory
