"""Speed of the JAX cost model: discrete evaluations, the relaxed cost's gradient, an exhaustive sweep.

    python benchmarks/cost_speed.py [--seconds 2] [--sim-accelerators 300]

Prints, on whatever device JAX uses:

1. (layer, accelerator) evaluations per second of ``jit(vmap(cost.evaluate))``: ResNet-20's 20
   layers on every accelerator of the default hardware space (goal: >= 1e6/s on a 2-core CPU);
2. the time of one ``cost.relaxed`` forward and forward+backward (gradients w.r.t. op probabilities
   and hardware logits) for the CIFAR supernet (22 layers x 9 ops) on the default hardware space,
   objective EDP, and their ratio (goal: forward+backward <= 3x forward);
3. the time to enumerate the whole default hardware space for ResNet-20 (compile included, and
   steady state), the best accelerator by EDP (SCALE-Sim's fold order), its EDP checked with
   ``sim.simulate_network``, and the same sweep's estimated time with sim's closed-form fast path
   (timed on ``--sim-accelerators`` accelerators) as a ratio;
4. the quickstart supernet's relaxed-cost forward+backward with the sampled estimator (one sample)
   against the exact one (``estimator="exact"``: the whole space, from reports computed once),
   with the time of that one-off enumeration, side by side.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from dianjax import cost
from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas.search_space import cifar_space, layer_table, quickstart_space
from sim import resnet20, simulate_network


def _seconds_per_call(function, min_seconds: float) -> float:
    """Median seconds per call (results blocked on) over repeats running at least ``min_seconds``."""
    jax.block_until_ready(function())
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(samples) < 5:
        call_start = time.perf_counter()
        jax.block_until_ready(function())
        samples.append(time.perf_counter() - call_start)
    return statistics.median(samples)


def _network_edp(layers, accelerators):
    report = jax.vmap(lambda acc: cost.evaluate(layers, acc))(accelerators)
    return cost.network_cost(report)["edp_pj_s"]


def benchmark_evaluate(space: HardwareSpace, min_seconds: float) -> dict:
    network = resnet20()
    layers, accelerators = cost.layer_arrays(network), cost.space_accelerators(space)
    sweep = jax.jit(_network_edp)
    start = time.perf_counter()
    edp = np.asarray(sweep(layers, accelerators))
    first_s = time.perf_counter() - start
    seconds = _seconds_per_call(lambda: sweep(layers, accelerators), min_seconds)
    best = int(np.argmin(edp))
    return {"pairs": len(network) * space.num_accelerators, "first_call_s": first_s,
            "seconds": seconds, "pairs_per_s": len(network) * space.num_accelerators / seconds,
            "best_index": best, "best_edp": float(edp[best])}


def benchmark_relaxed(space: HardwareSpace, min_seconds: float) -> dict:
    table = layer_table(cifar_space())
    model = cost.prepare(table, space)
    start = time.perf_counter()
    reference = cost.reference_metrics(table, space)
    reference_s = time.perf_counter() - start
    mask = np.asarray(table.op_mask)
    arch_logits = jnp.asarray(np.random.default_rng(0).normal(size=mask.shape), jnp.float32)
    op_probs = jax.nn.softmax(jnp.where(mask, arch_logits, -jnp.inf), axis=-1)
    hw_logits = jax.tree.map(jnp.asarray, space.init_logits(table))

    def objective(probs, logits, key):
        return model.relaxed(probs, logits, key, 1.0, objective="edp",
                             reference=reference).objective

    forward = jax.jit(objective)
    backward = jax.jit(jax.value_and_grad(objective, argnums=(0, 1)))
    key = jax.random.key(0)
    forward_s = _seconds_per_call(lambda: forward(op_probs, hw_logits, key), min_seconds)
    backward_s = _seconds_per_call(lambda: backward(op_probs, hw_logits, key), min_seconds)
    return {"layers": table.num_layers, "ops": len(table.op_names),
            "convs": len(model.convs.groups),
            "pairs_per_step": len(model.row_knob) * len(model.fold_orders) * len(model.convs.groups),
            "reference_s": reference_s, "forward_s": forward_s, "forward_backward_s": backward_s,
            "ratio": backward_s / forward_s}


def benchmark_estimators(space: HardwareSpace, min_seconds: float) -> dict:
    table = layer_table(quickstart_space())
    reference = cost.reference_metrics(table, space)
    model = cost.prepare(table, space)
    start = time.perf_counter()
    model.enumeration  # noqa: B018 (computed once, then cached)
    enumeration_s = time.perf_counter() - start
    op_probs = jnp.asarray(cost.uniform_op_probs(table))
    hw_logits = jax.tree.map(jnp.asarray, space.init_logits(table))
    key = jax.random.key(0)
    seconds = {}
    for estimator in ("sampled", "exact"):
        step = jax.jit(jax.value_and_grad(lambda p, h, k, e=estimator: model.relaxed(
            p, h, k, 1.0, objective="edp", reference=reference, estimator=e).objective, (0, 1)))
        seconds[estimator] = _seconds_per_call(lambda s=step: s(op_probs, hw_logits, key),
                                               min_seconds)
    return {"enumeration_s": enumeration_s, "floats": model.enumeration_size, **seconds}


def benchmark_sim(space: HardwareSpace, count: int) -> float:
    """Seconds per accelerator of sim.simulate_network(resnet20) over ``count`` of the space's."""
    network = resnet20()
    accelerators = list(space.accelerators())
    picks = np.random.default_rng(0).choice(len(accelerators), size=count, replace=False)
    start = time.perf_counter()
    for index in picks:
        simulate_network(network, accelerators[index])
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="minimum timing time per figure (median of repeats)")
    parser.add_argument("--sim-accelerators", type=int, default=300,
                        help="accelerators timed with sim to estimate its sweep time")
    args = parser.parse_args()
    if args.seconds <= 0 or args.sim_accelerators < 1:
        parser.error("--seconds must be > 0 and --sim-accelerators >= 1")
    space = HardwareSpace()
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"{space.num_accelerators} accelerators in the default hardware space")

    sweep = benchmark_evaluate(space, args.seconds)
    print(f"\n1. evaluate, jit+vmap: {sweep['pairs_per_s']:.3g} (layer, accelerator) evaluations/s "
          f"({sweep['pairs']} pairs in {sweep['seconds'] * 1e3:.1f} ms; goal >= 1e6/s)")

    relaxed = benchmark_relaxed(space, args.seconds)
    print(f"\n2. relaxed, CIFAR supernet ({relaxed['layers']} layers x {relaxed['ops']} ops, "
          f"{relaxed['convs']} convs, {relaxed['pairs_per_step']} (conv, accelerator) pairs per "
          f"sample):\n   forward {relaxed['forward_s'] * 1e3:.2f} ms, forward+backward "
          f"{relaxed['forward_backward_s'] * 1e3:.2f} ms, ratio {relaxed['ratio']:.2f} "
          f"(goal <= 3); reference_metrics (exhaustive, compile included) "
          f"{relaxed['reference_s']:.2f} s")

    accelerators = list(space.accelerators())
    best = accelerators[sweep["best_index"]]
    simulated = simulate_network(resnet20(), best)
    sim_per_accelerator = benchmark_sim(space, args.sim_accelerators)
    sim_sweep_s = sim_per_accelerator * space.num_accelerators
    print(f"\n3. whole default hardware space for ResNet-20: {sweep['first_call_s']:.2f} s with "
          f"compile, {sweep['seconds'] * 1e3:.1f} ms compiled")
    print(f"   best EDP: {best}")
    print(f"   EDP {sweep['best_edp']:.6g} pJ s (cost model), "
          f"{simulated.energy_pj * simulated.latency_s:.6g} pJ s (sim.simulate_network)")
    print(f"   sim fast path: {sim_per_accelerator * 1e3:.2f} ms per accelerator, "
          f"~{sim_sweep_s:.1f} s for the space: the compiled sweep is "
          f"{sim_sweep_s / sweep['seconds']:.0f}x faster ({sim_sweep_s / sweep['first_call_s']:.0f}x "
          "with compile)")

    estimators = benchmark_estimators(space, args.seconds)
    print(f"\n4. relaxed, quickstart supernet, forward+backward: sampled (1 sample) "
          f"{estimators['sampled'] * 1e3:.2f} ms, exact {estimators['exact'] * 1e3:.2f} ms "
          f"(ratio {estimators['exact'] / estimators['sampled']:.2f}); the exact estimator's "
          f"enumeration ({estimators['floats']:,} floats per table) "
          f"{estimators['enumeration_s']:.2f} s once")


if __name__ == "__main__":
    main()
