"""The end of a search: discretize, validate with the exact simulator, write ``result.json``.

``result.json`` (every figure measured at the end of this run):

- ``network``: ops per searchable layer (names and indices), MACs, parameters;
- ``hardware``: the derived accelerator (``sim.Accelerator`` JSON) and the fold order per mapping slot;
- ``hardware_derivation``: how it was derived (:func:`derive_hardware`): the exactly best
  accelerator of an enumerable space for the derived network, with the logits' argmax accelerator
  and its objective ratio beside it, or the argmax itself, or the fixed design;
- ``target``: with ``cost.target_<name>`` set, the targets, whether the derived pair meets them,
  how its network was picked (``picked_by``: the one-shot front's most accurate pair under them,
  or without a front the most probable network that meets them) and the final Lagrange
  multipliers (:func:`network_under_targets`); else null;
- ``accuracy``: the supernet's accuracy on the val part of the train split and on the test split,
  with the derived network's ops (one-hot op weights, batch-norm statistics re-estimated for that
  path on train batches, then inference mode); and, if
  ``final_train.enabled``, the test accuracy of the derived network trained from scratch (on
  crossbars trained noise-aware on the derived design, and ``derived_test_crossbar`` its accuracy
  on them with the full noise model over chips); on
  crossbars (``analog.enabled``), ``supernet_{val,test}_crossbar``: the same path's accuracy on
  the derived crossbars with the full bit-level noise model, mean and sd over
  ``analog.eval_samples`` chips (:func:`noisy_accuracy`), and ``analog``: the noise settings;
- ``simulated``: ``sim.simulate_network`` of the derived network on the derived accelerator:
  latency, energy, area, EDP, EDAP, cycles;
- ``predicted``: the cost model's figures for the same pair, and ``relative_error`` per figure;
- ``candidates``: the ``k`` most probable (network, accelerator) pairs under the final logits
  (beam search over the independent per-layer and per-knob choices), for ``dianjax refine``;
- ``decision``: how sure the search is of each pick: the probability (softmax of the final
  logits) of the op picked per searchable layer and of the value picked per hardware knob, each
  with the runner-up; ``decided`` is true when every pick has at least
  :data:`DECIDED_PROBABILITY`, else ``undecided`` names the picks below it (the summary says so).
  Fixed choices (modes ``fixed_net`` / ``fixed_hw``) are not listed; fold orders are not counted;
- ``front`` (mode ``joint``, ``search.front_networks`` > 0): the one-shot front of the supernet,
  every scored network's exactly best accelerator, non-dominated by (supernet proxy accuracy,
  objective) (:mod:`dianjax.search.front`), plotted in ``front.png``.
"""

from __future__ import annotations

import collections
import heapq
import json
from collections.abc import Mapping
from pathlib import Path

import jax
import numpy as np

from dianjax import cost, data, distributed
from dianjax.cost.best_design import best_design, best_designs, constraint_penalty
from dianjax.cost.hardware_space import HardwareDesign
from dianjax.cost.objectives import Metrics
from dianjax.nas import gumbel
from dianjax.nas.analog import ADC_KNOB, FIXED_KNOBS, SIZE_KNOB
from dianjax.nas.search_space import LayerTable
from dianjax.nas.supernet import DerivedNet, DerivedNetwork, derive
from dianjax.search.config import SearchSetup
from dianjax.search.front import one_shot_front, save_front_figure
from dianjax.search.paths import EvalSet, PathEvaluator
from dianjax.search.steps import SearchState, hardware_objective
from dianjax.train import crossbar_accuracy
from sim.energy import EnergyTable
from sim.simulator import simulate_network
from sim.workload import Network

RESULT_FILE = "result.json"
NUM_CANDIDATES = 8
TARGET_CANDIDATES = 64  # most probable networks a target derivation looks through
DECIDED_PROBABILITY = 0.8  # a pick is decided when the final logits give it at least this
COMPARED_METRICS = ("latency_s", "energy_pj", "area_mm2", "edp_pj_s")
"""The figures result.json records twice, simulated and predicted, with their relative error."""


