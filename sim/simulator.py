"""The simulator's entry points: a layer or a network on any registered hardware template.

The accelerator's type picks its template (:mod:`sim.registry`); the template's ``simulate_layer``
does the work (for the systolic array: :mod:`sim.systolic.simulator`, the pipeline lowering ->
fold schedule -> memory -> energy; for crossbars: :mod:`sim.crossbar.simulator`). Inputs are
checked here, once, before any simulation; a missing energy table is the template's default.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType

from sim import checks
from sim.registry import template_of
from sim.template import Template
from sim.workload import Layer, Network


def _table(template: Template, energy_table: object):
    """``energy_table``, or the template's default table if None; it must be the template's kind."""
    table = template.energy_table() if energy_table is None else energy_table
    if not isinstance(table, template.energy_table):
        wanted = f"sim.{template.energy_table.__name__} or None"
        got = f"{type(table).__name__} (the {template.name!r} template's table)"
        raise ValueError(f"energy_table must be a {wanted}, got {got}")  # noqa: TRY004
    return table


def _mapping(template: Template, mapping: object, where: str = "mapping"):
    if mapping is None:
        return template.mapping()
    if not isinstance(mapping, template.mapping):
        raise ValueError(f"{where} must be a sim.{template.mapping.__name__} or None (the "
                         f"{template.name!r} template's mapping), got {type(mapping).__name__}")
    return mapping


def _memory_model(template: Template, memory_model: object, owner: str) -> str:
    if memory_model is None:
        return template.memory_models[0]
    return checks.one_of(owner, "memory_model", memory_model, template.memory_models)


def simulate_layer(layer: Layer, accelerator, mapping=None, energy_table=None,
                   memory_model: str | None = None):
    """Cycles, memory accesses, energy, latency and area of one layer.

    Args:
      layer: the workload.
      accelerator: the architecture of a registered template (e.g. :class:`sim.Accelerator`).
      mapping: the template's mapping of this layer; ``None`` is the template's default.
      energy_table: per-action energies and areas, of the template's table class
        (``Template.energy_table``: :class:`sim.EnergyTable` for the systolic array,
        :class:`sim.CrossbarEnergyTable` for crossbars); ``None`` is the template's default table.
      memory_model: one of the template's memory models (``Template.memory_models``; for the
        systolic array "ours", the default, or "scalesim"); ``None`` is the default.

    Returns:
      the template's layer report (:class:`sim.LayerReport` for the systolic array).
    """
    if not isinstance(layer, Layer):
        raise ValueError(f"layer must be a sim.Layer, got {type(layer).__name__}")
    template = template_of(accelerator)
    table = _table(template, energy_table)
    model = _memory_model(template, memory_model, "simulate_layer")
    return template.simulate_layer(layer, accelerator, _mapping(template, mapping), table, model)


def simulate_network(network: Network, accelerator, mappings=None, energy_table=None,
                     memory_model: str | None = None):
    """Simulates every layer of ``network`` in order on ``accelerator``.

    Args:
      network: the workload.
      accelerator: the architecture of a registered template.
      mappings: one mapping for every layer, or a dict from layer name to mapping (layers not named
        get the template's default), or ``None`` for the default everywhere.
      energy_table: as :func:`simulate_layer`.
      memory_model: as :func:`simulate_layer`.
    """
    if not isinstance(network, Network):
        raise ValueError(f"network must be a sim.Network, got {type(network).__name__}")
    template = template_of(accelerator)
    table = _table(template, energy_table)
    model = _memory_model(template, memory_model, "simulate_network")
    per_layer = _layer_mappings(template, network, mappings)
    reports = tuple(template.simulate_layer(layer, accelerator, per_layer[layer.name], table,
                                            model)
                    for layer in network)
    return template.network_report(network.name, accelerator, reports)


def _layer_mappings(template: Template, network: Network, mappings) -> dict:
    names = [layer.name for layer in network]
    if mappings is None or isinstance(mappings, template.mapping):
        return dict.fromkeys(names, _mapping(template, mappings))
    if not isinstance(mappings, MappingType):
        raise ValueError(f"mappings must be a sim.{template.mapping.__name__}, a dict of them by "
                         f"layer name or None, got {type(mappings).__name__}")
    unknown = sorted(set(mappings) - set(names))
    if unknown:
        raise ValueError(f"mappings names unknown layer(s) {unknown}; allowed: layers of "
                         f"{network.name!r}: {names}")
    return {name: _mapping(template, mappings.get(name), f"mappings[{name!r}]") for name in names}
