"""Speed of the closed-form simulator, and its ratio against SCALE-Sim on the same layers.

    python benchmarks/sim_speed.py [--scalesim-python /path/to/venv/bin/python] [--seconds 2]

Prints layers/second of ``sim.simulate_layer`` over the layers of the three reference networks,
the time of a whole ResNet-20, and, when a Python with SCALE-Sim 3.0.0 installed is found (the
``--scalesim-python`` flag, else ``$SCALESIM_PYTHON``), SCALE-Sim's time on a few ResNet-20 layers
(in a subprocess, timing only its ``run`` and report step) with the ratio per layer; it also checks
that both give the same compute cycles and SRAM counts. Goal: >= 1000x faster per layer with the
default memory model. The same layers are also timed with ``memory_model="scalesim"`` (our
re-implementation of SCALE-Sim's trace-driven buffers, a compatibility model, not the fast path).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from sim import Accelerator, Layer, mobilenetv2, resnet20, simulate_layer, simulate_network, vgg11

# Runs in SCALE-Sim's own interpreter: one layer, timed, counts printed as JSON.
_SCALESIM_DRIVER = """
import contextlib, io, json, sys, time
from scalesim.layout_utils import layouts
from scalesim.scale_config import scale_config
from scalesim.single_layer_sim import single_layer_sim
from scalesim.topology_utils import topologies
case = json.loads(sys.argv[1])
cfg = scale_config()
cfg.array_rows, cfg.array_cols, cfg.df = case["rows"], case["cols"], case["dataflow"]
cfg.ifmap_sz_kb, cfg.filter_sz_kb, cfg.ofmap_sz_kb = case["sram_kb"]
cfg.use_user_bandwidth, cfg.bandwidths, cfg.valid_conf_flag = True, [case["bandwidth"]], True
topo = topologies()
topo.load_layer_params_from_list("L", ["L", case["H"], case["W"], case["R"], case["S"], case["C"],
                                       case["M"], case["stride"], case["stride"], 1, 1])
topo.topo_calc_hyperparams()
layer = single_layer_sim()
with contextlib.redirect_stdout(io.StringIO()):
    layer.set_params(layer_id=0, config_obj=cfg, topology_obj=topo, layout_obj=layouts(),
                     verbose=False)
    start = time.perf_counter()
    layer.run()
    layer.calc_report_data()
    seconds = time.perf_counter() - start
compute, detail = layer.get_compute_report_items(), layer.get_detail_report_items()
print(json.dumps({"seconds": seconds, "compute_cycles": int(compute[1] - compute[2]),
                  "sram": [int(detail[2]), int(detail[5]), int(detail[8])]}))
"""


def _time_per_call(function, min_seconds: float) -> float:
    """Median seconds per call over batches that together run at least ``min_seconds``."""
    calls, samples, start = 1, [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(samples) < 5:
        batch_start = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - batch_start) / calls)
        calls = min(calls * 2, 1024)
    return statistics.median(samples)


def _scalesim_layer(python: str, layer: Layer, acc: Accelerator) -> dict:
    case = {"rows": acc.rows, "cols": acc.cols, "dataflow": acc.dataflow,
            "sram_kb": [int(acc.ifmap_sram_kb), int(acc.filter_sram_kb), int(acc.ofmap_sram_kb)],
            "bandwidth": int(acc.dram_bandwidth_words_per_cycle), "H": layer.H + 2 * layer.padding,
            "W": layer.W + 2 * layer.padding, "R": layer.R, "S": layer.S, "C": layer.C,
            "M": layer.M, "stride": layer.stride}
    result = subprocess.run([python, "-c", _SCALESIM_DRIVER, json.dumps(case)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON"),
                        help="Python interpreter with scalesim 3.0.0 installed (default: "
                             "$SCALESIM_PYTHON; SCALE-Sim timing is skipped without one)")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="minimum measuring time per figure (default 2)")
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error(f"--seconds must be > 0, got {args.seconds}")
    if args.scalesim_python and not Path(args.scalesim_python).is_file():
        parser.error(f"--scalesim-python {args.scalesim_python!r} is not a file")

    acc = Accelerator()
    layers = [layer for network in (resnet20(), mobilenetv2(), vgg11()) for layer in network]
    per_sweep = _time_per_call(lambda: [simulate_layer(layer, acc) for layer in layers],
                               args.seconds)
    print(f"simulate_layer: {len(layers) / per_sweep:,.0f} layers/s "
          f"({len(layers)} layers of ResNet-20, MobileNetV2, VGG-11 on {acc.rows}x{acc.cols} "
          f"{acc.dataflow.upper()})")
    network = resnet20()
    per_network = _time_per_call(lambda: simulate_network(network, acc), args.seconds)
    print(f"simulate_network(resnet20): {per_network * 1e3:.3f} ms")

    if not args.scalesim_python:
        print("SCALE-Sim: skipped (no --scalesim-python / $SCALESIM_PYTHON)")
        return
    # stride-1 layers, where SCALE-Sim's output size convention equals ours
    names = ("conv1", "stage2.block1.conv1", "stage3.block1.conv1", "fc")
    by_name = {layer.name: layer for layer in network}
    ratios, scalesim_model_ratios = [], []
    for name in names:
        layer = by_name[name]
        theirs = _scalesim_layer(args.scalesim_python, layer, acc)
        ours = simulate_layer(layer, acc)
        ours_s = _time_per_call(lambda layer=layer: simulate_layer(layer, acc), args.seconds / 4)
        same = (theirs["compute_cycles"], theirs["sram"]) == (
            ours.compute_cycles,
            [ours.ifmap_sram_reads, ours.filter_sram_reads, ours.ofmap_sram_writes])
        ratios.append(theirs["seconds"] / ours_s)
        scalesim_model_s = _time_per_call(
            lambda layer=layer: simulate_layer(layer, acc, memory_model="scalesim"),
            args.seconds / 4)
        scalesim_model_ratios.append(theirs["seconds"] / scalesim_model_s)
        print(f"SCALE-Sim {name:22s} {theirs['seconds']:8.3f} s   sim {ours_s * 1e6:8.1f} us   "
              f"{ratios[-1]:10,.0f}x   counts {'equal' if same else 'DIFFER'}   "
              f"memory_model=scalesim {scalesim_model_s * 1e3:7.2f} ms "
              f"{scalesim_model_ratios[-1]:6,.0f}x")
    print(f"speed-up over SCALE-Sim: geometric mean {statistics.geometric_mean(ratios):,.0f}x, "
          f"min {min(ratios):,.0f}x (goal >= 1000x); with memory_model=scalesim geometric mean "
          f"{statistics.geometric_mean(scalesim_model_ratios):,.0f}x")


if __name__ == "__main__":
    main()
