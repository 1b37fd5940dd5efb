"""Queries to reach the known optimum: second-order vs first-order input updates vs random search.

The co-design problem, small enough to enumerate exhaustively:

- network space: a CIFAR-size CNN (3x3 stem 3->16 at 32x32, six searchable layers, a 64->10
  classifier). Layer ops are conv3x3, conv5x5, dwsep3x3 (depthwise 3x3 + pointwise) and skip;
  skip is not allowed at the two layers that change width and stride (per-layer op subsets).
- hardware space: rows and cols in {8, 16, 32} (ordinal), dataflow in {ws, os, is} (nominal), with
  a validity predicate: array area <= 1.6 mm^2 under sim's default energy/area table (this rules
  out the 32x32 array).
- objectives: ``accuracy`` from a fixed synthetic table (per-layer op gains plus pairwise
  interactions of adjacent layers, drawn once from a fixed numpy seed; a cheap deterministic proxy,
  NOT trained accuracies) and ``log2_edp`` = log2 of energy (pJ) x latency (s) of the derived network
  from ``sim.simulate_network`` (exact simulator, default mapping and energy table).
- utility = accuracy - ALPHA * log2_edp, maximized; its argmax over every valid pair is the target.

For every seed, each method starts from the same random seed designs (``num_random_seeds``) and runs
until it queries the optimum or spends its budget; a run that misses counts as ``budget + seeds + 1``
queries (censored), which only affects the median if half the runs miss. Random search queries the
remaining designs in a uniformly random order.

A second table isolates the input optimizer: for each seed, an ensemble fitted on 30 random designs,
8 random starts, and the UCB each method reaches after 1, 3 and 10 trust-region steps (same starts,
same surrogate), in the continuous relaxation and after snapping to the nearest valid design.

Run: ``python benchmarks/refine_queries.py`` (about 3 minutes on 2 CPU cores with the defaults;
``--seeds 30`` about 9 minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from dianjax import refine
from dianjax.refine import acquisition, surrogate
from dianjax.refine.encoding import Design, DesignSpace, Dimension
from sim import Accelerator, EnergyTable, Layer, Network, simulate_network
from sim.systolic.energy import accelerator_area_mm2

OPS = ("conv3x3", "conv5x5", "dwsep3x3", "skip")
# (input channels, output channels, input size, stride) of the six searchable layers.
LAYERS = ((16, 16, 32, 1), (16, 32, 32, 2), (32, 32, 16, 1), (32, 32, 16, 1), (32, 64, 16, 2),
          (64, 64, 8, 1))
ARRAY_SIZES = (8, 16, 32)
AREA_LIMIT_MM2 = 1.6
ALPHA = 0.02  # accuracy (fraction) traded per doubling of EDP


def _area_ok(design: Design) -> bool:
    rows, cols = ARRAY_SIZES[design[-3]], ARRAY_SIZES[design[-2]]
    return accelerator_area_mm2(Accelerator(rows=rows, cols=cols), EnergyTable()) <= AREA_LIMIT_MM2


def make_space() -> DesignSpace:
    """The joint space: six op choices (skip only where shapes allow), rows, cols, dataflow."""
    ops = [Dimension(f"layer{i}.op", OPS, "nominal",
                     allowed=(0, 1, 2, 3) if c == m and stride == 1 else (0, 1, 2))
           for i, (c, m, _, stride) in enumerate(LAYERS)]
    hardware = [Dimension("rows", ARRAY_SIZES), Dimension("cols", ARRAY_SIZES),
                Dimension("dataflow", ("ws", "os", "is"), "nominal")]
    return DesignSpace(tuple(ops + hardware), is_valid=_area_ok)


def derive_network(op_indices: tuple[int, ...]) -> Network:
    """The sim workload of one op choice per searchable layer."""
    layers = [Layer.conv("stem", 3, 16, 32, 32, 3)]
    for i, ((c, m, size, stride), op) in enumerate(zip(LAYERS, op_indices)):
        name = OPS[op]
        if name in ("conv3x3", "conv5x5"):
            layers.append(Layer.conv(f"layer{i}", c, m, size, size, 3 if name == "conv3x3" else 5,
                                     stride=stride))
        elif name == "dwsep3x3":
            layers.append(Layer.depthwise(f"layer{i}.dw", c, size, size, 3, stride=stride))
            layers.append(Layer.pointwise(f"layer{i}.pw", c, m, size // stride, size // stride))
    layers.append(Layer.fc("fc", 64, 10))
    return Network("bench" + "".join(str(op) for op in op_indices), tuple(layers))


def accuracy_table(seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic accuracy terms: per-layer op gains (L, 4), adjacent-pair interactions (L-1, 4, 4)."""
    rng = np.random.default_rng(seed)
    base = np.array([0.020, 0.028, 0.012, 0.0])  # conv5x5 > conv3x3 > dwsep > skip, on average
    gains = (base + rng.normal(0, 0.006, (len(LAYERS), len(OPS)))) * 4 / len(LAYERS)
    interactions = rng.normal(0, 0.004, (len(LAYERS) - 1, len(OPS), len(OPS)))
    return gains, interactions


