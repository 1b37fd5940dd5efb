"""How noisy is the relaxed cost's hardware estimator? Sampled value and gradients vs the exact ones.

    python benchmarks/hw_gradient_variance.py [--space quickstart] [--objective edp]
        [--draws 256] [--samples 1,4,16] [--logits uniform,peaked]

The joint search prices its supernet with :func:`dianjax.cost.relaxed` (exact over ops and fold
orders, local-expectation gradients over the accelerator knobs from ``num_samples`` Gumbel-max
draws). On a hardware space small enough to enumerate, :meth:`RelaxedCostModel.expected` gives the
exact expectation and its exact gradients, so each estimate's error can be measured directly: for
``--draws`` independent PRNG keys per ``num_samples`` it prints

- the value's relative standard deviation (sd of the estimates / exact value) and relative bias;
- per hardware knob and for the op probabilities: the RMS error of the gradient relative to the
  exact gradient's norm, and the share of the exact gradient's non-zero coordinates whose sign the
  estimate gets right.

``--logits uniform`` is the search's start (all logits 0, uniform op probabilities); ``peaked`` a
point mid-search (logits drawn with sd 2 from a fixed key, op probabilities from logits with sd 1).
Temperature 1. Issue 13 keeps this as the measurement behind any change to the estimator.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from dianjax.cost.relaxed import prepare, reference_metrics, uniform_op_probs
from dianjax.cost.hardware_space import HardwareSpace
from dianjax.cost.objectives import OBJECTIVES
from dianjax.nas.search_space import SPACES, get_space, layer_table


def _point(kind: str, table, space: HardwareSpace):
    """(op probabilities, hardware logits) of ``kind``."""
    probs = np.asarray(uniform_op_probs(table), np.float32)
    logits = space.init_logits(table)
    if kind == "uniform":
        return jnp.asarray(probs), logits
    keys = jax.random.split(jax.random.key(7), len(logits) + 1)
    logits = {name: 2.0 * jax.random.normal(k, jnp.shape(v))
              for (name, v), k in zip(logits.items(), keys[1:])}
    available = probs > 0
    raw = np.where(available, np.asarray(jax.random.normal(keys[0], probs.shape)), -np.inf)
    return jnp.asarray(jax.nn.softmax(raw, axis=1), jnp.float32), logits


def measure(space_name: str, objective: str, draws: int, samples: list[int], kind: str) -> None:
    space = get_space(space_name)
    table = layer_table(space, 1)
    hardware = HardwareSpace()
    model = prepare(table, hardware)
    reference = reference_metrics(table, hardware)
    probs, logits = _point(kind, table, hardware)

    def exact(p, hw):
        return model.expected(p, hw, 1.0, objective=objective, reference=reference).objective

    value, (grad_p, grad_hw) = jax.jit(jax.value_and_grad(exact, argnums=(0, 1)))(probs, logits)
    print(f"\n{space_name} x default hardware space ({hardware.num_accelerators:,} accelerators), "
          f"objective {objective}, {kind} logits: exact value {float(value):.5g}")
    names = (*hardware.knobs, hardware.mapping_knob)
    exact_grads = [np.asarray(grad_p)] + [np.asarray(grad_hw[k]) for k in names]
    norms = [float(np.linalg.norm(g)) for g in exact_grads]
    floor = 1e-4 * max(norms)  # below it an exact gradient is float rounding of a true zero
    header = ["samples", "value rel sd", "value rel bias", "ops rms/|g|", "ops sign"]
    header += [f"{k} rms/|g|, sign" for k in names]
    print("exact gradient norms: " + ", ".join(
        f"{name} {norm:.3g}" for name, norm in zip(("ops", *names), norms)))
    print(" | ".join(header))
    for num in samples:
        def estimate(key, num=num):
            def f(p, hw):
                return model.relaxed(p, hw, key, 1.0, num_samples=num, objective=objective,
                                     reference=reference).objective
            return jax.value_and_grad(f, argnums=(0, 1))(probs, logits)

        values, (gp, ghw) = jax.jit(jax.vmap(estimate))(jax.random.split(jax.random.key(0),
                                                                         draws))
        cells = [str(num), f"{float(jnp.std(values) / value):.3f}",
                 f"{float((jnp.mean(values) - value) / value):+.4f}"]
        for got, want, norm in zip([gp] + [ghw[k] for k in names], exact_grads, norms):
            got = np.asarray(got).reshape(draws, *want.shape)
            rms = np.sqrt(np.mean(np.sum((got - want) ** 2, axis=tuple(range(1, got.ndim)))))
            if norm <= floor:
                cells.append(f"exact ~0, est. rms {rms:.2g}")
                continue
            nonzero = np.abs(want) > 1e-6 * norm
            sign = np.mean(np.sign(got[:, nonzero]) == np.sign(want[nonzero]))
            cells.append(f"{rms / norm:.2f}, {sign:.0%}")
        cells[3:4] = cells[3].split(", ")
        print(" | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="quickstart", choices=sorted(SPACES))
    parser.add_argument("--objective", default="edp", choices=OBJECTIVES)
    parser.add_argument("--draws", type=int, default=256)
    parser.add_argument("--samples", default="1,4,16")
    parser.add_argument("--logits", default="uniform,peaked")
    args = parser.parse_args()
    for kind in args.logits.split(","):
        measure(args.space, args.objective, args.draws,
                [int(n) for n in args.samples.split(",")], kind)


if __name__ == "__main__":
    main()
