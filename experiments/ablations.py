"""Ablations of the joint co-search: the five search modes on one config and the same seeds.

Command:  python experiments/ablations.py [--config quickstart] [--config.key=value ...]
              [--out runs/ablations] [--modes joint,no_hw_loss,fixed_hw,fixed_net,decoupled]
              [--seeds 0]
          With ``--config cifar10`` each run is a full CIFAR-10 search (one GPU).
Measured: ``--seeds 0,1`` on quickstart (10 searches of 41-56 s) took about 8 minutes on a shared
2-core CPU; mean supernet_val / simulated EDP (pJ s): joint 0.674 / 17.4, no_hw_loss 0.929 / 323,
fixed_hw 0.608 / 18.1, fixed_net 0.972 / 239, decoupled 0.920 / 323; cost-model relative error
below 2e-7 on every figure.

The modes (``config.search.mode``, :mod:`dianjax.search.config`), each a config switch of one code
path, the rest of the config equal:

- ``joint``: network and accelerator searched together (DIAN);
- ``no_hw_loss``: the network searched for accuracy alone, the hardware following it;
- ``fixed_hw``: network-only search for the accelerator ``config.search.fixed_hardware``;
- ``fixed_net``: hardware-only search for the network ``config.search.fixed_ops``; when the config
  names none, MobileNetV2's block (Sandler et al., CVPR 2018: 3x3 depthwise, the largest expansion
  of the space with a 3x3 kernel) in every layer, the hand-designed network of the space;
- ``decoupled``: NAS first, then hardware search for the derived network.

Table: mode, seed, ops, accelerator, supernet accuracy on the val part of the train split (and on
the test split, and ``derived_test`` when the config trains the derived network), the simulator's
latency (s), energy (pJ), area (mm^2) and EDP (pJ s), the cost model's relative error against the
simulator, and the search's wall time (s); with several seeds also the mean and standard deviation
per mode. Runs live in ``OUT/runs/<mode>/seed<seed>``: a finished one is read back, an interrupted
one resumes from its checkpoint; the table covers every run under ``OUT/runs``. Writes
``ablations.csv``, ``ablations.json`` and ``ablations.png`` (accuracy vs EDP per mode).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import ml_collections
import tqdm

from dianjax import compile_cache
from dianjax.analysis import pareto
from dianjax.cli import report_error
from dianjax.config import load_config, split_config_args
from dianjax.data import DATASETS
from dianjax.nas.search_space import OP_SPECS, SearchSpace, get_space
from dianjax.search.config import MODES, make_setup

TABLE_COLUMNS = ("method", "seed", "ops", "accelerator", "supernet_val", "supernet_test",
                 "derived_test", "latency_s", "energy_pj", "area_mm2", "edp_pj_s", "err_latency_s",
                 "err_energy_pj", "err_edp_pj_s", "search_wall_s")
MEAN_COLUMNS = ("supernet_val", "supernet_test", "derived_test", "latency_s", "energy_pj",
                "area_mm2", "edp_pj_s", "err_edp_pj_s", "search_wall_s")


def mobilenet_v2_ops(space: SearchSpace) -> tuple[str, ...]:
    """MobileNetV2's block in every layer: kernel 3 with the largest expansion the space offers."""
    candidates = [name for name in space.op_names if OP_SPECS[name].kernel == 3]
    if not candidates:
        raise ValueError(f"the space has no 3x3 MBConv op for mode fixed_net's default network; "
                         f"set config.search.fixed_ops (ops: {list(space.op_names)})")
    return (max(candidates, key=lambda name: OP_SPECS[name].expansion),) * space.num_layers


def mode_config(base: ml_collections.ConfigDict, mode: str, seed: int) -> ml_collections.ConfigDict:
    """``base`` in ``mode`` with ``seed``; fixed_net gets MobileNetV2's ops if it names none."""
    values = {"search.mode": mode, "seed": seed}
    if mode == "fixed_net" and not base.search.fixed_ops:
        space = get_space(base.space, num_classes=DATASETS[base.data.dataset].num_classes)
        values["search.fixed_ops"] = mobilenet_v2_ops(space)
    return pareto.with_values(base, values)


def _parse(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/ablations", help="the ablation's directory")
    parser.add_argument("--modes", default=",".join(MODES), help=f"subset of {MODES}")
    parser.add_argument("--seeds", default=None, help="search seeds (default: config.seed)")
    spec, overrides, rest = split_config_args(list(argv))
    args = parser.parse_args(rest)
    config = load_config(spec or "quickstart", overrides)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise ValueError(f"--modes must be a comma-separated subset of {list(MODES)}, "
                         f"got {args.modes!r}")
    try:
        seeds = ([int(s) for s in args.seeds.split(",") if s.strip()] if args.seeds is not None
                 else [config.seed])
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers >= 0, "
                         f"got {args.seeds!r}") from None
    if not seeds or any(seed < 0 for seed in seeds):
        raise ValueError(f"--seeds must be comma-separated integers >= 0, got {args.seeds!r}")
    return config, Path(args.out), list(dict.fromkeys(modes)), list(dict.fromkeys(seeds))


def main(argv: list[str] | None = None) -> int:
    """Runs (or resumes) the five modes, prints the comparison table, writes the summaries."""
    compile_cache.enable(compile_cache.default_dir())
    try:
        config, out, modes, seeds = _parse(sys.argv[1:] if argv is None else argv)
        runs = {f"{mode}/seed{seed}": mode_config(config, mode, seed)
                for seed in seeds for mode in modes}
        for run_config in runs.values():
            make_setup(run_config)  # every run's config is valid before the first one starts
    except ValueError as error:
        return report_error(error)
    for name, run_config in tqdm.tqdm(runs.items(), desc="ablations", unit="run", disable=None):
        pareto.run_or_load(run_config, out / "runs" / name)
    rows = pareto.collect_results(out / "runs")
    print(pareto.format_table(rows, TABLE_COLUMNS))
    means = pareto.mean_rows(rows, "method", MEAN_COLUMNS)
    if any(entry["runs"] > 1 for entry in means):
        print("\nmean (std) over seeds")
        print(pareto.format_table(
            means, ("method", "runs", *(c for m in MEAN_COLUMNS for c in (m, f"{m}_std")))))
    pareto.write_csv(rows, out / "ablations.csv", pareto.ROW_COLUMNS)
    (out / "ablations.json").write_text(json.dumps({"runs": rows, "means": means}, indent=1) + "\n")
    pareto.plot_fronts(rows, out / "ablations.png", "supernet_val",
                       title=f"{config.data.dataset}: search modes, accuracy vs simulated EDP")
    print(f"-> {out / 'ablations.csv'}, {out / 'ablations.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