def make_oracle():
    """A deterministic oracle: synthetic accuracy and sim's log2 EDP (memoized per network x array)."""
    gains, interactions = accuracy_table()
    cache: dict[Design, dict[str, float]] = {}

    def oracle(design: Design) -> dict[str, float]:
        if design not in cache:
            ops, (rows, cols, dataflow) = design[:-3], design[-3:]
            accuracy = 0.80 + sum(gains[i, op] for i, op in enumerate(ops)) + sum(
                interactions[i, ops[i], ops[i + 1]] for i in range(len(ops) - 1))
            accelerator = Accelerator(rows=ARRAY_SIZES[rows], cols=ARRAY_SIZES[cols],
                                      dataflow=("ws", "os", "is")[dataflow])
            report = simulate_network(derive_network(ops), accelerator)
            cache[design] = {"accuracy": float(accuracy),
                             "log2_edp": math.log2(report.energy_pj * report.latency_s),
                             "energy_pj": report.energy_pj, "latency_s": report.latency_s,
                             "area_mm2": report.area_mm2}
        return cache[design]

    return oracle


def refine_config(method: str, seed: int, budget: int, num_random_seeds: int) -> refine.RefineConfig:
    return refine.RefineConfig(
        objectives=(refine.Objective("accuracy", 1.0), refine.Objective("log2_edp", -ALPHA)),
        budget=budget, seed=seed, num_random_seeds=num_random_seeds,
        surrogate=surrogate.SurrogateConfig(hidden_sizes=(64, 64), num_members=5, num_steps=500,
                                            learning_rate=3e-3),
        acquisition=acquisition.AcquisitionConfig(method=method, k_epistemic=1.0, k_aleatoric=0.0,
                                                  num_starts=8, num_steps=10, cg_iterations=8))


def queries_to_optimum(space, oracle, config, optimum, workdir: Path) -> int:
    """Oracle queries until ``optimum`` is queried (``budget + seeds + 1`` if it never is)."""
    for record in refine.iterate_refine(space, oracle, [], config, workdir / f"{config.seed}.jsonl"):
        if record.design == optimum:
            return record.index + 1
    return config.budget + config.num_random_seeds + 1


def random_search_queries(space, config, optimum, all_designs) -> int:
    """Queries of random search (after the same seed designs) until it hits ``optimum``."""
    _, seeds = refine.seed_designs_of(space, [], config)
    if optimum in seeds:
        return seeds.index(optimum) + 1
    taken = set(seeds)
    rest = [d for d in all_designs if d not in taken]
    order = np.random.default_rng([config.seed, 1]).permutation(len(rest))
    return len(seeds) + 1 + [rest[i] for i in order].index(optimum)


