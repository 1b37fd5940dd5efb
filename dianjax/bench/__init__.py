"""dianjax.bench: the co-design benchmark: every network of a space trained (the table), every pair
priced exactly, the true Pareto fronts, and co-search strategies compared on them at equal budget.

``dianjax.bench.load("quickstart_digits")`` returns the bundled table (:class:`BenchTable`).
"""

from dianjax.bench.table import BenchTable, load

__all__ = ["BenchTable", "load"]
