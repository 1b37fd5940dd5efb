"""The persistent compilation cache: where it lives, how it is turned off, and that a second run
loads what the first one compiled."""

import subprocess
import sys
import textwrap
from pathlib import Path

from dianjax import compile_cache

_PROGRAM = textwrap.dedent("""
    import sys, time
    from dianjax import compile_cache
    compile_cache.MIN_COMPILE_TIME_S = 0.0
    compile_cache.enable(compile_cache.default_dir())
    import jax, jax.numpy as jnp
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kwargs: hits.append(event) if event.endswith("cache_hits") else None)
    f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum())
    print(float(f(jnp.ones((32, 32)))), len(hits))
""")


def test_default_dir_follows_the_environment(tmp_path):
    assert compile_cache.default_dir({"DIANJAX_COMPILATION_CACHE": "Off"}) is None
    assert compile_cache.default_dir({"DIANJAX_COMPILATION_CACHE": str(tmp_path)}) == tmp_path
    assert compile_cache.default_dir({"XDG_CACHE_HOME": str(tmp_path)}) == \
        tmp_path / "dianjax" / "jax"
    assert compile_cache.default_dir({}) == Path.home() / ".cache" / "dianjax" / "jax"
    assert compile_cache.enable(None) is None


def _run(cache: str, env_home: Path) -> tuple[float, int]:
    """The program's value and its number of compilation-cache hits."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(env_home), "DIANJAX_COMPILATION_CACHE": cache,
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    value, hits = done.stdout.split()
    return float(value), int(hits)


def test_a_second_process_reuses_the_first_ones_compilation(tmp_path):
    cache = tmp_path / "cache"
    value, hits = _run(str(cache), tmp_path)
    entries = [p.name for p in cache.iterdir()]
    assert hits == 0 and any(name.startswith("jit__lambda") for name in entries)
    # every program the first run stored, the second loads back, with the same value
    assert _run(str(cache), tmp_path) == (value, len(entries))
    assert _run("off", tmp_path) == (value, 0)
    assert not (tmp_path / ".cache").exists()           # off: nothing written anywhere


def test_the_command_line_turns_it_on_unless_told_otherwise(monkeypatch, tmp_path, capsys):
    from dianjax import cli

    calls = []
    monkeypatch.setattr(compile_cache, "enable", calls.append)
    monkeypatch.setenv("DIANJAX_COMPILATION_CACHE", str(tmp_path))
    assert cli.main(["plot", str(tmp_path / "no_run")]) == 2        # a JAX command: enabled
    assert calls == [tmp_path]
    assert cli.main(["--no-compilation-cache", "plot", str(tmp_path / "no_run")]) == 2
    assert cli.main(["simulate", "--network", "resnet20"]) == 0     # never imports JAX
    assert calls == [tmp_path]
    assert "no_run" in capsys.readouterr().err
