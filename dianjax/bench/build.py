"""Builds a benchmark table: shards of networks trained into append-only files, then one merge.

A shard file (``<out>/<table>/shard-K-of-N.jsonl``) starts with a header line (format, table,
recipe, shard, machine) and gets one line per finished network, flushed and fsynced, so a crash
loses at most the network in training and a rerun resumes where it stopped. Seeds added to a table's
recipe later (the separability check may ask for more) are built as a *seed group* of their own,
``shard-K-of-N.seeds-5-6-7.jsonl``, whose header recipe lists only those seeds: the networks' other
seeds are kept, and a row is complete once every seed of the recipe is in some file. Shards split the
networks round-robin (:func:`dianjax.bench.networks.shard_indices`), so ``--shard K/N`` runs on the
N tasks of a SLURM array or the hosts of a pod slice, and ``--jobs J`` runs J single-threaded local
workers side by side (on a 2-core CPU a quickstart step took 22 ms on one core against 19 ms on
two, so two single-core workers do about 1.7x the work of one two-core process). :func:`merge`
checks that every shard used the same recipe and that every network is present once, and writes
the table.
"""

from __future__ import annotations

import dataclasses
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

SHARD_PATTERN = re.compile(r"shard-(\d+)-of-(\d+)(\.seeds(-\d+)+)?\.jsonl$")


def machine_description() -> str:
    """What the table was built on: CPU count, platform and JAX backend."""
    import jax

    return (f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, "
            f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})")


def shard_path(out_dir: str | Path, table: str, index: int, count: int,
               group: tuple[int, ...] | None = None) -> Path:
    """Shard K of N of ``table``; of seed group ``group`` when it is not the recipe's first."""
    suffix = "" if group is None else ".seeds-" + "-".join(str(seed) for seed in group)
    return Path(out_dir) / table / f"shard-{index}-of-{count}{suffix}.jsonl"


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
                limit: int | None = None, progress: bool = True) -> list[Path]:
    """Trains the networks of shard ``shard`` = (K, N) of ``table`` that lack recipe seeds.

    Seeds are trained per seed group (module docstring): the groups of the existing shard files,
    then the recipe's seeds that no file holds yet (all of them on a fresh build).

    Args:
      table: a name of :data:`dianjax.bench.recipe.TABLES`.
      out_dir: where shard files go (``<out_dir>/<table>/``).
      shard: (K, N), 1-based.
      data_dir: tfds data dir for data sets that need one.
      seed_mode: ``"sequential"`` or ``"vmap"`` (default: by backend, see
        :mod:`dianjax.bench.trainer`).
      limit: stop after this many new (network, seed group) rows (None: the whole shard).
      progress: show a tqdm bar.

    Returns:
      The shard files of this shard, one per seed group.
    """
    recipe = get_recipe(table)
    index, count = shard
    records, groups = (_gather(out_dir, table)[1:] if shard_files(out_dir, table)
                       else ({}, []))
    new = tuple(seed for seed in recipe.seeds if not any(seed in g for g in groups))
    groups = sorted([*groups, new] if new else groups, key=lambda g: recipe.seeds.index(g[0]))
    networks = enumerate_networks(get_space(recipe.space))
    mine = shard_indices(len(networks), index, count)
    paths = []
    for group in groups:
        path = shard_path(out_dir, table, index, count,
                          None if group[0] == recipe.seeds[0] else group)
        paths.append(path)
        todo = [n for n in mine if not set(group) <= set(records.get(int(n), {}))]
        if limit is not None:
            todo, limit = todo[:limit], max(limit - len(todo), 0)
        _build_group(table, dataclasses.replace(recipe, seeds=group), path, (index, count),
                     [networks[n] for n in todo], [int(n) for n in todo], len(mine),
                     data_dir, seed_mode, progress)
    return paths


