"""dianjax.cost: the differentiable accelerator cost model, importable on its own.

The layout (see the modules for the models, conventions and units):

- hardware templates: :mod:`~dianjax.cost.template` (the interface: a knob schema and a
  ``jax.numpy`` evaluation), :mod:`~dianjax.cost.registry` (templates by name) and
  :mod:`~dianjax.cost.systolic` (the systolic array: :func:`evaluate` transcribes ``sim``'s closed
  forms for a batch of layers on one accelerator, exact at discrete points; :func:`network_cost`
  sums a report), :mod:`~dianjax.cost.crossbar` (memristive crossbars, NAX's in-memory
  computing: ``crossbar.evaluate`` with a crossbar size per layer, ``crossbar.network_cost`` with
  the area summed over layers) and :mod:`~dianjax.cost.loopnest_template` (DIAN's generic
  loop-nest accelerator: each layer on its least-EDP candidate mapping for its dataflow);
- the loop nest's mappings: :mod:`~dianjax.cost.loopnest` (the access counts of a batch of
  mappings, equal to ``sim.loopnest``) and :mod:`~dianjax.cost.loopnest_mapper`
  (:func:`~dianjax.cost.loopnest_mapper.search_mappings`, the mapping search);
- :mod:`~dianjax.cost.hardware_space`: the design space over a template's knob schema, as logits,
  and discrete designs (:class:`HardwareDesign`); :func:`design_cost`
  (:mod:`~dianjax.cost.discrete`) prices one (network, design) pair;
- :mod:`~dianjax.cost.relaxed`, relaxed and differentiable, for any template: :func:`relaxed` is the
  expected latency, energy, area, EDP and EDAP of a supernet (op probabilities) on a hardware space
  (logits), exact over ops and mappings, with local-expectation gradients over the knobs;
  :func:`expected` the same expectation by enumeration; :func:`reference_metrics` the normalizer;
- :mod:`~dianjax.cost.objectives`: objectives by name (latency, energy, edp, edap, area) or weighted
  sums, normalized by a reference (:func:`objective`);
- :mod:`~dianjax.cost.best_design`: the exactly best accelerator and fold orders of one network on
  an enumerable space, under an objective and limits (:func:`best_design`; many networks at
  once: :func:`best_designs`).

Example::

    from dianjax import cost
    report = cost.evaluate(cost.layer_arrays(net), cost.accelerator_arrays(acc))
    metrics = cost.relaxed(table, op_probs, hw_logits, key, 1.0, space=space,
                           objective="edp", reference=cost.reference_metrics(table, space))
"""

from dianjax.cost import crossbar
from dianjax.cost.best_design import BestDesign, best_design, best_designs
from dianjax.cost.discrete import design_cost
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.cost.objectives import OBJECTIVE_METRICS, OBJECTIVES, Metrics, objective
from dianjax.cost.registry import TEMPLATE_NAMES, TEMPLATES, get_template
from dianjax.cost.relaxed import (RelaxedCost, RelaxedCostModel, expected, prepare,
                                  reference_metrics, relaxed, space_accelerators, uniform_op_probs)
from dianjax.cost.systolic import (AcceleratorArrays, CostReport, LayerArrays, accelerator_arrays,
                                   evaluate, fold_order_indices, layer_arrays, network_cost,
                                   stack_accelerators)
from dianjax.cost.template import CostTemplate, KnobSchema

__all__ = [
    "OBJECTIVES",
    "OBJECTIVE_METRICS",
    "TEMPLATES",
    "TEMPLATE_NAMES",
    "AcceleratorArrays",
    "BestDesign",
    "CostReport",
    "CostTemplate",
    "HardwareDesign",
    "HardwareSpace",
    "KnobSchema",
    "LayerArrays",
    "Metrics",
    "RelaxedCost",
    "RelaxedCostModel",
    "accelerator_arrays",
    "best_design",
    "best_designs",
    "crossbar",
    "design_cost",
    "evaluate",
    "expected",
    "fold_order_indices",
    "get_template",
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
