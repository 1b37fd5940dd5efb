"""The cost model at one discrete point: a derived network on a discrete hardware design."""

from __future__ import annotations

import functools

import jax
import numpy as np

from dianjax.cost.hardware_space import HardwareDesign
from dianjax.cost.registry import get_template
from sim.energy import EnergyTable
from sim.registry import template_of
from sim.workload import Network


@functools.cache
def _evaluate_jit(template_name: str):
    return jax.jit(get_template(template_name).evaluate, static_argnames="energy_table")


def design_cost(network: Network, design: HardwareDesign, table=None,
                energy_table: EnergyTable | None = None) -> dict[str, float]:
    """The cost model's network totals for a discrete (network, design) pair.

    Args:
      network: a derived network (:class:`sim.Network`) of the supernet of ``table``.
      design: a :class:`~dianjax.cost.hardware_space.HardwareDesign` (accelerator and mappings).
      table: the :class:`~dianjax.nas.search_space.LayerTable` that gives each layer its slot;
        ``None``: every layer is its own slot (``design.fold_orders`` by layer name).
      energy_table: ``None`` is sim's default table.

    Returns:
      ``latency_s``, ``energy_pj``, ``area_mm2``, ``edp_pj_s``, ``edap_pj_s_mm2`` and the template's
      other totals.
    """
    if not isinstance(network, Network):
        raise ValueError(f"network must be a sim.Network, got {type(network).__name__}")
    if not isinstance(design, HardwareDesign):
        raise ValueError(f"design must be a dianjax.cost.HardwareDesign, "
                         f"got {type(design).__name__}")
    name = template_of(design.accelerator).name
    template = get_template(name)
    orders = np.array([template.mapping_index(choice)
                       for choice in design.layer_choices(network, table).values()], np.int32)
    report = _evaluate_jit(name)(template.layer_arrays(network),
                                 template.architecture_arrays(design.accelerator), orders,
                                 energy_table=energy_table)
    return {key: float(value) for key, value in template.network_cost(report).items()}
