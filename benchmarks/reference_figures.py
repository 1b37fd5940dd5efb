"""Pinned reference figures: ResNet-20 and MobileNetV2 on three named accelerators, from the engines.

    python benchmarks/reference_figures.py                                   # compute and print
    python benchmarks/reference_figures.py --write tests/data/reference_figures.json

Every count is computed by the cycle-stepping oracles, not by the closed forms: compute cycles, MACs
and SRAM accesses by :mod:`sim.systolic.engine` (one group of each layer run on random integer
operands, product checked against ``A @ B``; groups are identical and run one after another), DRAM
words and stall cycles by :mod:`sim.systolic.memory_engine` on the engine's fold timing. The script
checks that ``sim.simulate_network`` gives the same counts, and takes energy, latency and area from
it (a table times those counts). ``tests/sim/test_reference_figures.py`` then pins ``sim`` and the
cost model to the written figures, so that a change to either that moves a figure fails until the
figures are deliberately recomputed with this script. About 5 minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sim import (
    FOLD_ORDERS,
    Accelerator,
    Mapping,
    gemm_shape,
    get_network,
    simulate_network,
)
from sim.arith import ceil_div
from sim.systolic.engine import run_gemm
from sim.systolic.memory import buffer_words
from sim.systolic.memory_engine import run_memory
from sim.systolic.schedule import FoldSchedule

NETWORKS = ("resnet20", "mobilenetv2")
ACCELERATORS = {
    "edge_os_16x16": Accelerator(rows=16, cols=16, dataflow="os", ifmap_sram_kb=16,
                                 filter_sram_kb=16, ofmap_sram_kb=8,
                                 dram_bandwidth_words_per_cycle=4),
    "default_ws_32x32": Accelerator(),
    "tall_is_64x16": Accelerator(rows=64, cols=16, dataflow="is", ifmap_sram_kb=128,
                                 filter_sram_kb=32, ofmap_sram_kb=64,
                                 dram_bandwidth_words_per_cycle=32),
}
# Fold order per accelerator: SCALE-Sim's on two, the other order on the third.
FOLD_ORDER = {"edge_os_16x16": "col_outer", "default_ws_32x32": "col_outer",
              "tall_is_64x16": "row_outer"}
COUNTS = ("compute_cycles", "stall_cycles", "total_cycles", "macs", "ifmap_sram_reads",
          "filter_sram_reads", "ofmap_sram_writes", "ifmap_dram_reads", "filter_dram_reads",
          "ofmap_dram_reads", "ofmap_dram_writes")


def engine_layer(layer, accelerator: Accelerator, fold_order: str, rng) -> dict[str, int]:
    """The counts of one layer from the two cycle-level engines."""
    gemm = gemm_shape(layer, accelerator.dataflow)
    pixels, window = layer.N * layer.P * layer.Q, layer.R * layer.S * layer.C // layer.groups
    a = rng.integers(-3, 4, (pixels, window))
    b = rng.integers(-3, 4, (window, layer.M // layer.groups))
    run = run_gemm(a, b, accelerator, Mapping(fold_order))
    if not np.array_equal(run.output, a @ b):
        raise AssertionError(f"engine product differs from A @ B on {layer.name}")
    row_folds = ceil_div(gemm.Sr, accelerator.rows)
    col_folds = ceil_div(gemm.Sc, accelerator.cols)
    per_fold = (run.compute_cycles + 1) // run.folds
    schedule = FoldSchedule(row_folds=row_folds, col_folds=col_folds, folds=run.folds,
                            cycles_per_fold=per_fold, compute_cycles=run.compute_cycles,
                            ifmap_sram_reads=run.ifmap_sram_reads,
                            filter_sram_reads=run.filter_sram_reads,
                            ofmap_sram_writes=run.ofmap_sram_writes)
    memory = run_memory(gemm, schedule, accelerator.dataflow, fold_order,
                        buffer_words(accelerator), accelerator.dram_bandwidth_words_per_cycle)
    groups = layer.groups
    return {"compute_cycles": groups * run.compute_cycles, "stall_cycles": memory.stall_cycles,
            "total_cycles": memory.total_cycles, "macs": groups * run.macs,
            "ifmap_sram_reads": groups * run.ifmap_sram_reads,
            "filter_sram_reads": groups * run.filter_sram_reads,
            "ofmap_sram_writes": groups * run.ofmap_sram_writes,
            "ifmap_dram_reads": memory.ifmap_dram_reads,
            "filter_dram_reads": memory.filter_dram_reads,
            "ofmap_dram_reads": memory.ofmap_dram_reads,
            "ofmap_dram_writes": memory.ofmap_dram_writes}


def figures(network_name: str, accelerator_name: str) -> dict:
    """Engine totals of a network on a named accelerator, with sim's energy, latency and area."""
    network = get_network(network_name)
    accelerator, fold_order = ACCELERATORS[accelerator_name], FOLD_ORDER[accelerator_name]
    rng = np.random.default_rng(0)
    totals = dict.fromkeys(COUNTS, 0)
    for layer in network:
        for name, value in engine_layer(layer, accelerator, fold_order, rng).items():
            totals[name] += value
    report = simulate_network(network, accelerator, Mapping(fold_order)).totals()
    differ = {name: (totals[name], report[name]) for name in COUNTS if totals[name] != report[name]}
    if differ:
        raise AssertionError(f"sim differs from the engines on {network_name} / "
                             f"{accelerator_name}: {differ}")
    return {"network": network_name, "accelerator_name": accelerator_name,
            "accelerator": accelerator.to_dict(), "fold_order": fold_order, **totals,
            "energy_pj": report["energy_pj"], "energy": report["energy"],
            "latency_s": report["latency_s"], "area_mm2": report["area_mm2"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    for network_name in NETWORKS:
        for accelerator_name in ACCELERATORS:
            start = time.perf_counter()
            row = figures(network_name, accelerator_name)
            rows.append(row)
            dram = sum(row[f] for f in COUNTS if "dram" in f)
            print(f"{network_name:<12} {accelerator_name:<17} cycles {row['total_cycles']:>10,} "
                  f"(stall {row['stall_cycles']:>9,})  DRAM words {dram:>10,}  "
                  f"energy {row['energy_pj'] / 1e6:9.3f} uJ  area {row['area_mm2']:.4f} mm2  "
                  f"[{time.perf_counter() - start:.0f} s]", flush=True)
    if args.write:
        args.write.write_text(json.dumps({"fold_orders": list(FOLD_ORDERS), "figures": rows},
                                         indent=1) + "\n")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
