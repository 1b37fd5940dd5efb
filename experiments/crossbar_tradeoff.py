"""Homogeneous crossbar baselines on digits: noisy accuracy against EDAP, per crossbar size and ADC.

Command:  python experiments/crossbar_tradeoff.py [--out runs/crossbar_tradeoff]
              [--sizes 16,32,64,128] [--adc lossless,6,4] [--sigma 0.1] [--ir-drop 0.0]
              [--chips 8] [--steps 600] [--seed 0]

One small residual CNN for the embedded 8x8 digits (a 3x3 stem to 16 channels, a basic block at 16,
a strided basic block to 32 with a 1x1 shortcut, global pooling, a 32->10 classifier) is trained
once, digitally (SGD with momentum on the train split), and then run on every homogeneous crossbar
accelerator of the grid: every layer on crossbars of one size, one ADC resolution. For each design

- ``noisy accuracy``: top-1 accuracy on the test split with every conv and the classifier through
  :mod:`dianjax.nas.crossbar_noise` (8-bit weights on 2-bit cells, 8-bit inputs streamed by 1-bit
  DACs, the design's ADC, conductance variation ``--sigma``, IR drop ``--ir-drop``), mean and sd over
  ``--chips`` draws of the device noise (each draw one programmed chip). Fixed designs, nothing is
  selected on the test split;
- ``EDAP``: energy x latency x area of the same network on the same design from ``sim`` (the crossbar
  template's exact counts, priced by its ISAAC-cited table), with latency and energy per image.

The stem reads normalized (signed) images: ``crossbar_noise`` runs their negative part as a second
pass, which ``sim`` (inputs counted as one unsigned pass) does not price; every other layer reads
ReLU outputs.

Why the size matters for accuracy here: an ADC of a fixed resolution spans the full-scale sum of a
whole crossbar (``X * (2^dac - 1) * (2^cell - 1)``), so a larger crossbar quantizes each column's
partial sum more coarsely; "lossless" gives every size the resolution that reads every sum exactly
(more ADC bits, more ADC energy and area on larger crossbars). IR drop (``--ir-drop``, an assumed
linear model, :mod:`dianjax.nas.crossbar_noise`) adds a size-dependent loss on top.

Writes ``OUT/tradeoff.csv``, ``OUT/tradeoff.json`` (designs, accuracies, sim totals, settings) and
``OUT/tradeoff.png`` (noisy accuracy vs EDAP per ADC setting, the Pareto-optimal designs marked).
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from dianjax import data
from dianjax.analysis.front import front_indices
from dianjax.nas import crossbar_noise
from sim import CrossbarAccelerator, Layer, Network, simulate_network
from sim.crossbar.architecture import CROSSBAR_SIZES, LOSSLESS

WIDTHS = (16, 32)
BITS = {"weight_bits": 8, "cell_bits": 2, "input_bits": 8, "dac_bits": 1}


def network(batch: int = 1) -> Network:
    """The CNN of :class:`ResNetDigits` as the simulator's workload (8x8x1 digits)."""
    a, b = WIDTHS
    return Network("resnet_digits", (
        Layer("stem", C=1, M=a, H=8, W=8, R=3, S=3, padding=1, N=batch),
        Layer("block1.conv1", C=a, M=a, H=8, W=8, R=3, S=3, padding=1, N=batch),
        Layer("block1.conv2", C=a, M=a, H=8, W=8, R=3, S=3, padding=1, N=batch),
        Layer("block2.conv1", C=a, M=b, H=8, W=8, R=3, S=3, stride=2, padding=1, N=batch),
        Layer("block2.conv2", C=b, M=b, H=4, W=4, R=3, S=3, padding=1, N=batch),
        Layer("block2.shortcut", C=a, M=b, H=8, W=8, stride=2, N=batch),
        Layer("fc", C=b, M=10, N=batch),
    ))


