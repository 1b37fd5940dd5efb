"""Exact prices of every (network, accelerator) pair of a co-design benchmark: its hardware side.

For every network of a search space (the rows of ``networks``, op columns as
:func:`dianjax.bench.networks.enumerate_networks` gives them) and every accelerator of a hardware
space (in :meth:`HardwareSpace.accelerators` order), the network's latency (s), energy (pJ), EDP
(pJ s) and EDAP (pJ s mm^2) on the accelerator with its best mapping, and the accelerator's area
(mm^2). The figures come from the cost model (:mod:`dianjax.cost`) in 64-bit mode, where it equals
``sim.simulate_network``.

The mapping. Every conv of a network runs in its own mapping slot (as
:func:`dianjax.nas.search_space.layer_table` assigns them), whose fold order (one of
``hardware.mapping_choices``) is chosen per pair and per metric:

- ``latency_s``: every conv takes the fold order of least latency. Network latency is a sum over
  convs, so this is the least latency over all fold-order assignments.
- ``energy_pj``: every conv takes the fold order of least energy; likewise the least energy.
- ``edp_pj_s``: the least network EDP (network latency x network energy) of three assignments:
  (a) every conv takes the fold order of least latency x energy of that conv, (b) the latency-best
  assignment, (c) the energy-best assignment. EDP is not a sum over convs, so this could exceed the
  least EDP over all ``U^L`` assignments; it equals it whenever every conv has a fold order best in
  both its latency and its energy (then (a) is that assignment). In sim's systolic model that has
  held everywhere we looked: no (conv, accelerator) with a latency/energy trade-off between fold
  orders, and no gap in the brute force over all assignments of tests/bench/test_prices.py.
- ``edap_pj_s_mm2``: ``edp_pj_s x area_mm2`` (the area does not depend on the mapping).

Ties go to the first mapping choice.

How: every distinct conv of the layer table (the fixed layers and every (layer, op) conv) is
evaluated once on every accelerator under every fold order, by one jitted function over chunks of
accelerators; a network's latency and energy are sums of its convs' figures (a 0/1 matrix product).

A cache of prices is only as good as the cost model that made it: :class:`Prices` keeps a *probe*,
every conv's figures on the first and the last accelerator, and :func:`stale_reason` recomputes the
probe with today's cost model, so a change to the memory or energy model is caught on load instead
of silently scoring strategies against old fronts (:func:`dianjax.bench.fronts.table_prices` then
reprices).

``price_s`` is what a search strategy pays per pair it prices (:mod:`dianjax.bench.oracle`): the
median wall time of one steady-state :func:`dianjax.cost.design_cost` call (64-bit mode) on the
first network and the first accelerator of the space.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from dianjax.cost.best_design import best_fold_orders
from dianjax.cost.discrete import design_cost
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.cost.objectives import Metrics
from dianjax.cost.registry import get_template
from dianjax.cost.relaxed import space_indices
from dianjax.nas.search_space import (
    SPACES,
    LayerTable,
    SearchSpace,
    get_space,
    layer_table,
)
from sim import checks

FORMAT_VERSION = 2
"""Version of the ``.npz`` layout written by :meth:`Prices.save` (2: with the cost-model probe)."""

_CHUNK = 1024          # accelerators per jitted call at most (the last chunk is padded)
_WARMUP_CALLS = 5      # design_cost calls before timing price_s
_TIMED_CALLS = 50      # design_cost calls timed for price_s (their median)
_PAIR_ARRAYS = ("latency_s", "energy_pj", "edp_pj_s", "edap_pj_s_mm2")


class StalePricesFile(ValueError):
    """A prices file written in another format version: recompute it."""


class _ConvPrices(NamedTuple):
    """Per accelerator and conv (float[A, C]): latency and energy under the fold order that
    minimizes latency, energy and latency x energy of that conv; the area (float[A])."""

    latency_at_latency: jax.Array
    energy_at_latency: jax.Array
    latency_at_energy: jax.Array
    energy_at_energy: jax.Array
    latency_at_product: jax.Array
    energy_at_product: jax.Array
    area_mm2: jax.Array


@functools.cache
def _conv_prices_jit(template_name: str):
    """The jitted ``(convs, stacked accelerators, fold orders) -> _ConvPrices`` of a template."""
    evaluate = get_template(template_name).evaluate

    def one_accelerator(convs, accelerator, orders) -> _ConvPrices:
        report = jax.vmap(lambda order: evaluate(convs, accelerator, order, None))(orders)
        latency, energy = report.latency_s, report.energy_pj                  # [U, C]

        def at(best):
            return (jnp.take_along_axis(latency, best[None], axis=0)[0],
                    jnp.take_along_axis(energy, best[None], axis=0)[0])

        by_latency, by_energy, by_product = best_fold_orders(latency, energy, axis=0)
        return _ConvPrices(*at(by_latency), *at(by_energy), *at(by_product),
                           area_mm2=report.area_mm2[0])

    return jax.jit(jax.vmap(one_accelerator, in_axes=(None, 0, None)))


def _space_name(space: SearchSpace) -> str:
    """The registered name of ``space`` (``get_space(name, space.num_classes) == space``), or
    ``"custom"``."""
    return next((name for name in SPACES if get_space(name, space.num_classes) == space), "custom")


@dataclasses.dataclass(frozen=True, eq=False)
class Prices:
    """Every (network, accelerator) pair's exact figures (module docstring for the mapping rule).

    Attributes:
      space: the search space of the networks.
      hardware: the hardware space; accelerator ``a`` is ``list(hardware.accelerators())[a]``.
      networks: int[N, L] the op column of every searchable layer of every network (row).
      latency_s, energy_pj, edp_pj_s, edap_pj_s_mm2: float64[N, A].
      area_mm2: float64[A].
      price_s: seconds charged per priced pair (module docstring).
      probe: float64[P] the cost model's figures of every conv of the space on the first and the
        last accelerator (:func:`cost_probe`), to tell a stale cache (module docstring).
    """

    space: SearchSpace
    hardware: HardwareSpace
    networks: np.ndarray
    latency_s: np.ndarray
    energy_pj: np.ndarray
    area_mm2: np.ndarray
    edp_pj_s: np.ndarray
    edap_pj_s_mm2: np.ndarray
    price_s: float
    probe: np.ndarray

    def __post_init__(self):
        owner = "Prices"
        if not isinstance(self.space, SearchSpace):
            raise ValueError(f"{owner}.space must be a SearchSpace, "
                             f"got {type(self.space).__name__}")
        if not isinstance(self.hardware, HardwareSpace):
            raise ValueError(f"{owner}.hardware must be a HardwareSpace, "
                             f"got {type(self.hardware).__name__}")
        networks = np.asarray(self.networks, np.int64)
        object.__setattr__(self, "networks", networks)
        if networks.ndim != 2 or networks.shape[1] != self.space.num_layers:
            raise ValueError(f"{owner}.networks must have shape (N, {self.space.num_layers}), "
                             f"got {networks.shape}")
        shape = (len(networks), self.hardware.num_accelerators)
        for field, expected in (*((f, shape) for f in _PAIR_ARRAYS), ("area_mm2", shape[1:])):
            array = np.asarray(getattr(self, field), np.float64)
            object.__setattr__(self, field, array)
            if array.shape != expected:
                raise ValueError(f"{owner}.{field} must have shape {expected}, got {array.shape}")
        checks.number_in(owner, "price_s", self.price_s, 0, math.inf, high_open=True)
        object.__setattr__(self, "probe", np.asarray(self.probe, np.float64).reshape(-1))

    def metric(self, name: str) -> np.ndarray:
        """float64[N, A] of a metric field (:class:`dianjax.cost.Metrics`); the area broadcast."""
        if name not in Metrics._fields:
            raise ValueError(f"metric must be one of {list(Metrics._fields)}, got {name!r}")
        if name == "area_mm2":
            return np.broadcast_to(self.area_mm2, self.latency_s.shape)
        return getattr(self, name)

    def save(self, path: str | Path) -> None:
        """Writes an ``.npz`` with :data:`FORMAT_VERSION`, the spaces (JSON) and every array."""
        np.savez(path, format_version=FORMAT_VERSION, space_name=_space_name(self.space),
                 space=json.dumps(dataclasses.asdict(self.space)),
                 hardware=json.dumps(self.hardware.to_dict()), networks=self.networks,
                 price_s=self.price_s, probe=self.probe,
                 **{field: getattr(self, field) for field in (*_PAIR_ARRAYS, "area_mm2")})

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | None = None,
             hardware: HardwareSpace | None = None) -> Prices:
        """Reads :meth:`save`'s file; a ValueError if its format version differs from
        :data:`FORMAT_VERSION` or its spaces from ``space`` / ``hardware`` (where given)."""
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise StalePricesFile(f"{path} has prices format version {version}; this code reads "
                                 f"version {FORMAT_VERSION}: rebuild it with price_networks")
            stored_space = SearchSpace(**json.loads(str(data["space"])))
            stored_hardware = HardwareSpace.from_config(json.loads(str(data["hardware"])))
            if space is not None and stored_space != space:
                raise ValueError(f"{path} holds prices of search space {str(data['space_name'])!r} "
                                 f"({stored_space}), not of the expected {_space_name(space)!r} "
                                 f"({space})")
            if hardware is not None and stored_hardware != hardware:
                raise ValueError(f"{path} holds prices of the hardware space {stored_hardware}, "
                                 f"not of the expected {hardware}")
            arrays = {field: data[field]
                      for field in (*_PAIR_ARRAYS, "area_mm2", "networks", "probe")}
            return cls(space=stored_space, hardware=stored_hardware,
                       price_s=float(data["price_s"]), **arrays)


def _all_convs(table: LayerTable) -> tuple:
    """Every distinct conv of ``table``: the fixed layers, then every (layer, op) conv."""
    return (*table.fixed, *(conv for row in table.choices for op in row for conv in op))


def _membership(table: LayerTable, networks: np.ndarray) -> tuple[tuple, np.ndarray]:
    """Every distinct conv of ``table`` and float64[N, C]: 1 where network n runs conv c.

    ValueError for an unavailable op (from :meth:`LayerTable.network`) or a network with two convs
    in one mapping slot (the per-conv fold-order choice needs one conv per slot).
    """
    convs = _all_convs(table)
    index = {conv.name: c for c, conv in enumerate(convs)}
    member = np.zeros((len(networks), len(convs)), np.float64)
    for n, row in enumerate(networks):
        network = table.network(row)
        slots = [table.slot_of(layer.name) for layer in network]
        if len(set(slots)) != len(slots):
            raise ValueError(f"networks[{n}] runs two convs in one mapping slot ({slots}); prices "
                             "need one conv per slot")
        member[n, [index[layer.name] for layer in network]] = 1.0
    return convs, member


def _price_seconds(table: LayerTable, hardware: HardwareSpace, network) -> float:
    """Median wall time of a steady-state design_cost call (call it in 64-bit mode)."""
    design = HardwareDesign(hardware.base_accelerator(),
                            dict.fromkeys(table.mapping_slots, hardware.mapping_choices[0]))
    for _ in range(_WARMUP_CALLS):
        design_cost(network, design, table)
    seconds = []
    for _ in range(_TIMED_CALLS):
        start = time.perf_counter()
        design_cost(network, design, table)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def price_networks(space: SearchSpace, hardware: HardwareSpace, networks: np.ndarray,
                   progress: bool = True) -> Prices:
    """Prices every (network, accelerator) pair exactly, each with its best mapping.

    Args:
      space: the search space; its :func:`layer_table` (batch 1) gives each network's convs.
      hardware: the hardware space (every accelerator, every mapping choice).
      networks: int[N, space.num_layers] op columns (e.g. ``enumerate_networks(space)``).
      progress: show a tqdm bar over the chunks of accelerators.

    Returns:
      :class:`Prices` (the mapping rule and ``price_s`` in the module docstring).
    """
    if not isinstance(space, SearchSpace):
        raise ValueError(f"space must be a SearchSpace, got {type(space).__name__}")
    if not isinstance(hardware, HardwareSpace):
        raise ValueError(f"hardware must be a HardwareSpace, got {type(hardware).__name__}")
    networks = np.asarray(networks)
    if networks.ndim != 2 or networks.shape[1] != space.num_layers or not len(networks) \
            or not np.issubdtype(networks.dtype, np.integer):
        raise ValueError(f"networks must be an int array of shape (N >= 1, {space.num_layers}), "
                         f"got {networks.dtype}{list(networks.shape)}")
    table = layer_table(space)
    convs, member = _membership(table, networks)
    indices = space_indices(hardware)
    with jax.enable_x64(True):
        per_conv = _price_convs(convs, hardware, indices, progress)
        price_s = _price_seconds(table, hardware, table.network(networks[0]))

    def total(per_accelerator_conv):                  # float[A, C] -> float64[N, A]
        return member @ per_accelerator_conv.T

    latency = total(per_conv.latency_at_latency)
    energy = total(per_conv.energy_at_energy)
    edp = np.minimum.reduce([
        total(per_conv.latency_at_product) * total(per_conv.energy_at_product),
        latency * total(per_conv.energy_at_latency),
        total(per_conv.latency_at_energy) * energy])
    return Prices(space=space, hardware=hardware, networks=networks, latency_s=latency,
                  energy_pj=energy, area_mm2=per_conv.area_mm2, edp_pj_s=edp,
                  edap_pj_s_mm2=edp * per_conv.area_mm2, price_s=price_s,
                  probe=_probe_of(_ConvPrices(*(np.asarray(x)[[0, -1]] for x in per_conv))))


def _price_convs(convs, hardware: HardwareSpace, indices: np.ndarray, progress: bool) -> _ConvPrices:
    """Every conv's figures (:class:`_ConvPrices`, float64) on the accelerators ``indices`` (choice
    indices, :func:`space_indices` rows), in jitted chunks; call under 64-bit mode."""
    template = hardware.template
    tables = template.knob_tables(hardware)
    size = min(_CHUNK, len(indices))
    conv_arrays = template.layer_arrays(convs)
    orders = np.array([template.mapping_index(c) for c in hardware.mapping_choices], np.int32)
    price = _conv_prices_jit(template.name)
    chunks = []
    for start in tqdm.tqdm(range(0, len(indices), size), disable=not progress, desc="prices",
                           unit="chunk"):
        chunk = indices[start:start + size]
        padded = np.pad(chunk, ((0, size - len(chunk)), (0, 0)), mode="edge")
        result = price(conv_arrays, template.gather(tables, padded, np), orders)
        chunks.append(_ConvPrices(*(np.asarray(x)[:len(chunk)] for x in result)))
    return _ConvPrices(*(np.concatenate(column) for column in zip(*chunks)))


def _probe_of(per_conv: _ConvPrices) -> np.ndarray:
    return np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in per_conv])


def cost_probe(space: SearchSpace, hardware: HardwareSpace) -> np.ndarray:
    """float64[P]: today's cost model on every conv of ``space`` and the first and the last
    accelerator of ``hardware`` (what :attr:`Prices.probe` holds when the prices are fresh)."""
    convs = _all_convs(layer_table(space))
    indices = space_indices(hardware)[[0, -1]]
    with jax.enable_x64(True):
        return _probe_of(_price_convs(convs, hardware, indices, progress=False))


def stale_reason(prices: Prices) -> str | None:
    """Why ``prices`` no longer match today's cost model (its probe differs), or None."""
    today = cost_probe(prices.space, prices.hardware)
    if today.shape != prices.probe.shape or not np.allclose(today, prices.probe, rtol=1e-9,
                                                            atol=0):
        worst = (np.max(np.abs(today / prices.probe - 1)) if today.shape == prices.probe.shape
                 else math.inf)
        return (f"the cost model has changed since these prices were computed (probe figures "
                f"differ by up to {worst:.3g} relative)")
    return None
