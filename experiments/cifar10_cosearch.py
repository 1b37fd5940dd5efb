"""The paper-style run: joint co-search on CIFAR-10, then the derived network trained from scratch.

Command:  python experiments/cifar10_cosearch.py [--config cifar10] [--config.key=value ...]
              [--out runs/cifar10_cosearch] [--force]
          (prepare CIFAR-10 once, see the README: ``tfds build cifar10``; without it the data loader
          stops with the command to run)
Measured: ``--config quickstart --force`` (400 search steps, 30 epochs of final training) took
about 70 s on a shared 2-core CPU: supernet_val 0.654, derived_test 0.986, simulated EDP 22.1 pJ s.
The CIFAR-10 run itself has not been run here (no GPU, CIFAR-10 not prepared).

The search of ``configs/cifar10.py`` (DIAN-style joint search, FBNet-like 22-layer space, 50 epochs
of 195 steps of batch 128, the first 10 weights only) with ``final_train.enabled=True`` (the derived
network trained from scratch, 200 epochs), meant for one GPU. On a machine where JAX sees no GPU or
TPU the script prints the scale of the run and stops unless ``--force`` is given (``--config
quickstart --force`` runs the same pipeline on the embedded digits on a CPU).

``OUT`` is the search's run directory: rerunning resumes an interrupted search (and final training)
from its checkpoints, and reads a finished one back. Prints the result's summary; writes
``summary.csv`` (one row, :data:`dianjax.analysis.pareto.ROW_COLUMNS`), ``summary.json`` and the
run's plots (``curves.png``, ``op_probs.png``, ``hw_probs.png``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax

from dianjax import compile_cache
from dianjax.analysis import pareto, plots
from dianjax.cli import report_error
from dianjax.config import load_config, split_config_args
from dianjax.search.config import SearchSetup, make_setup
from dianjax.search.result import RESULT_FILE, summary_table


def scale(setup: SearchSetup) -> str:
    """What the run computes: search steps and batch, space size, final-training epochs."""
    config = setup.config
    final = config.final_train
    training = (f"then {final.num_epochs} epochs of training of the derived network from scratch "
                f"(batch {final.batch_size})" if final.enabled else "no final training")
    return (f"{setup.total_steps} search steps ({config.search.warmup_steps} weights only) of "
            f"batch {config.data.batch_size} on {config.data.dataset}, space {config.space!r} "
            f"({setup.space.num_layers} searchable layers x {setup.space.num_ops} ops, "
            f"{setup.hardware.num_accelerators} accelerators), {training}")


def main(argv: list[str] | None = None) -> int:
    """Runs (or resumes) the search with final training and prints its summary."""
    compile_cache.enable(compile_cache.default_dir())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/cifar10_cosearch", help="the run directory")
    parser.add_argument("--force", action="store_true",
                        help="run even if JAX sees no GPU or TPU")
    try:
        spec, overrides, rest = split_config_args(list(sys.argv[1:] if argv is None else argv))
        args = parser.parse_args(rest)
        config = load_config(spec or "cifar10", ["final_train.enabled=True", *overrides])
        setup = make_setup(config)
    except ValueError as error:
        return report_error(error)
    backend = jax.default_backend()
    if backend == "cpu" and not args.force:
        print(f"cifar10_cosearch: JAX sees no GPU or TPU (backend {backend!r}). This run is "
              f"{scale(setup)}: it is meant for one GPU. Rerun with --force to run it here anyway, "
              f"or try the same pipeline on the embedded digits: --config quickstart --force",
              file=sys.stderr)
        return 2
    print(f"cifar10_cosearch on {backend}: {scale(setup)}")
    out = Path(args.out)
    result = pareto.run_or_load(config, out)
    print(summary_table(result))
    row = pareto.result_row(result, out.name)
    pareto.write_csv([row], out / "summary.csv", pareto.ROW_COLUMNS)
    (out / "summary.json").write_text(json.dumps(
        {"row": row, "result": str(out / RESULT_FILE)}, indent=1) + "\n")
    written = plots.plot_run(out)
    print(f"-> {out / RESULT_FILE}, {out / 'summary.csv'}, "
          + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