class ResNetDigits(nn.Module):
    """The digits CNN; every conv and the classifier on crossbars when ``analog`` is given."""

    analog: crossbar_noise.AnalogConfig | None = None

    def _conv(self, features, kernel, stride, name):
        hook = ({} if self.analog is None else {"conv_general_dilated_cls": functools.partial(
            crossbar_noise.CrossbarConvGeneralDilated, self.analog)})
        pad = kernel // 2
        return nn.Conv(features, (kernel, kernel), (stride, stride), ((pad, pad), (pad, pad)),
                       use_bias=False, name=name, **hook)

    def _bn(self, train, name):
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, name=name)

    @nn.compact
    def __call__(self, x, train: bool = False):
        a, b = WIDTHS
        x = nn.relu(self._bn(train, "stem_bn")(self._conv(a, 3, 1, "stem")(x)))
        y = nn.relu(self._bn(train, "b1_bn1")(self._conv(a, 3, 1, "block1_conv1")(x)))
        x = nn.relu(x + self._bn(train, "b1_bn2")(self._conv(a, 3, 1, "block1_conv2")(y)))
        y = nn.relu(self._bn(train, "b2_bn1")(self._conv(b, 3, 2, "block2_conv1")(x)))
        y = self._bn(train, "b2_bn2")(self._conv(b, 3, 1, "block2_conv2")(y))
        x = nn.relu(y + self._bn(train, "b2_bnsc")(self._conv(b, 1, 2, "block2_shortcut")(x)))
        x = jnp.mean(x, axis=(1, 2))
        hook = ({} if self.analog is None else {"dot_general_cls": functools.partial(
            crossbar_noise.CrossbarDotGeneral, self.analog)})
        return nn.Dense(10, name="fc", **hook)(x)


def _split(name: str) -> tuple[np.ndarray, np.ndarray]:
    split = data.load("digits", name)
    batches = list(split.eval_batches(len(split)))
    return batches[0]["image"], batches[0]["label"]


def train(steps: int, seed: int) -> dict:
    """The digital network trained on the digits train split (SGD, momentum, cosine)."""
    train_split = data.load("digits", "train")
    model = ResNetDigits()
    variables = model.init(jax.random.key(seed), jnp.zeros((1, 8, 8, 1)))
    tx = optax.sgd(optax.cosine_decay_schedule(0.1, steps), momentum=0.9, nesterov=True)
    opt_state = tx.init(variables["params"])

    @jax.jit
    def step(variables, opt_state, images, labels):
        def loss_fn(params):
            logits, updates = model.apply({**variables, "params": params}, images, train=True,
                                          mutable=["batch_stats"])
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            return loss, updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
        grads = jax.tree.map(lambda g, p: g + 5e-4 * p, grads, variables["params"])
        param_updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(variables["params"], param_updates)
        return {"params": params, **updates}, opt_state, loss

    for i in tqdm.trange(steps, desc="train (digital)", unit="step"):
        batch = train_split.train_batch(i, 64, seed)
        variables, opt_state, _ = step(variables, opt_state, batch["image"], batch["label"])
    return variables


def designs(sizes, adcs) -> list[CrossbarAccelerator]:
    """Every (ADC, size) design, validated; a design whose resolved ADC resolution another one
    already has at that size (e.g. "lossless" = 6 bits on 16 rows) is listed once."""
    grid, seen = [], set()
    for adc in adcs:
        for size in sizes:
            acc = CrossbarAccelerator(crossbar_size=size, adc_bits=adc, **BITS)
            if (size, acc.adc_resolution_bits()) not in seen:
                seen.add((size, acc.adc_resolution_bits()))
                grid.append(acc)
    return grid


def evaluate(variables, accelerator: CrossbarAccelerator, images, labels, sigma: float,
             ir_drop: float, chips: int, key) -> crossbar_noise.NoisyAccuracy:
    """Noisy test accuracy of the trained network on ``accelerator`` (every layer on its size)."""
    config = crossbar_noise.analog_config(accelerator, conductance_sigma=sigma, ir_drop=ir_drop)
    model = ResNetDigits(analog=config)

    def apply(variables, x, key):
        return model.apply(variables, x, rngs={crossbar_noise.RNG_COLLECTION: key})

    return crossbar_noise.noisy_evaluate(apply, variables, images, labels, key, chips)


