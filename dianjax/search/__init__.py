"""dianjax.search: the joint differentiable co-search of a network and its accelerator.

- :mod:`~dianjax.search.config`: defaults, validation of every field, the static setup;
- :mod:`~dianjax.search.steps`: the pure, jitted weight and logit steps and their phases (modes);
- :mod:`~dianjax.search.loop`: data, keys, checkpoints, logging around the steps (``run_search``)
  and ``dianjax search``;
- :mod:`~dianjax.search.result`: discretization, exact simulation and ``result.json``.
"""

from dianjax.search.config import MODES, SearchSetup, base_config, make_setup
from dianjax.checkpoints import CONFIG_FILE
from dianjax.search.loop import run_search
from dianjax.search.result import RESULT_FILE

__all__ = ["CONFIG_FILE", "MODES", "RESULT_FILE", "SearchSetup", "base_config", "make_setup",
           "run_search"]