def top_choices(log_probs: list[np.ndarray], k: int) -> list[tuple[float, tuple[int, ...]]]:
    """The ``k`` most probable joint choices of independent categoricals (beam search, exact)."""
    beam = [(0.0, ())]
    for row in log_probs:
        options = [(score + float(lp), chosen + (index,)) for score, chosen in beam
                   for index, lp in enumerate(row) if np.isfinite(lp)]
        beam = heapq.nlargest(k, options, key=lambda item: item[0])
    return beam


def candidates(setup: SearchSetup, state: SearchState, k: int = NUM_CANDIDATES) -> list[dict]:
    """The ``k`` most probable pairs: op per layer and accelerator, with their log-probabilities."""
    mask = setup.space.op_mask()
    arch = np.asarray(jax.nn.log_softmax(gumbel.mask_logits(state.arch_logits, mask), axis=-1))
    hw = [np.asarray(jax.nn.log_softmax(state.hw_logits[knob])) for knob in setup.hardware.knobs]
    joint = top_choices(list(arch) + hw, k)
    out = []
    for log_prob, choice in joint:
        ops, knobs = choice[:setup.space.num_layers], choice[setup.space.num_layers:]
        accelerator = setup.hardware.accelerator(dict(zip(setup.hardware.knobs, knobs)))
        out.append({"log_prob": log_prob, "ops": [setup.space.op_names[i] for i in ops],
                    "accelerator": accelerator.to_dict()})
    return out


