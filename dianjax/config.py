"""Experiment configs: Python files with ``get_config(arg=None) -> ml_collections.ConfigDict``.

A config is named by path (``configs/cifar10.py``) or by bare name (``cifar10``: a bundled config,
the repo's top-level ``configs/`` folder, installed as the package ``dianjax.configs``), optionally
with an argument (``configs/sweep.py:edp``). Command-line overrides ``--config.key.sub=value`` are
parsed as Python literals and type-checked against the default: an unknown key or a value of the
wrong type fails at once with the key named.
"""

from __future__ import annotations

import ast
import importlib.resources
import importlib.util
from collections.abc import Iterable
from importlib.resources.abc import Traversable
from pathlib import Path

import ml_collections

BUNDLED_PACKAGE = "dianjax.configs"  # pyproject.toml maps it onto the top-level configs/ folder


def bundled_configs() -> dict[str, Traversable]:
    """The bundled configs by name, found through ``importlib.resources`` (so in any install)."""
    try:
        folder = importlib.resources.files(BUNDLED_PACKAGE)
    except ModuleNotFoundError:  # an install made before configs/ was packaged
        return {}
    return {entry.name[:-3]: entry for entry in folder.iterdir()
            if entry.name.endswith(".py") and not entry.name.startswith("_")}


def _config_source(spec: str) -> tuple[Path | Traversable, str | None]:
    path_text, _, arg = spec.partition(":")
    path = Path(path_text)
    if path.is_file():
        return path, (arg or None)
    bundled = bundled_configs()
    if not path.suffix and path_text in bundled:  # a bare name, even if a run dir has that name
        return bundled[path_text], (arg or None)
    missing = "" if bundled else f" (package {BUNDLED_PACKAGE} not found: reinstall dianjax)"
    raise ValueError(f"--config: no config file {path_text!r}; give a path to a .py file with "
                     f"get_config() or one of the bundled names {sorted(bundled)}{missing}")


def load_config(spec: str, overrides: Iterable[str] = ()) -> ml_collections.ConfigDict:
    """Loads a config file and applies ``key=value`` overrides (without the ``--config.`` prefix)."""
    source, arg = _config_source(spec)
    with importlib.resources.as_file(source) as path:
        module_spec = importlib.util.spec_from_file_location(f"_dianjax_config_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"--config: {path} defines no get_config(arg=None) function")
    config = module.get_config(arg) if arg is not None else module.get_config()
    for override in overrides:
        apply_override(config, override)
    return config


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string such as `edp` or `configs/x.py`


def apply_override(config: ml_collections.ConfigDict, override: str) -> None:
    """Sets ``a.b=value`` in place, checking that ``a.b`` exists and that the type fits."""
    key, sep, text = override.partition("=")
    if not sep:
        raise ValueError(f"config override {override!r} must look like key=value")
    *parents, leaf = key.split(".")
    node = config
    for depth, part in enumerate(parents):
        if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
            raise ValueError(f"unknown config key {key!r}: {'.'.join(parents[:depth + 1])!r} is not "
                             f"a section; top-level keys: {sorted(config.keys())}")
        node = node[part]
    if leaf not in node:
        raise ValueError(f"unknown config key {key!r}; keys here: {sorted(node.keys())}")
    value = _parse_value(text)
    current = node[leaf]
    if isinstance(current, bool) and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    try:
        node[leaf] = value
    except TypeError as error:
        raise ValueError(f"config key {key!r} expects {type(current).__name__}, got {text!r}: "
                         f"{error}") from None


def split_config_args(argv: list[str]) -> tuple[str | None, list[str], list[str]]:
    """Splits argv into (``--config`` value, ``--config.*`` overrides, the remaining arguments)."""
    spec, overrides, rest = None, [], []
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            spec = next(args, None)
            if spec is None:
                raise ValueError("--config needs a value: a config file path or name")
        elif arg.startswith("--config="):
            spec = arg.split("=", 1)[1]
        elif arg.startswith("--config."):
            override = arg[len("--config."):]
            if "=" not in override:
                value = next(args, None)
                if value is None:
                    raise ValueError(f"{arg} needs a value")
                override = f"{override}={value}"
            overrides.append(override)
        else:
            rest.append(arg)
    return spec, overrides, rest
