"""Co-search strategies on one interface: ``run(oracle, rng, **options) -> None`` queries
:class:`dianjax.bench.oracle.Oracle` until its budget is spent (or nothing new is left).

:data:`STRATEGIES` names them as the comparison (``experiments/compare_strategies.py``) does.
"""

from dianjax.bench.strategies.exhaustive import exhaustive
from dianjax.bench.strategies.optuna_samplers import optuna_nsga2, optuna_tpe
from dianjax.bench.strategies.random_search import random_search
from dianjax.bench.strategies.rl import rl_combined, rl_phase, rl_separate
from dianjax.bench.strategies.semi_decoupled import semi_decoupled

STRATEGIES = {
    "rl_combined": rl_combined,
    "rl_phase": rl_phase,
    "rl_separate": rl_separate,
    "semi_decoupled": semi_decoupled,
    "random": random_search,
    "optuna_tpe": optuna_tpe,
    "optuna_nsga2": optuna_nsga2,
    "exhaustive": exhaustive,
}

__all__ = ["STRATEGIES", "exhaustive", "optuna_nsga2", "optuna_tpe", "random_search",
           "rl_combined", "rl_phase", "rl_separate", "semi_decoupled"]
