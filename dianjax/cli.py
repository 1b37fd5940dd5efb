"""The ``dianjax`` command: one subcommand per job, each owning its own argument parser.

Subcommands are imported lazily so that, e.g., ``dianjax simulate`` never imports JAX; so is
everything :func:`run_with_config` needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ml_collections

# name -> (module with ``main(argv, prog)``, one-line help); all but ``simulate`` run JAX
_COMMANDS = {
    "search": ("dianjax.search.loop",
               "jointly search a network and its accelerator (quickstart by default)"),
    "simulate": ("sim.cli", "simulate a network on an accelerator with the exact simulator"),
    "plot": ("dianjax.analysis.plots", "draw a search run's curves and choice probabilities (PNG)"),
    "train": ("dianjax.train", "train a derived network from scratch and test it (final training)"),
    "refine": ("dianjax.refine.cli", "refine a search's pairs by simulator + training queries"),
    "bench": ("dianjax.bench.cli", "build and inspect the benchmark tables (trained networks)"),
}


def report_error(error: BaseException) -> int:
    """Prints ``error: ...`` on stderr and returns exit code 2: bad input, for every command."""
    print(f"error: {error}", file=sys.stderr)
    return 2


def run_with_config(parser: argparse.ArgumentParser, argv: list[str] | None, default_config: str,
                    command: Callable[[argparse.Namespace, ml_collections.ConfigDict, str], int]
                    ) -> int:
    """Parses ``[--config FILE|NAME] [--config.key=value ...]`` and ``parser``'s own arguments, then
    returns ``command(args, config, config_spec)``.

    Bad input anywhere (a ``ValueError`` or ``DatasetNotPreparedError``) prints ``error: ...`` on
    stderr and returns exit code 2, the same for every subcommand.
    """
    from dianjax.config import load_config, split_config_args
    from dianjax.data import DatasetNotPreparedError

    try:
        spec, overrides, rest = split_config_args(list(argv or []))
        args = parser.parse_args(rest)
        spec = spec or default_config
        return command(args, load_config(spec, overrides), spec)
    except (ValueError, DatasetNotPreparedError) as error:
        return report_error(error)


_NO_JAX = ("simulate",)
_NO_CACHE = "--no-compilation-cache"


def _usage() -> str:
    lines = [f"usage: dianjax [{_NO_CACHE}] <command> [options]   (dianjax <command> --help for "
             "its options)", "", "commands:"]
    lines += [f"  {name:10s} {help_}" for name, (_, help_) in _COMMANDS.items()]
    lines += ["", f"{_NO_CACHE}: do not use the persistent XLA compilation cache (default: on, in "
              "$DIANJAX_COMPILATION_CACHE or ~/.cache/dianjax/jax; see dianjax.compile_cache)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    use_cache = _NO_CACHE not in argv[:1]
    argv = argv[1:] if not use_cache else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in _COMMANDS:
        print(f"error: unknown command {name!r}; allowed: {sorted(_COMMANDS)}\n\n{_usage()}",
              file=sys.stderr)
        return 2
    if name not in _NO_JAX:
        from dianjax import compile_cache, distributed

        if use_cache:
            compile_cache.enable(compile_cache.default_dir())
        try:   # before any other JAX call: a multi-host launch joins its cluster here
            distributed.initialize()
        except ValueError as error:
            return report_error(error)
    module = importlib.import_module(_COMMANDS[name][0])
    return module.main(rest, prog=f"dianjax {name}")


if __name__ == "__main__":
    sys.exit(main())
