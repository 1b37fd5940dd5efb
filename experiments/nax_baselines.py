"""NAX on digits: the searched (network, crossbar accelerator) pair against homogeneous ResNet
baselines on every crossbar size, all retrained noise-aware and evaluated on the full noise model.

Command:  python experiments/nax_baselines.py [--out runs/nax_baselines] [--search-dir DIR]
              [--sizes 16,32,64,128] [--adc 8] [--epochs N] [--seed 0]

1. The search: ``dianjax search --config nax_quickstart`` into ``OUT/search`` (or the finished run
   in ``--search-dir``): the derived network, per-slot crossbar sizes and ADC bits.
2. The baselines: the backbone with a ``res_k3`` block at every layer (the nax_quickstart space's
   ResNet, 1x1 projection shortcuts where the shape changes) with every conv and the classifier
   on crossbars of one size (``--sizes``), ADC ``--adc``, the search's fixed bits (4-bit cells,
   2-bit DACs, 8-bit weights and inputs) and its conductance variation.
3. Every pair, the searched one included, is trained from scratch by ``dianjax train`` with
   ``config.analog`` (noise-aware training on the search's crossbar model, the final_train
   schedule of the quickstart, ``--epochs`` overriding its 30 epochs) and evaluated on the test split on the full bit-level model over
   8 chips (mean and sd); its EDAP (energy x latency x area per image) comes from ``sim`` with the
   columns-per-ADC choice of the hardware space that minimizes it. The search itself selected on
   the val part of the train split only; the test split only measures.

Writes ``OUT/nax_baselines.json`` (rows: pair, digital and crossbar test accuracy, sim figures),
``OUT/nax_baselines.csv`` and ``OUT/nax_baselines.png`` (crossbar accuracy vs EDAP). Each training
run keeps its own workdir under ``OUT`` and resumes; a finished one is read back, not rerun.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from dianjax.config import load_config
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.nas.search_space import get_space, layer_table
from dianjax.nas.supernet import DerivedNetwork
from dianjax.search.loop import run_search
from dianjax.search.result import RESULT_FILE, simulated_figures
from dianjax.train import RESULT_FILE as TRAIN_RESULT_FILE
from dianjax.train import train_and_evaluate
from sim.crossbar import LOSSLESS

BASELINE_OP = "res_k3"
FIGURES = ("latency_s", "energy_pj", "area_mm2", "edap_pj_s_mm2")


def _adc(text: str):
    return text if text == LOSSLESS else int(text)


def search_result(args) -> dict:
    """The nax_quickstart search's result.json (run into ``OUT/search`` unless given)."""
    workdir = Path(args.search_dir) if args.search_dir else args.out / "search"
    path = workdir / RESULT_FILE
    if not path.is_file():
        if args.search_dir:
            raise SystemExit(f"--search-dir {workdir} has no {RESULT_FILE}")
        config = load_config("nax_quickstart")
        config.seed = args.seed
        run_search(config, workdir)
    return json.loads(path.read_text())


def best_design(search_config, ops: tuple[str, ...], sizes: dict[str, int], adc) -> tuple:
    """The design of ``ops`` on ``sizes`` per slot and ADC ``adc`` with the columns-per-ADC
    choice of the search's hardware space that gives the lowest simulated EDAP, and its figures."""
    space = get_space(search_config.space)
    table = layer_table(space, search_config.cost.batch)
    hardware = HardwareSpace.from_config(search_config.hardware)
    network = DerivedNetwork.from_op_names(space, ops).network(batch=search_config.cost.batch)
    best = None
    for accelerator in hardware.accelerators():
        if accelerator.adc_bits != adc:
            continue
        design = HardwareDesign(accelerator, sizes)
        figures = simulated_figures(network, design, table, None)
        if best is None or figures["edap_pj_s_mm2"] < best[1]["edap_pj_s_mm2"]:
            best = (design, figures)
    if best is None:
        raise SystemExit(f"ADC {adc!r} is not a choice of the search's hardware space: "
                         f"{list(hardware.adc_bits)}")
    return best


