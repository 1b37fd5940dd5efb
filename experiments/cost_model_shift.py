"""Where a network's best accelerator lands under the current cost model, and what it pays.

    python experiments/cost_model_shift.py [--network resnet20] [--objective edp]

Enumerates the default hardware space (12,288 systolic accelerators,
:class:`dianjax.cost.HardwareSpace`) for a reference network with the benchmark's mapping rule (per conv the fold order of least
latency, least energy or least latency x energy, :func:`dianjax.cost.best_design.best_fold_orders`),
and prints the accelerator of least objective with its cycles, DRAM words, energy by component,
latency, area and EDP, plus the same figures on the default ``sim.Accelerator()``. Run it at two
commits to see how a change of the memory or energy model moves the figures and the chosen design.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from dianjax import cost
from dianjax.cost.best_design import best_fold_orders
from dianjax.cost.relaxed import space_accelerators, space_indices
from sim import FOLD_ORDERS, NETWORKS, Accelerator, Mapping, get_network, simulate_network

OBJECTIVES = ("latency", "energy", "edp", "edap")


def _network_sums(report, orders):
    """Per-accelerator network totals for one fold-order assignment per layer."""
    picked = {name: jnp.take_along_axis(value, orders[:, None, :], axis=1)[:, 0]
              for name, value in report._asdict().items() if name != "area_mm2"}
    return {name: value.sum(-1) for name, value in picked.items()}


def best_accelerator(network, objective: str):
    """(index, accelerator, fold orders, totals) of least ``objective`` over the default space."""
    space = cost.HardwareSpace()
    accelerators = space_accelerators(space)
    layers = cost.layer_arrays(network)
    num_layers = len(network.layers)

    def per_order(accelerator):
        return jax.vmap(lambda order: cost.evaluate(
            layers, accelerator, jnp.full((num_layers,), order, jnp.int32)))(jnp.arange(2))

    report = jax.jit(jax.vmap(per_order))(accelerators)           # [A, 2, L]
    best = None
    for orders in best_fold_orders(report.latency_s, report.energy_pj, axis=1):
        sums = _network_sums(report, orders)
        edp = sums["latency_s"] * sums["energy_pj"]
        score = {"latency": sums["latency_s"], "energy": sums["energy_pj"], "edp": edp,
                 "edap": edp * report.area_mm2[:, 0]}[objective]
        index = int(jnp.argmin(score))
        if best is None or float(score[index]) < best[0]:
            best = (float(score[index]), index, np.asarray(orders[index]))
    _, index, orders = best
    accelerator = space.accelerator(dict(zip(space.knobs, space_indices(space)[index].tolist())))
    return index, accelerator, orders


def _print_report(title: str, report) -> None:
    totals = report.totals()
    energy = totals["energy"]
    parts = ", ".join(f"{name} {value / 1e6:.3f}" for name, value in energy.items()
                      if name.endswith("_pj") and name not in ("total_pj", "sram_pj"))
    print(f"{title}\n  cycles {totals['total_cycles']:,} (stall {totals['stall_cycles']:,}), "
          f"DRAM words {report.dram_words:,}\n"
          f"  energy {totals['energy_pj'] / 1e6:.3f} uJ ({parts} uJ)\n"
          f"  latency {totals['latency_s'] * 1e3:.4f} ms, area {totals['area_mm2']:.3f} mm2, "
          f"EDP {totals['latency_s'] * totals['energy_pj']:.4g} pJ*s, "
          f"EDAP {totals['latency_s'] * totals['energy_pj'] * totals['area_mm2']:.4g} pJ*s*mm2")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet20", choices=sorted(NETWORKS))
    parser.add_argument("--objective", default="edp", choices=OBJECTIVES)
    args = parser.parse_args(argv)
    network = get_network(args.network)
    index, accelerator, orders = best_accelerator(network, args.objective)
    mappings = {layer.name: Mapping(FOLD_ORDERS[int(o)]) for layer, o in zip(network, orders)}
    _print_report(f"{args.network}, least {args.objective} of the default space: #{index} "
                  f"{accelerator.to_dict()}", simulate_network(network, accelerator, mappings))
    _print_report(f"{args.network} on the default sim.Accelerator() {Accelerator().to_dict()}",
                  simulate_network(network, Accelerator()))


if __name__ == "__main__":
    main()