def _build_group(table: str, recipe, path: Path, shard: tuple[int, int], networks: list,
                 indices: list[int], shard_size: int, data_dir, seed_mode, progress: bool) -> None:
    """Appends one row per network of ``indices`` to ``path``: its seeds of ``recipe`` trained."""
    from dianjax.bench.trainer import SeedTrainer  # JAX only when training

    header = {"format_version": FORMAT_VERSION, "table": table, "recipe": recipe.to_dict(),
              "shard": list(shard)}
    if path.exists():
        existing, rows = _read_shard(path)
        if {k: existing.get(k) for k in header} != header:
            raise ValueError(f"{path} was built with another recipe or shard: "
                             f"{ {k: existing.get(k) for k in header} }; expected {header}. "
                             "Use another --out or delete the file.")
        _truncate_torn_line(path, len(rows) + 1)
    if not indices:
        return
    trainer = SeedTrainer(recipe, data_dir=data_dir, seed_mode=seed_mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(json.dumps({**header, "machine": machine_description()}) + "\n")
    seeds = ",".join(str(seed) for seed in recipe.seeds)
    with open(path, "a") as sink, tqdm.tqdm(total=shard_size, initial=shard_size - len(indices),
                                            unit="net", disable=not progress,
                                            desc=f"{table} shard {shard[0]}/{shard[1]} "
                                                 f"seeds {seeds}") as bar:
        for n, ops in zip(indices, networks):
            result = trainer.train_network(ops)
            row = {"network": n, "op_indices": list(result.op_indices),
                   "ops": list(result.op_names), "num_params": result.num_params,
                   "macs": result.macs, "val_accuracy": list(result.val_accuracy),
                   "test_accuracy": list(result.test_accuracy), "wall_s": result.wall_s,
                   "compile_s": result.compile_s, "finished_unix": time.time()}
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            bar.set_postfix(val=f"{np.mean(result.val_accuracy):.3f}", s=f"{result.wall_s:.0f}")
            bar.update(1)


def _truncate_torn_line(path: Path, keep_lines: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    if len(lines) > keep_lines or (lines and not lines[-1].endswith("\n")):
        path.write_text("".join(lines[:keep_lines]).rstrip("\n") + "\n")


def shard_files(out_dir: str | Path, table: str) -> list[Path]:
    folder = Path(out_dir) / table
    return sorted(p for p in folder.glob("shard-*-of-*.jsonl") if SHARD_PATTERN.search(p.name))


def _gather(out_dir: str | Path, table: str
            ) -> tuple[dict, dict[int, dict[int, tuple[dict, dict]]], list[tuple[int, ...]]]:
    """Every finished row of ``table`` under ``out_dir`` (any sharding, any seed group), checked
    against the table's recipe: (meta, {network: {seed: (row, {"val", "test"})}}, seed groups)."""
    files = shard_files(out_dir, table)
    if not files:
        raise ValueError(f"no shard files of table {table!r} in {Path(out_dir) / table}; build "
                         f"them with `dianjax bench build --table {table}`")
    recipe = get_recipe(table).to_dict()
    records: dict[int, dict[int, tuple[dict, dict]]] = {}
    machines, groups = [], []
    for path in files:
        header, shard_rows = _read_shard(path)
        built = dict(header.get("recipe") or {})
        group = tuple(built.pop("seeds", ()))
        if ({**built, "seeds": recipe["seeds"]} != recipe or not group
                or not set(group) <= set(recipe["seeds"])
                or header.get("format_version") != FORMAT_VERSION):
            raise ValueError(f"{path} was built with another recipe: {header.get('recipe')} "
                             f"(format {header.get('format_version')}), not table {table!r}'s "
                             f"current {recipe} (format {FORMAT_VERSION}) or a group of its "
                             "seeds. Use another --out or delete the file.")
        if group not in groups:
            if any(set(group) & set(other) for other in groups):
                raise ValueError(f"{path}: seed group {list(group)} overlaps another group of "
                                 f"{[list(g) for g in groups]}")
            groups.append(group)
        machines.append(header.get("machine", ""))
        for row in shard_rows:
            if not len(row["val_accuracy"]) == len(row["test_accuracy"]) == len(group):
                raise ValueError(f"{path}: row of network {row['network']} has "
                                 f"{len(row['val_accuracy'])} val and {len(row['test_accuracy'])} "
                                 f"test accuracies, its header {len(group)} seeds")
            seeds = records.setdefault(row["network"], {})
            for k, seed in enumerate(group):
                seeds.setdefault(seed, (row, {"val": row["val_accuracy"][k],
                                              "test": row["test_accuracy"][k]}))
    return {"machine": "; ".join(sorted(set(machines)))}, records, groups


def collect(out_dir: str | Path, table: str) -> tuple[dict, dict[int, dict]]:
    """Every complete row of ``table`` under ``out_dir`` (every recipe seed built, in any file),
    as one row per network: accuracies in the recipe's seed order, wall and compile time summed
    over its seed groups."""
    meta, records, _ = _gather(out_dir, table)
    seeds = get_recipe(table).seeds
    rows = {}
    for n, by_seed in records.items():
        if not set(seeds) <= set(by_seed):
            continue
        parts = list({id(row): row for row, _ in by_seed.values()}.values())
        rows[n] = {**parts[0],
                   "val_accuracy": [by_seed[seed][1]["val"] for seed in seeds],
                   "test_accuracy": [by_seed[seed][1]["test"] for seed in seeds],
                   "wall_s": sum(part["wall_s"] for part in parts),
                   "compile_s": sum(part.get("compile_s", 0.0) for part in parts),
                   "finished_unix": max(part.get("finished_unix", 0.0) for part in parts)}
    return meta, rows


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