def retrain(args, name: str, search_config, ops, sizes: dict[str, int], adc) -> dict:
    """``dianjax train`` of the pair with noise-aware training; its train_result.json."""
    workdir = args.out / name
    path = workdir / TRAIN_RESULT_FILE
    if path.is_file():
        return json.loads(path.read_text())
    config = load_config("train_derived")
    final = search_config.final_train
    slots = layer_table(get_space(search_config.space)).mapping_slots
    config.update(dict(dataset=search_config.data.dataset, space=search_config.space,
                       ops=tuple(ops), seed=args.seed,
                       **{field: final[field] for field in ("num_epochs", "batch_size",
                                                            "learning_rate", "weight_decay",
                                                            "label_smoothing")}))
    if args.epochs:
        config.num_epochs = args.epochs
    hardware = search_config.hardware
    config.analog.update(dict(
        enabled=True, crossbar_sizes=tuple(sizes[slot] for slot in slots), adc_bits=adc,
        cell_bits=hardware.cell_bits[0], dac_bits=hardware.dac_bits[0],
        weight_bits=hardware.weight_bits, input_bits=hardware.input_bits,
        conductance_sigma=search_config.analog.conductance_sigma,
        ir_drop=search_config.analog.ir_drop, eval_samples=search_config.analog.eval_samples))
    return train_and_evaluate(config, workdir)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/nax_baselines"))
    parser.add_argument("--search-dir", default="")
    parser.add_argument("--sizes", default="16,32,64,128")
    parser.add_argument("--adc", default="8")
    parser.add_argument("--epochs", type=int, default=0, help="0: final_train's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    search_config = load_config("nax_quickstart")
    found = search_result(args)
    slots = layer_table(get_space(search_config.space)).mapping_slots
    pairs = [("searched", tuple(found["network"]["ops"]),
              dict(found["hardware"]["fold_orders"]),
              found["hardware"]["accelerator"]["adc_bits"])]
    adc = _adc(args.adc)
    space = get_space(search_config.space)
    for size in (int(s) for s in args.sizes.split(",")):
        pairs.append((f"resnet_x{size}_adc{adc}", (BASELINE_OP,) * space.num_layers,
                      dict.fromkeys(slots, size), adc))
    rows = []
    for name, ops, sizes, pair_adc in pairs:
        design, figures = best_design(search_config, ops, sizes, pair_adc)
        trained = retrain(args, name, search_config, ops, sizes, pair_adc)
        crossbar = trained["test_accuracy_crossbar"]
        rows.append({"pair": name, "ops": list(ops), "adc_bits": pair_adc,
                     "crossbar_sizes": sorted(set(sizes.values())),
                     "columns_per_adc": design.accelerator.columns_per_adc,
                     "digital_test_accuracy": trained["test_accuracy"],
                     "crossbar_test_accuracy": crossbar["mean"],
                     "crossbar_test_sd": crossbar["sd"],
                     **{key: figures[key] for key in FIGURES}})
        print(f"{name:22s} crossbar acc {crossbar['mean']:.4f} +- {crossbar['sd']:.4f}  "
              f"digital {trained['test_accuracy']:.4f}  EDAP {figures['edap_pj_s_mm2']:.4g}",
              flush=True)
    (args.out / "nax_baselines.json").write_text(json.dumps(
        {"rows": rows, "search": {key: found[key] for key in ("network", "hardware", "accuracy",
                                                              "simulated", "search_wall_s")},
         "settings": vars(args) | {"out": str(args.out)}}, indent=1) + "\n")
    with open(args.out / "nax_baselines.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _plot(rows, args.out / "nax_baselines.png")
    return rows


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        searched = row["pair"] == "searched"
        ax.errorbar(row["edap_pj_s_mm2"], row["crossbar_test_accuracy"],
                    yerr=row["crossbar_test_sd"], fmt="*" if searched else "o", ms=12 if searched else 6,
                    color="C3" if searched else "C0", capsize=3)
        ax.annotate(row["pair"], (row["edap_pj_s_mm2"], row["crossbar_test_accuracy"]),
                    fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("EDAP per image (pJ s mm$^2$, sim)")
    ax.set_ylabel("test accuracy on crossbars (8 chips)")
    ax.set_title("NAX on digits: searched pair vs homogeneous ResNet baselines")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
