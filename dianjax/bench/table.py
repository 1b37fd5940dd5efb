"""A benchmark table: every network of a space trained with one recipe, per seed; load and query it.

The file is JSON (``format_version`` :data:`FORMAT_VERSION`): the table's name, its recipe, the
space's op names, the machine it was built on, one row per network in the order of
:func:`dianjax.bench.networks.enumerate_networks` (op indices and names, parameter and MAC counts,
search_val and test accuracy per seed, wall time), and optionally the exact hardware side
(``hardware``: the priced space and the true Pareto fronts, :mod:`dianjax.bench.fronts`).
Bundled tables live in the package (``dianjax/bench/data/<name>.json``) and load by name with
:func:`load`.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
from pathlib import Path

import numpy as np

from dianjax.bench.recipe import Recipe
from sim import checks

FORMAT_VERSION = 1
DATA_PACKAGE = "dianjax.bench.data"


@dataclasses.dataclass(frozen=True, eq=False)
class BenchTable:
    """The rows of a table as arrays (N networks, S seeds), with its recipe.

    ``wall_s[n]`` is what building row ``n`` took (all seeds' training and evaluation; the build's
    one compilation per worker is not in it);
    :attr:`train_s` is the share of one seed, what a strategy is charged to train the network once.
    """

    name: str
    recipe: Recipe
    op_names: tuple[str, ...]
    networks: np.ndarray        # int[N, L] op columns
    num_params: np.ndarray      # int[N]
    macs: np.ndarray            # int[N]
    val_accuracy: np.ndarray    # float[N, S]
    test_accuracy: np.ndarray   # float[N, S]
    wall_s: np.ndarray          # float[N]
    machine: str
    hardware: dict | None = None

    @property
    def num_networks(self) -> int:
        return len(self.networks)

    @property
    def val_mean(self) -> np.ndarray:
        return self.val_accuracy.mean(axis=1)

    @property
    def val_sd(self) -> np.ndarray:
        return _sd(self.val_accuracy)

    @property
    def test_mean(self) -> np.ndarray:
        return self.test_accuracy.mean(axis=1)

    @property
    def test_sd(self) -> np.ndarray:
        return _sd(self.test_accuracy)

    @property
    def train_s(self) -> np.ndarray:
        return self.wall_s / self.val_accuracy.shape[1]

    def index(self, ops) -> int:
        """The row of the network with op names (or op columns) ``ops``, one per layer."""
        columns = [self.op_names.index(op) if op in self.op_names else op for op in ops]
        known = len(columns) == self.networks.shape[1] and all(
            isinstance(c, (int, np.integer)) for c in columns)
        matches = (np.flatnonzero((self.networks == np.asarray(columns)).all(axis=1)) if known
                   else [])
        if not len(matches):
            raise ValueError(f"network {list(ops)} is not a row of table {self.name!r}; ops per "
                             f"layer are names of {list(self.op_names)}")
        return int(matches[0])

    def row(self, n: int) -> dict:
        """Row ``n`` as plain data (what the JSON file holds, plus means and sds)."""
        return {"network": int(n), "ops": [self.op_names[k] for k in self.networks[n]],
                "num_params": int(self.num_params[n]), "macs": int(self.macs[n]),
                "val_accuracy": self.val_accuracy[n].tolist(),
                "test_accuracy": self.test_accuracy[n].tolist(),
                "val_mean": float(self.val_mean[n]), "val_sd": float(self.val_sd[n]),
                "test_mean": float(self.test_mean[n]), "test_sd": float(self.test_sd[n]),
                "wall_s": float(self.wall_s[n])}

    def separability(self, split: str = "val") -> dict[str, float]:
        """:func:`separability` of the table's ``split`` ("val" or "test") accuracies."""
        checks.one_of("separability", "split", split, ("val", "test"))
        return separability(self.val_accuracy if split == "val" else self.test_accuracy)

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "name": self.name,
                "recipe": self.recipe.to_dict(), "op_names": list(self.op_names),
                "machine": self.machine,
                "rows": [{key: value for key, value in self.row(n).items()
                          if key not in ("val_mean", "val_sd", "test_mean", "test_sd")}
                         | {"op_indices": self.networks[n].tolist()}
                         for n in range(self.num_networks)],
                "hardware": self.hardware}

    @classmethod
    def from_json(cls, content: dict, source: str = "table") -> BenchTable:
        version = content.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{source}: format_version {version!r} is not the supported "
                             f"{FORMAT_VERSION}; rebuild it with `dianjax bench build`")
        rows = sorted(content["rows"], key=lambda r: r["network"])
        if [r["network"] for r in rows] != list(range(len(rows))):
            raise ValueError(f"{source}: rows must be networks 0..N-1 without gaps")
        return cls(name=content["name"], recipe=Recipe.from_dict(content["recipe"]),
                   op_names=tuple(content["op_names"]),
                   networks=np.array([r["op_indices"] for r in rows], np.int64),
                   num_params=np.array([r["num_params"] for r in rows], np.int64),
                   macs=np.array([r["macs"] for r in rows], np.int64),
                   val_accuracy=np.array([r["val_accuracy"] for r in rows], np.float64),
                   test_accuracy=np.array([r["test_accuracy"] for r in rows], np.float64),
                   wall_s=np.array([r["wall_s"] for r in rows], np.float64),
                   machine=content.get("machine", ""), hardware=content.get("hardware"))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=None, separators=(",", ":"))
                              + "\n")

    def with_hardware(self, hardware: dict) -> BenchTable:
        return dataclasses.replace(self, hardware=hardware)