def optimizer_study(space, oracle, seed: int, steps: tuple[int, ...]) -> dict[tuple[str, int], tuple]:
    """UCB reached by each method after each step count, from the same starts and surrogate.

    Returns ``{(method, num_steps): (mean continuous UCB, mean snapped UCB)}`` over 8 starts.
    """
    config = refine_config("newton", seed, 0, 0)
    rng = np.random.default_rng([seed, 2])
    train = space.sample(rng, 30)
    y = np.array([[oracle(d)[o.name] for o in config.objectives] for d in train])
    ensemble = surrogate.fit(config.surrogate, space.encode_many(train), y, jax.random.key(seed))
    starts = jnp.asarray(space.encode_many(space.sample(rng, 8, exclude=set(train))))
    weights = jnp.asarray(config.weights)
    results = {}
    for method in acquisition.METHODS:
        for num_steps in steps:
            acq = dataclasses.replace(config.acquisition, method=method, num_steps=num_steps)
            ends, values = acquisition.maximize_score(config.surrogate, acq, "ucb", space.blocks,
                                                      ensemble, weights, starts)
            snapped = space.encode_many([space.decode(np.asarray(x), exclude=set(train))
                                         for x in ends])
            snapped_values = acquisition.upper_confidence_bound(
                surrogate.predict_utility(config.surrogate, ensemble, weights,
                                          jnp.asarray(snapped)), acq.k_epistemic, acq.k_aleatoric)
            results[method, num_steps] = (float(values.mean()), float(snapped_values.mean()))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="independent runs per method")
    parser.add_argument("--budget", type=int, default=150, help="queries after the seed designs")
    parser.add_argument("--num-random-seeds", type=int, default=10, help="random seed designs")
    parser.add_argument("--methods", default="newton,gradient",
                        help="comma-separated input-update methods to run")
    args = parser.parse_args()
    methods = args.methods.split(",")
    for method in methods:
        if method not in acquisition.METHODS:
            raise ValueError(f"--methods must name methods among {list(acquisition.METHODS)}, "
                             f"got {method!r}")

    space, oracle = make_space(), make_oracle()
    start = time.perf_counter()
    designs = list(space.enumerate())
    utilities = [refine_config("newton", 0, 0, 0).utility(oracle(d)) for d in designs]
    ranking = np.argsort(utilities)[::-1]
    optimum = designs[int(ranking[0])]
    print(f"space: {len(designs)} valid pairs of {space.num_combinations} combinations, "
          f"{space.num_features} encoded features; enumerated with sim in "
          f"{time.perf_counter() - start:.1f} s")
    print(f"optimum {space.values(optimum)}: utility {utilities[ranking[0]]:.5f} "
          f"{oracle(optimum)}; runner-up utility {utilities[ranking[1]]:.5f}")

    results: dict[str, list[int]] = {"random": []}
    for seed in range(args.seeds):
        results["random"].append(random_search_queries(
            space, refine_config("newton", seed, args.budget, args.num_random_seeds), optimum,
            designs))
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            results[method] = []
            for seed in range(args.seeds):
                config = refine_config(method, seed, args.budget, args.num_random_seeds)
                workdir = Path(tmp) / method
                workdir.mkdir(exist_ok=True)
                began = time.perf_counter()
                results[method].append(queries_to_optimum(space, oracle, config, optimum, workdir))
                print(f"{method:8s} seed {seed}: {results[method][-1]:4d} queries "
                      f"({time.perf_counter() - began:.0f} s)", flush=True)

    cap = args.budget + args.num_random_seeds
    print(f"\nqueries to reach the optimum over {args.seeds} seeds (a refine run that misses counts "
          f"as {cap + 1}; random search runs until it hits):")
    print(f"{'method':10s} {'median':>7s} {'mean':>7s} {'in budget':>9s}  per seed")
    for name, counts in results.items():
        found = sum(c <= cap for c in counts)
        print(f"{name:10s} {statistics.median(counts):7.1f} {statistics.mean(counts):7.1f} "
              f"{found:6d}/{len(counts):<2d}  {counts}")

    if set(acquisition.METHODS) <= set(results):
        newton, gradient = results["newton"], results["gradient"]
        fewer = sum(a < b for a, b in zip(newton, gradient))
        more = sum(a > b for a, b in zip(newton, gradient))
        print(f"paired by seed: newton needs fewer queries in {fewer}, more in {more}, "
              f"as many in {len(newton) - fewer - more}")

    steps = (1, 3, 10)
    studies = [optimizer_study(space, oracle, seed, steps) for seed in range(args.seeds)]
    print(f"\ninput optimizer alone: mean UCB reached from 8 random starts (surrogate on 30 random "
          f"designs), averaged over {args.seeds} seeds; continuous / snapped to a valid design")
    print(f"{'method':10s} " + " ".join(f"{f'{n} steps':>17s}" for n in steps))
    for method in acquisition.METHODS:
        cells = [np.mean([study[method, n] for study in studies], axis=0) for n in steps]
        print(f"{method:10s} " + " ".join(f"{c:8.5f}/{s:8.5f}" for c, s in cells))


if __name__ == "__main__":
    main()
