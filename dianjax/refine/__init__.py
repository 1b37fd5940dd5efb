"""dianjax.refine: BOSHCODE-style refinement of a search's (network, accelerator) pairs.

The pipeline, one module per stage:

- :mod:`~dianjax.refine.encoding`: designs as integer choices, embedded in the unit cube;
- :mod:`~dianjax.refine.pair_space`: the (network, accelerator) pairs of a search and their oracles
  (the exact simulator, short trainings);
- :mod:`~dianjax.refine.surrogate`: the heteroscedastic surrogate ensemble;
- :mod:`~dianjax.refine.acquisition`: upper-confidence-bound ascent with Newton-type steps in the
  embedding, snapped back to valid designs;
- :mod:`~dianjax.refine.loop`: the query loop (resumable log, outputs, plot);
- :mod:`~dianjax.refine.cli`: ``dianjax refine --from RUN_DIR``.
"""

from dianjax.refine.loop import (LOG_NAME, SEED_MOVE, Objective, Record, RefineConfig, RefineResult,
                                 iterate_refine, plot_refine, read_log, run_refine, seed_designs_of,
                                 summarize, write_outputs)

__all__ = [
    "LOG_NAME",
    "SEED_MOVE",
    "Objective",
    "Record",
    "RefineConfig",
    "RefineResult",
    "iterate_refine",
    "plot_refine",
    "read_log",
    "run_refine",
    "seed_designs_of",
    "summarize",
    "write_outputs",
]
