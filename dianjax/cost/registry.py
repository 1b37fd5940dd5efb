"""The cost model's hardware templates by name (``config.hardware.template``)."""

from __future__ import annotations

from dianjax.cost import crossbar, loopnest_template, systolic
from dianjax.cost.template import CostTemplate

TEMPLATES: dict[str, CostTemplate] = {template.name: template for template in (
    systolic.TEMPLATE, crossbar.TEMPLATE, loopnest_template.TEMPLATE)}
TEMPLATE_NAMES = tuple(TEMPLATES)


def get_template(name: str) -> CostTemplate:
    """The template called ``name``; a ValueError listing the known names otherwise."""
    if name not in TEMPLATES:
        raise ValueError(f"hardware template must be one of {list(TEMPLATES)}, got {name!r}")
    return TEMPLATES[name]
