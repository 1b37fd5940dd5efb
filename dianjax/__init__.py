"""dianjax: joint differentiable search of a CNN and the accelerator that runs it, in JAX."""

__version__ = "0.1.0"
