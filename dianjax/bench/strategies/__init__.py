"""Co-search strategies on one interface: ``run(oracle, rng, **options) -> None`` queries
:class:`dianjax.bench.oracle.Oracle` until its budget is spent (or nothing new is left).

:data:`STRATEGIES` names them as the comparison (``experiments/compare_strategies.py``) does; the
joint search (:mod:`~dianjax.bench.strategies.joint`) pays its own way (search runs at their wall
time) and joins there.
"""

from dianjax.bench.strategies.exhaustive import exhaustive
from dianjax.bench.strategies.optuna_samplers import optuna_nsga2, optuna_tpe
from dianjax.bench.strategies.random_search import random_search
from dianjax.bench.strategies.refine import refine
from dianjax.bench.strategies.rl import rl_combined, rl_phase, rl_separate
from dianjax.bench.strategies.semi_decoupled import semi_decoupled

STRATEGIES = {
    "rl_combined": rl_combined,
    "rl_phase": rl_phase,
    "rl_separate": rl_separate,
    "semi_decoupled": semi_decoupled,
    "refine": refine,
    "random": random_search,
    "optuna_tpe": optuna_tpe,
    "optuna_nsga2": optuna_nsga2,
    "exhaustive": exhaustive,
}

__all__ = ["STRATEGIES", "exhaustive", "optuna_nsga2", "optuna_tpe", "random_search",
           "refine", "rl_combined", "rl_phase", "rl_separate", "semi_decoupled"]
