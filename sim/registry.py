"""The hardware templates by name (``config.hardware.template``): one entry per accelerator
family."""

from __future__ import annotations

from sim import crossbar, loopnest, systolic
from sim.template import Template

TEMPLATES: dict[str, Template] = {template.name: template
                                  for template in (systolic.TEMPLATE, crossbar.TEMPLATE,
                                                  loopnest.TEMPLATE)}


def get_template(name: str) -> Template:
    """The template called ``name``; a ValueError listing the known names otherwise."""
    if name not in TEMPLATES:
        raise ValueError(f"hardware template must be one of {sorted(TEMPLATES)}, got {name!r}")
    return TEMPLATES[name]


def template_of(architecture: object) -> Template:
    """The template whose architecture class ``architecture`` is an instance of."""
    for template in TEMPLATES.values():
        if isinstance(architecture, template.architecture):
            return template
    names = " or ".join(sorted(f"sim.{t.architecture.__name__}" for t in TEMPLATES.values()))
    raise ValueError(f"accelerator must be a {names} (a hardware template's architecture), "
                     f"got {type(architecture).__name__}")
