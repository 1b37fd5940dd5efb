"""Hardware templates: what an accelerator family contributes to the simulator, and their registry.

A template is plain data plus pure functions, as an optax transformation is: the description of
its architecture (a frozen, self-validating dataclass with ``to_dict``/``from_dict``), of its
per-layer mapping (likewise, with a default), an exact ``simulate_layer``, the report type that
sums a network and the energy table its actions are priced with. :func:`sim.simulate_network`
dispatches on the architecture's type, so a new template needs no change to the simulator's
callers; :mod:`sim.registry` lists them by name. The differentiable side of a template (its
``jax.numpy`` evaluation and knob schema) lives in :mod:`dianjax.cost.template`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sim.energy import EnergyTable


@dataclasses.dataclass(frozen=True)
class Template:
    """One accelerator family, as the simulator sees it.

    Attributes:
      name: the name configs use (``config.hardware.template``).
      architecture: the architecture description class.
      mapping: the per-layer mapping description class; ``mapping()`` is the default mapping.
      simulate_layer: ``(layer, architecture, mapping, energy_table, memory_model) -> layer
        report``.
      network_report: ``(network name, architecture, layer reports) -> network report``.
      memory_models: the names of the memory models ``simulate_layer`` accepts, the default
        first.
      energy_table: the per-action table class ``simulate_layer`` prices with;
        ``energy_table()`` is the default table (:class:`sim.EnergyTable` unless a template
        names its own).
    """

    name: str
    architecture: type
    mapping: type
    simulate_layer: Callable
    network_report: Callable
    memory_models: tuple[str, ...]
    energy_table: type = EnergyTable
