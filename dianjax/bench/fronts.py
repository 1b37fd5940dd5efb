"""The exact hardware side of a table: its co-design problems and true Pareto fronts.

From a table (each network's search_val accuracy, mean over seeds) and the prices of every
(network, accelerator) pair (:mod:`dianjax.bench.prices`), one
:class:`~dianjax.bench.oracle.Problem` per cost metric and its true front of (val accuracy max,
cost min). The fronts of :data:`METRICS` are stored with the table (``hardware`` section) with each
front point's network, accelerator and test accuracy, so a reader needs neither JAX nor the
6-million-pair prices to use them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from dianjax.bench.networks import layer_options
from dianjax.bench.oracle import Problem
from dianjax.bench.prices import Prices, StalePricesFile, price_networks, stale_reason
from dianjax.bench.quality import true_front
from dianjax.bench.table import BenchTable
from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas.search_space import get_space

METRICS = ("edp_pj_s", "latency_s", "energy_pj", "area_mm2")  # one true front each


def table_prices(table: BenchTable, path: str | Path | None = None,
                 hardware: HardwareSpace | None = None) -> Prices:
    """The prices of every pair of ``table`` x ``hardware`` (default space): read from ``path`` if
    it holds them for today's cost model, else computed (about a minute on a 2-core CPU) and
    written there (a cache made by another cost model or file format is replaced, with a note)."""
    space = get_space(table.recipe.space)
    hardware = HardwareSpace() if hardware is None else hardware
    prices = None
    if path is not None and Path(path).exists():
        try:
            prices = Prices.load(path, space=space, hardware=hardware)
            reason = stale_reason(prices)
        except StalePricesFile as error:
            reason = str(error)
        if reason is not None:
            print(f"note: {path}: {reason}; repricing", file=sys.stderr)
            prices = None
    if prices is None:
        prices = price_networks(space, hardware, table.networks)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            prices.save(path)
    if not np.array_equal(prices.networks, table.networks):
        raise ValueError(f"{path}: prices of other networks than table {table.name!r}'s rows")
    return prices


def problem(table: BenchTable, prices: Prices, metric: str) -> Problem:
    """The co-design problem of ``table`` x ``prices`` with cost ``metric`` (a Metrics field).

    ``price_s`` is the table's recorded one when the table was priced on the same hardware space
    (like ``train_s``, measured once on the build machine), so budgets do not move with the
    machine or the load that recomputed the prices cache; else the cache's own measurement.
    """
    hardware = prices.hardware
    price_s = prices.price_s
    if table.hardware is not None and table.hardware["hardware_space"] == hardware.to_dict():
        price_s = float(table.hardware["price_s"])
    return Problem(
        network_choices=tuple(len(o) for o in layer_options(get_space(table.recipe.space))),
        accelerator_choices=tuple(len(choices) for _, choices in hardware.choices()),
        accuracy=table.val_mean, cost=prices.metric(metric), train_s=table.train_s,
        price_s=price_s, metric=metric)


def hardware_section(table: BenchTable, prices: Prices) -> dict:
    """What the table stores of its hardware side: the space, ``price_s`` and the true fronts."""
    hardware = prices.hardware
    knobs = [knob for knob, _ in hardware.choices()]
    fronts = {}
    for metric in METRICS:
        front = true_front(problem(table, prices, metric))
        points = []
        for n, a, cost in zip(front.networks, front.accelerators, front.cost):
            accelerator = hardware.accelerator(dict(zip(knobs, np.unravel_index(
                a, [len(c) for _, c in hardware.choices()]))))
            points.append({"network": int(n), "ops": table.row(n)["ops"],
                           "accelerator_index": int(a),
                           "accelerator": {k: getattr(accelerator, k) for k in knobs},
                           "val_mean": float(table.val_mean[n]),
                           "test_mean": float(table.test_mean[n]), metric: float(cost)})
        fronts[metric] = points
    return {"hardware_space": hardware.to_dict(), "price_s": prices.price_s,
            "num_accelerators": hardware.num_accelerators, "fronts": fronts}
