"""The one-shot front: a whole (accuracy, cost) trade-off from one search's supernet.

A joint search trains one supernet whose weights every network of the space shares. At its end,
each network of the space (or, where the space is larger than ``search.front_networks``, that many
of the most probable networks under the final op logits) is

- scored by the supernet: the accuracy of its path on the val part of the train split, batch norm
  re-estimated for the path (:class:`dianjax.search.paths.PathEvaluator`, as for the derived
  network's ``supernet_val``), a weight-sharing *proxy* of its trained accuracy, used only to
  rank;
- paired with its exactly best accelerator for the search's hardware term within every limit and
  target (:func:`dianjax.cost.best_designs`, the enumeration of the hardware space);

and the front is the non-dominated set of (proxy accuracy, objective) over those pairs: the pairs
the search itself would claim, from its own estimates, with nothing looked up. Every scored
network's figures (proxy accuracy and cross-entropy, objective score, feasibility) are kept in
``front["networks"]`` for analysis. Each pair's
retrained accuracy is added from the benchmark table where one covers the space (a lookup for the
reader, never used to choose). The front is ``result.json``'s ``front`` and ``front.png``; a
search with targets (``cost.target_<name>``) returns its most accurate pair by the proxy
(:func:`dianjax.search.result.network_under_targets`), one with a weight λ keeps the argmax of its
op logits.

Needs a hardware space the cost model enumerates (the exact estimator's limit) and a digital
supernet; elsewhere the front is skipped and ``result.json`` says why.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import tqdm

from dianjax.analysis.front import front_indices
from dianjax.bench.networks import enumerate_networks
from dianjax.cost.best_design import best_designs
from dianjax.cost.relaxed import EXACT_LIMIT
from dianjax.nas import gumbel
from dianjax.search.config import SearchSetup
from dianjax.search.paths import EvalSet, PathEvaluator
from dianjax.search.steps import SearchState, hardware_objective

FRONT_FILE = "front.png"


def space_size(setup: SearchSetup) -> int:
    """The number of networks of the search space (available ops multiplied over the layers)."""
    return math.prod(int(row.sum()) for row in setup.space.op_mask())


def front_networks(setup: SearchSetup, state: SearchState, max_networks: int) -> np.ndarray:
    """int[N, L]: every network of the space if it has at most ``max_networks``, in mixed-radix
    order (the benchmark table's), else the ``max_networks`` most probable under the final op
    logits, most probable first."""
    from dianjax.search.result import top_choices

    if space_size(setup) <= max_networks:
        return enumerate_networks(setup.space)
    log_probs = np.asarray(gumbel.mask_logits(state.arch_logits, setup.space.op_mask()))
    log_probs = log_probs - np.logaddexp.reduce(log_probs, axis=-1, keepdims=True)
    ranked = top_choices(list(log_probs), max_networks)
    return np.array([ops for _, ops in ranked], np.int64).reshape(-1, setup.space.num_layers)


def one_shot_front(setup: SearchSetup, state: SearchState, evaluator: PathEvaluator,
                   examples: EvalSet, reference) -> dict:
    """The front of the search's supernet (module docstring), as ``result.json``'s ``front``;
    ``evaluator`` scores the paths of ``state``'s supernet on ``examples`` (the val part)."""
    max_networks = setup.config.search.front_networks
    model = setup.cost_model
    if setup.analog is not None:
        return {"skipped": "a crossbar-aware search (analog.enabled): its paths' accuracy depends "
                           "on the crossbars too, which the front does not sample"}
    if model.resolve_estimator("auto") != "exact":
        return {"skipped": f"the hardware space has {model.enumeration_size:,} floats per "
                           f"enumeration table, over the exact limit {EXACT_LIMIT:,}: the best "
                           "accelerator of each network is not enumerated"}
    start = time.perf_counter()
    networks = front_networks(setup, state, max_networks)
    proxy, loss = np.array([evaluator.scores(ops, examples) for ops in tqdm.tqdm(
        networks, desc="front: networks on the supernet", unit="net", disable=None)]).T
    cost_config = setup.config.cost
    designs = best_designs(model, networks, hardware_objective(setup), reference,
                           limits=setup.derivation_limits, penalty=cost_config.penalty)
    feasible = np.flatnonzero([best.feasible for best in designs])
    scores = np.array([designs[i].score for i in feasible])
    on_front = feasible[front_indices(proxy[feasible], scores)]
    on_front = on_front[np.argsort([designs[i].score for i in on_front], kind="stable")]
    from dianjax.search.result import table_accuracy

    pairs = []
    for i in on_front:
        ops = [setup.space.op_names[k] for k in networks[i]]
        best = designs[i]
        pairs.append({"ops": ops, "op_indices": [int(k) for k in networks[i]],
                      "hardware": best.design.to_dict(), "objective_score": best.score,
                      "predicted": best.metrics._asdict(), "supernet_val": float(proxy[i]),
                      "supernet_val_loss": float(loss[i]),
                      "retrained": table_accuracy(setup.config.data.dataset,
                                                  setup.config.space, ops)})
    return {"networks_scored": len(networks), "space_networks": space_size(setup),
            "feasible_networks": int(len(feasible)),
            "rank_by": "supernet_val (weight-sharing proxy, batch norm re-estimated per path)",
            "cost_by": f"exact best accelerator of {model.space.num_accelerators:,} for "
                       f"objective {cost_config.objective!r} within the limits and targets",
            "pairs": pairs,
            "networks": {"op_indices": networks.tolist(), "supernet_val": proxy.tolist(),
                         "supernet_val_loss": loss.tolist(),
                         "objective_score": [best.score for best in designs],
                         "feasible": [best.feasible for best in designs]},
            "wall_s": time.perf_counter() - start}   # scoring and pricing; the val set is shared


def front_figure(front: dict, objective: str):
    """The front's pairs: supernet proxy accuracy (and retrained accuracy where known) against the
    objective's metric, log cost axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from dianjax.cost.objectives import OBJECTIVE_METRICS

    field = OBJECTIVE_METRICS.get(objective)
    pairs = front["pairs"]
    cost = [pair["predicted"][field] if field else pair["objective_score"] for pair in pairs]
    figure = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(cost, [pair["supernet_val"] for pair in pairs], "o-", label="supernet val (proxy)")
    known = [(c, pair["retrained"]["val_accuracy"]) for c, pair in zip(cost, pairs)
             if pair["retrained"]]
    if known:
        axes.plot(*zip(*known), "s--", label="retrained val (benchmark table)")
    axes.set_xscale("log")
    axes.set_xlabel(field or f"normalized {objective} objective")
    axes.set_ylabel("accuracy")
    axes.set_title(f"one-shot front: {len(pairs)} pairs of {front['networks_scored']} networks")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def save_front_figure(front: dict, objective: str, workdir: Path) -> None:
    if front.get("pairs"):
        front_figure(front, objective).savefig(workdir / FRONT_FILE, dpi=120)
