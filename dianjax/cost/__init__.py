"""dianjax.cost: the differentiable accelerator cost model, importable on its own.

Three layers, each usable alone (see the modules for the models, conventions and units):

- :mod:`dianjax.cost.systolic`, discrete and exact: :func:`evaluate` transcribes the simulator's closed
  forms (``sim.simulate_layer``) into ``jax.numpy`` for a batch of layers on one accelerator
  (jit it, vmap it over accelerators); :func:`network_cost` sums a report; :func:`design_cost`
  prices a discrete (network, HardwareDesign) pair.
- :mod:`dianjax.cost.relaxed`, relaxed and differentiable: :func:`relaxed` is the expected latency,
  energy, area, EDP and EDAP of a supernet (op probabilities) on a hardware design space (logits),
  exact over ops and fold orders, with local-expectation gradients over the accelerator knobs;
  :func:`expected` is the same expectation by enumeration; :func:`reference_metrics` the normalizer.
- :mod:`dianjax.cost.objectives`: objectives by name (latency, energy, edp, edap, area) or weighted
  sums, normalized by a reference (:func:`objective`).

Example::

    from dianjax import cost
    report = cost.evaluate(cost.layer_arrays(net), cost.accelerator_arrays(acc))
    metrics = cost.relaxed(table, op_probs, hw_logits, key, 1.0, space=space,
                           objective="edp", reference=cost.reference_metrics(table, space))
"""

from dianjax.cost.systolic import (AcceleratorArrays, CostReport, LayerArrays, accelerator_arrays,
                                design_cost, evaluate, fold_order_indices, layer_arrays,
                                network_cost, stack_accelerators)
from dianjax.cost.relaxed import (RelaxedCost, RelaxedCostModel, expected, prepare, reference_metrics,
                                  relaxed, space_accelerators, uniform_op_probs)
from dianjax.cost.objectives import OBJECTIVE_METRICS, Metrics, objective

__all__ = [
    "OBJECTIVE_METRICS",
    "AcceleratorArrays",
    "CostReport",
    "LayerArrays",
    "Metrics",
    "RelaxedCost",
    "RelaxedCostModel",
    "accelerator_arrays",
    "design_cost",
    "evaluate",
    "expected",
    "fold_order_indices",
    "layer_arrays",
    "network_cost",
    "objective",
    "prepare",
    "reference_metrics",
    "relaxed",
    "space_accelerators",
    "stack_accelerators",
    "uniform_op_probs",
]
