"""``dianjax search``: the joint differentiable co-search of a network and its accelerator, end to end.

The loop around the pure steps of :mod:`dianjax.search.steps`: data (train / val parts of the train
split, batches a pure function of ``(seed, step)``), PRNG keys ``fold_in(seed key, step)``, orbax
checkpoints every ``checkpoint_every_steps`` (an interrupted run resumes bit-exactly: same batches,
same keys, same state), metrics (``metrics.jsonl`` + TensorBoard, op and hardware probabilities for
``dianjax plot``), a tqdm progress bar. At the end the logits are discretized, the derived network
is simulated on the derived accelerator with the exact simulator ``sim``, and ``result.json``
records the pair, the supernet's accuracy, the simulator's latency / energy / area / EDP and the
cost model's prediction with its relative error (:mod:`dianjax.search.result`).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import tqdm

from dianjax import cost, data, distributed, input_pipeline, parallel, step_memory
from dianjax.checkpoints import check_same_config, restore_latest, write_config
from dianjax.metrics_log import MetricsWriter
from dianjax.nas import gumbel
from dianjax.search.config import SearchSetup, make_setup
from dianjax.search.result import RESULT_FILE, finalize, summary_table
from dianjax.search.steps import (
    WARMUP,
    SearchState,
    batch_spec,
    compile_step,
    init_state,
    make_optimizers,
    phase_at,
    run_phases,
)

RUN_INFO_FILE = "run_info.json"


def _hw_probs(setup: SearchSetup, state: SearchState, temperature: float) -> dict[str, list]:
    """Choice probabilities of every accelerator knob, and the share of slots per mapping choice
    (fold order, crossbar size)."""
    probs = {knob: np.asarray(jax.nn.softmax(state.hw_logits[knob] / temperature)).tolist()
             for knob in setup.hardware.knobs}
    mapping = setup.hardware.mapping_knob
    orders = np.argmax(np.asarray(state.hw_logits[mapping]), axis=-1)
    counts = np.bincount(orders, minlength=len(setup.hardware.mapping_choices))
    probs[mapping] = (counts / len(orders)).tolist()
    return probs


def _log_record(setup: SearchSetup, state: SearchState, metrics: dict) -> dict:
    record = {key: float(value) for key, value in metrics.items()}
    mask = setup.space.op_mask()
    record["op_probs"] = np.asarray(gumbel.probabilities(state.arch_logits, mask)).round(5).tolist()
    record["hw_probs"] = _hw_probs(setup, state, record["temperature"])
    return record


def _write_run_info(setup: SearchSetup, workdir: Path, reference) -> None:
    info = {"op_names": list(setup.space.op_names),
            "hw_choices": {**{knob: list(getattr(setup.hardware, knob))
                              for knob in setup.hardware.knobs},
                           setup.hardware.mapping_knob: list(setup.hardware.mapping_choices)},
            "reference": {key: float(value) for key, value in reference._asdict().items()},
            "devices": [str(d) for d in jax.devices()]}
    (workdir / RUN_INFO_FILE).write_text(json.dumps(info, indent=1) + "\n")


def _check_step_memory(config: ml_collections.ConfigDict, steps: dict, mesh,
                       run_info: Path | None) -> None:
    """Prints the memory every compiled step needs on one of the mesh's devices, adds it to
    ``run_info`` (when given) and refuses the run (:class:`~dianjax.step_memory.StepMemoryError`)
    if a step needs more than the limit: before any training."""
    device = mesh.local_devices[0]
    limit, source = step_memory.limit_bytes(config, device)
    limit_text = "unknown" if limit is None else f"{step_memory.format_bytes(limit)} ({source})"
    reports = {phase.label: step_memory.StepMemory.of(compiled) for phase, compiled in steps.items()}
    for label, report in reports.items():
        measured = "not reported by the backend" if report is None else report.summary()
        print(f"step memory ({label}) on {device}: {measured}; limit {limit_text}")
    if run_info is not None:
        info = json.loads(run_info.read_text())
        info["step_memory"] = {"device": str(device), "limit_bytes": limit, "limit_source": source,
                               "phases": {label: report.to_dict() for label, report in
                                          reports.items() if report is not None}}
        run_info.write_text(json.dumps(info, indent=1) + "\n")
    for label, report in reports.items():
        if report is not None:
            step_memory.check_fits(report, limit, source, config, f"search ({label})",
                                   mesh.devices.size)


def run_search(config: ml_collections.ConfigDict, workdir: str | Path,
               stop_after: int | None = None) -> dict | None:
    """Runs (or resumes) the search of ``config`` in ``workdir``; returns the result.

    Args:
      config: a search config (:func:`dianjax.search.config.base_config` layout).
      workdir: the run directory; one that holds checkpoints of this config resumes from the last.
      stop_after: stop (with a checkpoint) after this global step, as an interruption would;
        returns None then. For tests of the resume path.
    """
    setup = make_setup(config)
    workdir = Path(workdir).absolute()
    check_same_config(config, workdir, free=(
        *(f"data.{key}" for key in input_pipeline.HOW_NOT_WHAT), "search.max_step_memory_gib"))
    dcfg = config.data
    splits = {"data_dir": dcfg.data_dir or None, "val_fraction": dcfg.val_fraction,
              "split_seed": dcfg.split_seed,
              "decoded_cache": data.resolve_decoded_cache(dcfg.decoded_cache)}
    train_data = data.load(dcfg.dataset, "search_train", **splits)
    val_data = data.load(dcfg.dataset, "search_val", **splits)
    train_data.steps_per_epoch(dcfg.batch_size)
    val_data.steps_per_epoch(dcfg.batch_size)
    workers = input_pipeline.resolve_workers("config", "data.workers", dcfg.workers)
    mesh = parallel.make_mesh()
    parallel.check_batch_size(dcfg.batch_size, mesh)
    primary = distributed.is_primary()
    if primary:
        workdir.mkdir(parents=True, exist_ok=True)

    optimizers = make_optimizers(setup)
    seed_key = jax.random.key(config.seed)
    init_key, run_key = jax.random.split(seed_key)
    state = parallel.replicate(init_state(setup, optimizers, init_key), mesh)
    reference = cost.reference_metrics(setup.table, setup.hardware, setup.energy_table)
    if primary:
        _write_run_info(setup, workdir, reference)
    batch = batch_spec(setup, dcfg.batch_size, parallel.batch_sharding(mesh))
    steps = {phase: compile_step(setup, optimizers, phase, state, batch, run_key, reference)
             for phase in run_phases(setup)}   # every phase compiled once, before any work

    def step_fn(phase):
        return steps[phase]

    total = setup.total_steps
    options = ocp.CheckpointManagerOptions(max_to_keep=2,
                                           save_interval_steps=config.checkpoint_every_steps)
    start_time = time.perf_counter()
    _check_step_memory(config, steps, mesh, workdir / RUN_INFO_FILE if primary else None)
    if primary:   # only a run that fits claims the directory for its config
        write_config(config, workdir)
    with ocp.CheckpointManager(workdir / "checkpoints", options=options) as manager:
        state, start = restore_latest(manager, state)
        end = total if stop_after is None else min(total, stop_after)
        first_val = max(start, config.search.warmup_steps)   # steps before it are warm-up
        batches = functools.partial(input_pipeline.device_batches, stop_step=end, mesh=mesh,
                                    workers=workers, batch_size=dcfg.batch_size)
        with MetricsWriter(workdir, resume_step=start, enabled=primary) as writer, tqdm.tqdm(
                total=total, initial=start, desc="search", unit="step",
                disable=None if primary else True) as bar, \
                batches(train_data, seed=config.seed, start_step=start) as train_batches, \
                batches(val_data, seed=config.seed + 1, start_step=first_val) as val_batches:
            for step in range(start, end):
                phase = phase_at(setup, step)
                train_batch = next(train_batches)
                val_batch = None if phase == WARMUP else next(val_batches)
                state, metrics = step_fn(phase)(state, train_batch, val_batch,
                                                jax.random.fold_in(run_key, step), reference)
                done = step + 1
                if done % config.log_every_steps == 0 or done == total:
                    record = _log_record(setup, state, metrics)
                    writer.write(done, record)
                    bar.set_postfix({k: f"{record[k]:.3g}" for k in
                                     ("train_accuracy", "val_accuracy", "hw_cost") if k in record})
                manager.save(done, args=ocp.args.StandardSave(state),
                             force=done == total)
                bar.update(1)
            manager.wait_until_finished()
    if end < total:
        return None
    return finalize(setup, state, workdir, train_data, val_data, mesh,
                    search_wall_s=time.perf_counter() - start_time, resumed_from_step=start,
                    reference=reference)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """``dianjax search [--config FILE|NAME] [--config.key=value ...] [--workdir DIR]``."""
    from dianjax.cli import run_with_config

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=None,
                        help="run directory (default runs/<config name>); an existing run of the "
                             "same config resumes from its last checkpoint")
    return run_with_config(parser, argv, "quickstart", _search_command)


def _search_command(args: argparse.Namespace, config: ml_collections.ConfigDict, spec: str) -> int:
    workdir = args.workdir or f"runs/{Path(spec.split(':')[0]).stem}"
    result = run_search(config, workdir)
    print(summary_table(result))
    print(f"-> {Path(workdir) / RESULT_FILE}   (plots: dianjax plot {workdir})")
    return 0
