"""dianjax.analysis: Pareto fronts, hypervolumes and plots of search, refinement and sweep
results."""