def separability(values: np.ndarray) -> dict[str, float]:
    """Whether accuracies ``values[network, seed]`` tell networks apart: the spread of the network
    means (sd across networks, and range) against the seed noise of one mean (median per-network
    seed sd / sqrt(S)). ``ratio >= 3`` is the bar for "clearly separable"."""
    values = np.asarray(values, np.float64)
    means, seeds = values.mean(axis=1), values.shape[1]
    seed_sd = float(np.median(_sd(values)))
    sd_of_mean = seed_sd / np.sqrt(seeds)
    between = float(means.std(ddof=1)) if len(means) > 1 else 0.0
    return {"between_network_sd": between, "range": float(means.max() - means.min()),
            "median_seed_sd": seed_sd, "seed_sd_of_mean": float(sd_of_mean),
            "ratio": between / sd_of_mean if sd_of_mean > 0 else float("inf"),
            "seeds": seeds, "networks": len(means)}


def _sd(values: np.ndarray) -> np.ndarray:
    return values.std(axis=1, ddof=1) if values.shape[1] > 1 else np.zeros(len(values))


def bundled_tables() -> tuple[str, ...]:
    """Names of the tables shipped in the package."""
    folder = importlib.resources.files(DATA_PACKAGE)
    return tuple(sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".json")))


def load(name_or_path: str | Path) -> BenchTable:
    """A bundled table by name (``dianjax.bench.load("quickstart_digits")``) or a table file."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        return BenchTable.from_json(json.loads(path.read_text()), str(path))
    names = bundled_tables()
    checks.one_of("dianjax.bench.load", "name", str(name_or_path), names)
    resource = importlib.resources.files(DATA_PACKAGE) / f"{name_or_path}.json"
    return BenchTable.from_json(json.loads(resource.read_text()), f"table {name_or_path!r}")


def table_for(dataset: str, space: str) -> str | None:
    """The bundled table of ``dataset`` x ``space`` (its recipe's), or None if none is bundled."""
    from dianjax.bench.recipe import TABLES

    bundled = set(bundled_tables())
    return next((name for name, recipe in TABLES.items()
                 if name in bundled and (recipe.dataset, recipe.space) == (dataset, space)), None)