def decision(choices: dict[str, tuple[list[str], np.ndarray]]) -> dict:
    """How sure the final logits are of each pick (module docstring, ``decision``).

    Args:
      choices: per choice name (e.g. ``"layer 0"``, ``"rows"``), its option names and its logits
        (``-inf`` on unavailable options).
    """
    picks, undecided = {}, []
    for name, (options, logits) in choices.items():
        logits = np.asarray(logits, np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = [i for i in np.argsort(-probs, kind="stable") if np.isfinite(logits[i])]
        first, second = order[0], (order[1] if len(order) > 1 else None)
        picks[name] = {"pick": options[first], "probability": float(probs[first]),
                       "runner_up": None if second is None else options[second],
                       "runner_up_probability": 0.0 if second is None else float(probs[second])}
        if probs[first] < DECIDED_PROBABILITY:
            undecided.append(name)
    return {"threshold": DECIDED_PROBABILITY, "picks": picks, "decided": not undecided,
            "undecided": undecided}


def search_decision(setup: SearchSetup, state: SearchState) -> dict:
    """:func:`decision` of the searched ops (unless fixed) and hardware knobs (unless fixed)."""
    choices = {}
    if setup.mode != "fixed_net":
        logits = np.asarray(gumbel.mask_logits(state.arch_logits, setup.space.op_mask()))
        for layer, row in enumerate(logits):
            choices[f"layer {layer}"] = (list(setup.space.op_names), row)
    if setup.mode != "fixed_hw":
        for knob, values in setup.hardware.choices():
            choices[knob] = ([str(v) for v in values], np.asarray(state.hw_logits[knob]))
    return decision(choices)


# network-report figures a template has beside the common ones (systolic: stalls and PE
# utilization; crossbar: crossbars and tiles of the whole network)
_TEMPLATE_FIGURES = ("stall_cycles", "utilization", "crossbars", "tiles")


def simulated_figures(network: Network, design: HardwareDesign, table: LayerTable,
                      energy_table: EnergyTable | None = None) -> dict[str, float]:
    """The simulator's figures of a discrete pair (a derived network of ``table``'s supernet):
    latency, energy, area, EDP, EDAP, cycles; ``energy_table`` None is sim's default."""
    report = simulate_network(network, design.accelerator,
                              design.mappings(network, table, energy_table), energy_table)
    edp = report.energy_pj * report.latency_s
    extras = {name: getattr(report, name) for name in _TEMPLATE_FIGURES if hasattr(report, name)}
    return {"latency_s": report.latency_s, "energy_pj": report.energy_pj,
            "area_mm2": report.area_mm2, "edp_pj_s": edp, "edap_pj_s_mm2": edp * report.area_mm2,
            "total_cycles": report.total_cycles, **extras}


def derive_hardware(setup: SearchSetup, state: SearchState, derived: DerivedNetwork, reference,
                    network: Network) -> tuple[HardwareDesign, dict]:
    """The accelerator of the result, and how it was derived (``hardware_derivation``).

    Mode ``fixed_hw``: the fixed design. A crossbar-aware search (``analog.enabled``): the argmax
    of the hardware logits for what accuracy steered too, the best simulated choice of the other
    knobs (:func:`_best_outside_the_forward_pass`). Else the argmax of the hardware logits, and with
    ``search.derive_hardware="auto"`` on a space the cost model enumerates (the exact estimator's
    limit), the exactly best design for the derived network under the search's hardware term
    (:func:`dianjax.cost.best_design.best_design`); the argmax design's simulated objective is
    recorded next to it, so the gain of the exact step is visible.
    """
    if setup.mode == "fixed_hw":
        return setup.fixed_design(), {"method": "fixed (mode fixed_hw)"}
    argmax = setup.hardware.discretize(jax.tree.map(np.asarray, state.hw_logits), setup.table)
    model = setup.cost_model
    if setup.analog is not None:
        return _best_outside_the_forward_pass(setup, argmax, network)
    if setup.config.search.derive_hardware == "argmax" or \
            model.resolve_estimator("auto") != "exact":
        return argmax, {"method": "argmax of the hardware logits"}
    cost_config = setup.config.cost
    objective = hardware_objective(setup)
    best = best_design(model, derived.op_indices, objective, reference,
                       limits=setup.derivation_limits, penalty=cost_config.penalty)
    figures = simulated_figures(network, argmax, setup.table, setup.energy_table)
    argmax_metrics = Metrics(**{field: figures[field] for field in Metrics._fields})
    argmax_score = float(cost.objective(objective, argmax_metrics, reference)
                         + constraint_penalty(argmax_metrics, setup.derivation_limits,
                                              cost_config.penalty))
    return best.design, {
        "method": f"exact: best of {best.num_accelerators} accelerators for the derived network",
        "feasible": best.feasible, "feasible_accelerators": best.num_feasible,
        "score": best.score,
        "argmax_accelerator": argmax.accelerator.to_dict(),
        "argmax_score": argmax_score,
        "argmax_score_ratio": argmax_score / best.score if best.score > 0 else None}


def _best_outside_the_forward_pass(setup: SearchSetup, argmax: HardwareDesign,
                                   network: Network) -> tuple[HardwareDesign, dict]:
    """A crossbar-aware search's design: the argmax of the logits for what changes accuracy (the
    crossbar size of every slot, the ADC and the other bits of the forward pass), and for the
    knobs that do not (columns per ADC) the choice with the best simulated objective."""
    fixed = {SIZE_KNOB, ADC_KNOB, *FIXED_KNOBS}
    objective = hardware_objective(setup)
    reference = cost.reference_metrics(setup.table, setup.hardware, setup.energy_table)
    best, scores = None, []
    for accelerator in setup.hardware.accelerators():
        if any(getattr(accelerator, knob) != getattr(argmax.accelerator, knob)
               for knob in fixed if knob in setup.hardware.knobs):
            continue
        design = HardwareDesign(accelerator, argmax.fold_orders)
        figures = simulated_figures(network, design, setup.table, setup.energy_table)
        metrics = Metrics(**{field: figures[field] for field in Metrics._fields})
        score = float(cost.objective(objective, metrics, reference))
        scores.append(score)
        if best is None or score < best[1]:
            best = (design, score)
    free = [knob for knob in setup.hardware.knobs if knob not in fixed]
    steered = [knob for knob in setup.hardware.knobs if knob in fixed]
    return best[0], {
        "method": f"argmax of the hardware logits for the crossbar sizes and {steered} (they "
                  f"change accuracy); best simulated objective over {free} ({len(scores)} "
                  "choices)",
        "score": best[1], "argmax_accelerator": argmax.accelerator.to_dict()}


def network_under_targets(setup: SearchSetup, state: SearchState, reference,
                          front: dict | None = None,
                          max_networks: int = TARGET_CANDIDATES) -> tuple[DerivedNetwork, dict]:
    """The network of a search with targets (``cost.target_<name>``).

    With a one-shot front (``front``, priced within the targets and limits): its pair of highest
    supernet proxy accuracy, the most accurate network the search finds under the targets. Else
    the most probable network (final op logits) whose best accelerator meets every target and
    limit (:func:`dianjax.cost.best_design.best_designs`), among the ``max_networks`` most
    probable; the most probable one if none does (``met`` false). Needs an enumerable hardware
    space.
    """
    multipliers = {field: float(mu) for field, mu in state.multipliers.items()}
    if front and front.get("pairs"):
        top = max(front["pairs"], key=lambda pair: pair["supernet_val"])
        return DerivedNetwork(setup.space, tuple(top["op_indices"])), {
            "targets": setup.targets, "met": True, "multipliers": multipliers,
            "picked_by": f"the one-shot front's highest supernet proxy accuracy "
                         f"({top['supernet_val']:.3f}) of the {front['feasible_networks']} "
                         "networks whose best accelerator meets the targets"}
    mask = setup.space.op_mask()
    log_probs = np.asarray(jax.nn.log_softmax(gumbel.mask_logits(state.arch_logits, mask), -1))
    ranked = [ops for _, ops in top_choices(list(log_probs), max_networks)]
    designs = best_designs(setup.cost_model, ranked, hardware_objective(setup), reference,
                           limits=setup.derivation_limits, penalty=setup.config.cost.penalty)
    met = [rank for rank, best in enumerate(designs) if best.feasible]
    rank = met[0] if met else 0
    return DerivedNetwork(setup.space, tuple(int(k) for k in ranked[rank])), {
        "targets": setup.targets, "met": bool(met), "multipliers": multipliers,
        "picked_by": (f"the search's #{rank + 1} most probable network" if met else
                      f"none of the {len(ranked)} most probable networks meets them")}


def noisy_accuracy(setup: SearchSetup, state: SearchState, derived: DerivedNetwork,
                   design: HardwareDesign, train_data: data.Dataset,
                   datasets: dict[str, data.Dataset]) -> dict:
    """Accuracy of the supernet's derived path on the derived crossbars, with the full bit-level
    model (:mod:`dianjax.nas.crossbar_noise`), over ``config.analog.eval_samples`` chips (noise
    draws) per data set, batch norm re-estimated on them first
    (:func:`dianjax.train.crossbar_accuracy`): ``{name: {"mean", "sd", "samples"}}``."""
    sizes = tuple((slot, design.fold_orders[slot]) for slot in setup.table.mapping_slots)
    model = DerivedNet(setup.space, derived.op_indices, setup.analog, sizes,
                       design.accelerator.adc_bits)
    variables = derived.variables_from_supernet({"params": state.params,
                                                 "batch_stats": state.batch_stats})
    return crossbar_accuracy(model, variables, train_data, datasets, seed=setup.config.seed,
                             batch_size=setup.config.data.batch_size,
                             eval_batch_size=setup.config.analog.eval_batch_size,
                             samples=setup.config.analog.eval_samples)


def _final_training(setup: SearchSetup, derived: DerivedNetwork, design: HardwareDesign,
                    workdir: Path) -> dict:
    """``dianjax train`` of the derived network; on crossbars (``analog.enabled``) noise-aware on
    the derived design and evaluated over chips on the full noise model."""
    from dianjax.config import load_config
    from dianjax.train import SCHEDULE_FIELDS, train_and_evaluate

    final = setup.config.final_train
    train_config = load_config("train_derived")
    train_config.update(dict(dataset=final.dataset or setup.config.data.dataset,
                             data_dir=setup.config.data.data_dir,
                             workers=setup.config.data.workers,
                             decoded_cache=setup.config.data.decoded_cache,
                             space=setup.config.space, ops=derived.op_names,
                             seed=setup.config.seed,
                             **{field: final[field] for field in SCHEDULE_FIELDS}))
    if setup.analog is not None:
        section, accelerator = setup.config.analog, design.accelerator
        train_config.analog.update(dict(
            enabled=True, adc_bits=accelerator.adc_bits,
            crossbar_sizes=tuple(design.fold_orders[slot] for slot in setup.table.mapping_slots),
            **{bits: getattr(accelerator, bits)
               for bits in ("cell_bits", "dac_bits", "weight_bits", "input_bits")},
            conductance_sigma=section.conductance_sigma, ir_drop=section.ir_drop,
            eval_samples=section.eval_samples))
    return train_and_evaluate(train_config, workdir / "final_train")


def finalize(setup: SearchSetup, state: SearchState, workdir: Path, train_data: data.Dataset,
             val_data: data.Dataset, mesh, search_wall_s: float, resumed_from_step: int,
             reference) -> dict:
    """Discretizes, simulates, measures accuracy (and trains if asked); writes ``result.json``."""
    test_data = data.load(setup.config.data.dataset, "test", setup.config.data.data_dir or None,
                          decoded_cache=data.resolve_decoded_cache(setup.config.data.decoded_cache))
    evaluator = PathEvaluator(setup, state, train_data, mesh)
    examples = {name: EvalSet(setup, split, mesh)
                for name, split in (("supernet_val", val_data), ("supernet_test", test_data))}
    front = None
    if setup.config.search.front_networks and setup.mode == "joint":
        front = one_shot_front(setup, state, evaluator, examples["supernet_val"], reference)
    mask = setup.space.op_mask()
    if setup.mode == "fixed_net":
        derived = DerivedNetwork(setup.space, setup.fixed_op_indices())
    else:
        derived = derive(setup.space, np.where(mask, np.asarray(state.arch_logits), -np.inf))
    target = None
    if setup.targets:
        derived, target = network_under_targets(setup, state, reference, front)
    network = derived.network(batch=setup.config.cost.batch)
    design, derivation = derive_hardware(setup, state, derived, reference, network)
    simulated = simulated_figures(network, design, setup.table, setup.energy_table)
    predicted = {key: float(value) for key, value in cost.design_cost(
        network, design, setup.table, energy_table=setup.energy_table).items()}
    batch_stats = evaluator.batch_stats(derived.op_indices)
    result = {
        "mode": setup.mode,
        "space": setup.config.space,
        "dataset": setup.config.data.dataset,
        "seed": setup.config.seed,
        "objective": setup.config.cost.objective,
        "lam": setup.config.cost.lam,
        "network": {"ops": list(derived.op_names), "op_indices": list(derived.op_indices),
                    "macs": network.macs, "sim_network": network.to_dict()},
        "hardware": design.to_dict(),
        "hardware_derivation": derivation,
        "target": target,
        "accuracy": {name: evaluator.accuracy(derived.op_indices, examples[name], batch_stats)
                     for name in examples},
        "simulated": simulated,
        "predicted": {key: predicted[key] for key in COMPARED_METRICS if key in predicted},
        "relative_error": {key: abs(predicted[key] - simulated[key]) / abs(simulated[key])
                           for key in COMPARED_METRICS if key in predicted and simulated[key]},
        "candidates": candidates(setup, state),
        "decision": search_decision(setup, state),
        "search_steps": setup.total_steps,
        "search_wall_s": search_wall_s,
        "resumed_from_step": resumed_from_step,
    }
    if setup.analog is not None:
        noisy = noisy_accuracy(setup, state, derived, design, train_data,
                               {"val": val_data, "test": test_data})
        result["accuracy"].update({f"supernet_{name}_crossbar": figures
                                   for name, figures in noisy.items()})
        result["analog"] = {**setup.config.analog.to_dict(),
                            "model": "full bit-level pipeline (dianjax.nas.crossbar_noise)"}
    if front is not None:
        result["front"] = front
    trained = None
    if setup.config.final_train.enabled:
        trained = _final_training(setup, derived, design, workdir)
        result["accuracy"]["derived_test"] = trained["test_accuracy"]
        if "test_accuracy_crossbar" in trained:
            result["accuracy"]["derived_test_crossbar"] = trained["test_accuracy_crossbar"]
        result["final_train"] = trained
    result["retrained"] = retrained_accuracy(setup.config.data.dataset, setup.config.space,
                                             derived.op_names, trained)
    if distributed.is_primary():
        (workdir / RESULT_FILE).write_text(json.dumps(result, indent=1) + "\n")
        if "front" in result:
            save_front_figure(result["front"], setup.config.cost.objective, workdir)
    return result


def retrained_accuracy(dataset: str, space: str, ops, trained: dict | None) -> dict:
    """The headline accuracy of a derived network: trained from scratch, never the supernet's.

    From the search's own final training when it ran (``trained``), else from the bundled benchmark
    table of ``dataset`` x ``space`` (:mod:`dianjax.bench`: the network's mean test accuracy over
    the table's seeds), else ``test_accuracy`` None and a ``source`` that says how to measure it.
    """
    if trained is not None:
        return {"test_accuracy": trained["test_accuracy"],
                "source": f"final training ({trained['steps']} steps, train split)"}
    known = table_accuracy(dataset, space, ops)
    if known is None:
        ops_text = ",".join(repr(op) for op in ops)
        return {"test_accuracy": None,
                "source": f"not measured (no benchmark table of {dataset} x {space}): dianjax "
                          f"train --config.dataset={dataset} --config.space={space} "
                          f"--config.ops=\"({ops_text})\""}
    return known


def table_accuracy(dataset: str, space: str, ops) -> dict | None:
    """The bundled benchmark table's figures of network ``ops`` (mean test and val accuracy over
    the table's seeds), or None where no table covers ``dataset`` x ``space``."""
    from dianjax.bench.table import load, table_for

    name = table_for(dataset, space)
    if name is None:
        return None
    table = load(name)
    row = table.row(table.index(list(ops)))
    return {"test_accuracy": row["test_mean"], "test_sd": row["test_sd"],
            "val_accuracy": row["val_mean"],
            "source": f"benchmark table {name!r} ({len(row['test_accuracy'])} seeds x "
                      f"{table.recipe.num_epochs} epochs on search_train)"}


def _retrained_line(retrained: dict | None) -> str:
    if not retrained or retrained["test_accuracy"] is None:
        source = retrained["source"] if retrained else "not measured"
        return f"  retrained    test accuracy {source}"
    return (f"  retrained    test accuracy {retrained['test_accuracy']:.4f} "
            f"({retrained['source']})")


def _derivation_lines(derivation: dict | None, target: dict | None) -> list[str]:
    lines = []
    if derivation and derivation.get("argmax_score_ratio"):
        lines.append(f"  derivation   {derivation['method']}; the logits' argmax accelerator: "
                     f"{derivation['argmax_score_ratio']:.3f}x its objective")
    if target:
        wanted = ", ".join(f"{field} <= {value:.4g}" for field, value in target["targets"].items())
        verdict = "met" if target["met"] else "NOT MET"
        lines.append(f"  target       {wanted}: {verdict}: {target['picked_by']}")
    return lines


def _decision_lines(decided: dict | None) -> list[str]:
    if not decided or not decided["picks"]:
        return []
    text = "  ".join(f"{name} {pick['pick']} {pick['probability']:.2f}"
                     for name, pick in decided["picks"].items())
    verdict = ("decided" if decided["decided"] else
               f"UNDECIDED ({len(decided['undecided'])} picks below {decided['threshold']:g}: "
               f"{', '.join(decided['undecided'])}; see candidates in result.json)")
    return [f"  decision     {verdict}", f"  pick prob.   {text}"]


def _front_lines(front: dict | None, objective: str) -> list[str]:
    if not front:
        return []
    if "skipped" in front:
        return [f"  front        skipped: {front['skipped']}"]
    from dianjax.cost.objectives import OBJECTIVE_METRICS

    field = OBJECTIVE_METRICS.get(objective)
    lines = [f"  front        {len(front['pairs'])} pairs non-dominated by (supernet proxy, "
             f"{field or 'objective'}) of {front['networks_scored']} networks scored, each on "
             f"its exactly best accelerator ({front['wall_s']:.1f} s; front.png)"]
    for pair in front["pairs"]:
        cost = pair["predicted"][field] if field else pair["objective_score"]
        known = pair["retrained"]
        accelerator = accelerator_label(pair["hardware"]["accelerator"])
        lines.append(f"    {cost:10.4g}  proxy val {pair['supernet_val']:.3f}  retrained val "
                     + (f"{known['val_accuracy']:.4f}" if known else "  -   ")
                     + f"  {' '.join(pair['ops'])}  {accelerator}")
    return lines


def accelerator_label(accelerator: Mapping, mappings: Mapping | None = None) -> str:
    """One line per accelerator. Systolic: ``16x16 ws 64/64/64KiB bw16`` (array, dataflow,
    ifmap/filter/ofmap SRAM, DRAM words/cycle). Crossbar: ``crossbars ADC 6 bits, 2-bit cells,
    1-bit DACs, 32 columns/ADC``, and with ``mappings`` (slot -> crossbar size) how many convs run
    on each size. Loop nest: ``8x16 PEs, 16 KiB buffer, 64-word RFs, DRAM bw4``, and with
    ``mappings`` (slot -> dataflow) how many slots take each dataflow."""
    if "pe_rows" in accelerator:
        label = (f"{accelerator['pe_rows']}x{accelerator['pe_cols']} PEs, "
                 f"{accelerator['glb_kb']:g} KiB buffer, {accelerator['rf_words']}-word RFs, "
                 f"DRAM bw{accelerator['dram_bandwidth_words_per_cycle']:g}")
        if mappings:
            flows = collections.Counter(mappings.values())
            label += "; slots per dataflow " + " ".join(f"{flow}:{count}"
                                                        for flow, count in sorted(flows.items()))
        return label
    if "crossbar_size" not in accelerator:
        return (f"{accelerator['rows']}x{accelerator['cols']} {accelerator['dataflow']} "
                f"{accelerator['ifmap_sram_kb']:g}/{accelerator['filter_sram_kb']:g}/"
                f"{accelerator['ofmap_sram_kb']:g}KiB "
                f"bw{accelerator['dram_bandwidth_words_per_cycle']:g}")
    label = (f"crossbars ADC {accelerator['adc_bits']} bits, {accelerator['cell_bits']}-bit cells, "
             f"{accelerator['dac_bits']}-bit DACs, {accelerator['columns_per_adc']} columns/ADC")
    if mappings:
        sizes = collections.Counter(int(size) for size in mappings.values())
        label += "; slots per size " + " ".join(f"{size}:{count}"
                                                 for size, count in sorted(sizes.items()))
    return label


def summary_table(result: dict) -> str:
    """A readable summary of a ``result.json``."""
    sim_ = result["simulated"]
    acc = result["hardware"]["accelerator"]
    lines = [f"search ({result['mode']}, objective {result['objective']}, lam {result['lam']}) "
             f"on {result['dataset']} / {result['space']}: {result['search_steps']} steps in "
             f"{result['search_wall_s']:.1f} s",
             f"  network      {' '.join(result['network']['ops'])}  "
             f"({result['network']['macs']:,} MACs)",
             f"  accelerator  {accelerator_label(acc, result['hardware'].get('fold_orders'))}",
             *_derivation_lines(result.get("hardware_derivation"), result.get("target")),
             _retrained_line(result.get("retrained")),
             *_decision_lines(result.get("decision")),
             "  proxies      " + "  ".join(f"{k} {v:.4f}" for k, v in result["accuracy"].items()
                                           if not isinstance(v, Mapping)),
             *(f"  on crossbars {k} {v['mean']:.4f} +- {v['sd']:.4f} (supernet path, full noise "
               f"model, {len(v['samples'])} chips)"
               for k, v in result["accuracy"].items() if isinstance(v, Mapping)),
             f"  {'':12s} {'simulated':>12s} {'cost model':>12s} {'rel. error':>10s}"]
    for key in COMPARED_METRICS:
        predicted = result["predicted"].get(key)
        error = result["relative_error"].get(key)
        lines.append(f"  {key:12s} {sim_[key]:12.4g} "
                     f"{'' if predicted is None else f'{predicted:12.4g}':>12s} "
                     f"{'' if error is None else f'{error:10.2e}':>10s}")
    lines += _front_lines(result.get("front"), result["objective"])
    return "\n".join(lines)
