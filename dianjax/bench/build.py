"""Builds a benchmark table: shards of networks trained into append-only files, then one merge.

A shard file (``<out>/<table>/shard-K-of-N.jsonl``) starts with a header line (format, table,
recipe, shard, machine) and gets one line per finished network, flushed and fsynced, so a crash
loses at most the network in training and a rerun resumes where it stopped. Shards split the
networks round-robin (:func:`dianjax.bench.networks.shard_indices`), so ``--shard K/N`` runs on the
N tasks of a SLURM array or the hosts of a pod slice, and ``--jobs J`` runs J single-threaded local
workers side by side (on a 2-core CPU a quickstart step took 22 ms on one core against 19 ms on
two, so two single-core workers do about 1.7x the work of one two-core process). :func:`merge`
checks that every shard used the same recipe and that every network is present once, and writes
the table.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tqdm

from dianjax.bench.networks import enumerate_networks, shard_indices
from dianjax.bench.recipe import get_recipe
from dianjax.bench.table import FORMAT_VERSION, BenchTable
from dianjax.nas.search_space import get_space

SHARD_PATTERN = re.compile(r"shard-(\d+)-of-(\d+)\.jsonl$")


def machine_description() -> str:
    """What the table was built on: CPU count, platform and JAX backend."""
    import jax

    return (f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, "
            f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})")


def shard_path(out_dir: str | Path, table: str, index: int, count: int) -> Path:
    return Path(out_dir) / table / f"shard-{index}-of-{count}.jsonl"


def _read_shard(path: Path) -> tuple[dict, list[dict]]:
    """The header and the complete rows of a shard file (a torn last line is dropped)."""
    lines = path.read_text().splitlines()
    if not lines:
        raise ValueError(f"{path}: empty shard file (no header line)")
    header, rows = json.loads(lines[0]), []
    for line in lines[1:]:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # the write interrupted by a crash
            break
    return header, rows


def build_shard(table: str, out_dir: str | Path, shard: tuple[int, int] = (1, 1),
                data_dir: str | None = None, seed_mode: str | None = None,
                limit: int | None = None, progress: bool = True) -> Path:
    """Trains the networks of shard ``shard`` = (K, N) of ``table`` not yet in its shard file.

    Args:
      table: a name of :data:`dianjax.bench.recipe.TABLES`.
      out_dir: where shard files go (``<out_dir>/<table>/``).
      shard: (K, N), 1-based.
      data_dir: tfds data dir for data sets that need one.
      seed_mode: ``"sequential"`` or ``"vmap"`` (default: by backend, see
        :mod:`dianjax.bench.trainer`).
      limit: stop after this many new networks (None: the whole shard).
      progress: show a tqdm bar.

    Returns:
      The shard file.
    """
    from dianjax.bench.trainer import SeedTrainer  # JAX only when training

    recipe = get_recipe(table)
    index, count = shard
    path = shard_path(out_dir, table, index, count)
    header = {"format_version": FORMAT_VERSION, "table": table, "recipe": recipe.to_dict(),
              "shard": [index, count]}
    if path.exists():
        existing, rows = _read_shard(path)
        if {k: existing.get(k) for k in header} != header:
            raise ValueError(f"{path} was built with another recipe or shard: "
                             f"{ {k: existing.get(k) for k in header} }; expected {header}. "
                             "Use another --out or delete the file.")
        _truncate_torn_line(path, len(rows) + 1)
    # every shard file of the table counts, so a build resumes under any other sharding
    done = set(collect(out_dir, table)[1]) if shard_files(out_dir, table) else set()
    networks = enumerate_networks(get_space(recipe.space))
    todo = [n for n in shard_indices(len(networks), index, count) if n not in done]
    if limit is not None:
        todo = todo[:limit]
    if not todo:
        return path
    trainer = SeedTrainer(recipe, data_dir=data_dir, seed_mode=seed_mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(json.dumps({**header, "machine": machine_description()}) + "\n")
    mine = shard_indices(len(networks), index, count)
    initial = int(np.isin(mine, list(done)).sum())
    with open(path, "a") as sink, tqdm.tqdm(total=len(mine), initial=initial, unit="net",
                                            desc=f"{table} shard {index}/{count}",
                                            disable=not progress) as bar:
        for n in todo:
            result = trainer.train_network(networks[n])
            row = {"network": int(n), "op_indices": list(result.op_indices),
                   "ops": list(result.op_names), "num_params": result.num_params,
                   "macs": result.macs, "val_accuracy": list(result.val_accuracy),
                   "test_accuracy": list(result.test_accuracy), "wall_s": result.wall_s,
                   "compile_s": result.compile_s, "finished_unix": time.time()}
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            bar.set_postfix(val=f"{np.mean(result.val_accuracy):.3f}", s=f"{result.wall_s:.0f}")
            bar.update(1)
    return path


def _truncate_torn_line(path: Path, keep_lines: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    if len(lines) > keep_lines or (lines and not lines[-1].endswith("\n")):
        path.write_text("".join(lines[:keep_lines]).rstrip("\n") + "\n")


def shard_files(out_dir: str | Path, table: str) -> list[Path]:
    folder = Path(out_dir) / table
    return sorted(p for p in folder.glob("shard-*-of-*.jsonl") if SHARD_PATTERN.search(p.name))


def collect(out_dir: str | Path, table: str) -> tuple[dict, dict[int, dict]]:
    """Every finished row of ``table`` under ``out_dir`` (any sharding), checked for one recipe."""
    files = shard_files(out_dir, table)
    if not files:
        raise ValueError(f"no shard files of table {table!r} in {Path(out_dir) / table}; build "
                         f"them with `dianjax bench build --table {table}`")
    recipe = get_recipe(table).to_dict()
    rows: dict[int, dict] = {}
    machines = []
    for path in files:
        header, shard_rows = _read_shard(path)
        if header.get("recipe") != recipe or header.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: built with recipe {header.get('recipe')} (format "
                             f"{header.get('format_version')}), not table {table!r}'s current "
                             f"{recipe} (format {FORMAT_VERSION})")
        machines.append(header.get("machine", ""))
        for row in shard_rows:
            rows.setdefault(row["network"], row)
    return {"machine": "; ".join(sorted(set(machines)))}, rows


def num_networks(table: str) -> int:
    """How many networks table ``table`` holds (its space's)."""
    return len(enumerate_networks(get_space(get_recipe(table).space)))


def merge(out_dir: str | Path, table: str) -> BenchTable:
    """The table from its shard files; a ValueError naming what is missing if incomplete."""
    meta, rows = collect(out_dir, table)
    recipe = get_recipe(table)
    space = get_space(recipe.space)
    networks = enumerate_networks(space)
    missing = [n for n in range(len(networks)) if n not in rows]
    if missing:
        raise ValueError(f"table {table!r} is incomplete: {len(missing)} of {len(networks)} "
                         f"networks missing (e.g. {missing[:5]}); finish the build first")
    for n, row in rows.items():
        if row["op_indices"] != networks[n].tolist():
            raise ValueError(f"row {n} has ops {row['op_indices']}, expected "
                             f"{networks[n].tolist()}: the space changed since the build")
    content = {"format_version": FORMAT_VERSION, "name": table, "recipe": recipe.to_dict(),
               "op_names": list(space.op_names), "machine": meta["machine"],
               "rows": [rows[n] for n in range(len(networks))], "hardware": None}
    return BenchTable.from_json(content, f"table {table!r}")


def iter_rows(out_dir: str | Path, table: str) -> Iterator[dict]:
    """The finished rows so far, in network order (for partial looks at a running build)."""
    _, rows = collect(out_dir, table)
    for n in sorted(rows):
        yield rows[n]