def _parse_adc(text: str) -> list:
    return [LOSSLESS if item == LOSSLESS else int(item) for item in text.split(",")]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/crossbar_tradeoff")
    parser.add_argument("--sizes", default="16,32,64,128",
                        help=f"crossbar sizes, each one of {list(CROSSBAR_SIZES)}")
    parser.add_argument("--adc", default="lossless,6,4", help="ADC bits, or 'lossless'")
    parser.add_argument("--sigma", type=float, default=0.1, help="conductance variation sd")
    parser.add_argument("--ir-drop", type=float, default=0.0)
    parser.add_argument("--chips", type=int, default=8, help="noise draws per design (>= 2)")
    parser.add_argument("--steps", type=int, default=600, help="digital training steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    grid = designs([int(s) for s in args.sizes.split(",")], _parse_adc(args.adc))  # checks first
    crossbar_noise.AnalogConfig(conductance_sigma=args.sigma, ir_drop=args.ir_drop)
    if args.chips < 2:
        parser.error(f"--chips must be >= 2 (an sd needs two draws), got {args.chips}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    variables = train(args.steps, args.seed)
    images, labels = _split("test")
    digital = float(np.mean(np.argmax(ResNetDigits().apply(variables, images), -1) == labels))
    print(f"digital test accuracy {digital:.4f} ({time.perf_counter() - start:.0f} s)")
    rows = []
    key = jax.random.key(args.seed + 1)
    for acc in tqdm.tqdm(grid, desc="designs", unit="design"):
        noisy = evaluate(variables, acc, images, labels, args.sigma, args.ir_drop, args.chips, key)
        report = simulate_network(network(), acc)
        rows.append({"crossbar_size": acc.crossbar_size, "adc": str(acc.adc_bits),
                     "adc_bits_used": acc.adc_resolution_bits(), "noisy_acc_mean": noisy.mean,
                     "noisy_acc_sd": noisy.sd, "crossbars": report.crossbars,
                     "latency_s": report.latency_s, "energy_pj": report.energy_pj,
                     "area_mm2": report.area_mm2, "edap_pj_s_mm2": report.edap_pj_s_mm2})
    front = set(front_indices([r["noisy_acc_mean"] for r in rows],
                              [r["edap_pj_s_mm2"] for r in rows]).tolist())
    for index, row in enumerate(rows):
        row["pareto"] = index in front
    print(f"\n{'size':>5s} {'ADC':>9s} {'bits':>4s} {'noisy acc':>14s} {'xbars':>5s} "
          f"{'latency us':>10s} {'energy nJ':>9s} {'area mm2':>8s} {'EDAP':>10s} front")
    for r in rows:
        print(f"{r['crossbar_size']:5d} {r['adc']:>9s} {r['adc_bits_used']:4d} "
              f"{r['noisy_acc_mean']:7.4f}±{r['noisy_acc_sd']:.4f} {r['crossbars']:5d} "
              f"{r['latency_s'] * 1e6:10.2f} {r['energy_pj'] / 1e3:9.2f} {r['area_mm2']:8.4f} "
              f"{r['edap_pj_s_mm2']:10.4g} {'*' if r['pareto'] else ''}")
    settings = {**vars(args), **BITS, "digital_test_accuracy": digital,
                "wall_s": time.perf_counter() - start}
    (out / "tradeoff.json").write_text(json.dumps({"settings": settings, "designs": rows},
                                                  indent=1) + "\n")
    with (out / "tradeoff.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _plot(rows, digital, args, out / "tradeoff.png")
    print(f"wrote {out}/tradeoff.csv, tradeoff.json, tradeoff.png "
          f"({time.perf_counter() - start:.0f} s)")
    return rows


def _plot(rows, digital, args, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for adc in dict.fromkeys(r["adc"] for r in rows):
        group = [r for r in rows if r["adc"] == adc]
        ax.errorbar([r["edap_pj_s_mm2"] for r in group], [r["noisy_acc_mean"] for r in group],
                    yerr=[r["noisy_acc_sd"] for r in group], marker="o", capsize=3,
                    label=f"ADC {adc}")
        for r in group:
            ax.annotate(str(r["crossbar_size"]), (r["edap_pj_s_mm2"], r["noisy_acc_mean"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = [r for r in rows if r["pareto"]]
    ax.scatter([r["edap_pj_s_mm2"] for r in front], [r["noisy_acc_mean"] for r in front],
               s=140, facecolors="none", edgecolors="k", label="Pareto-optimal")
    ax.axhline(digital, color="gray", linestyle=":", label="digital")
    ax.set_xscale("log")
    ax.set_xlabel("EDAP per image (pJ s mm$^2$, sim)")
    ax.set_ylabel(f"noisy test accuracy (mean ± sd, {args.chips} chips)")
    ax.set_title(f"digits CNN on homogeneous crossbars (σ={args.sigma}, IR drop {args.ir_drop}); "
                 "labels: crossbar size", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
