"""Cross-checks compute cycles and SRAM accesses against SCALE-Sim 3.0.0, layer by layer.

Runs SCALE-Sim (its own virtualenv, through a subprocess: it needs ``numpy<2``) on a broad set of
layers x arrays x dataflows and compares, for each case, its compute cycles ("Total Cycles" minus
"Stall Cycles" of COMPUTE_REPORT.csv) and its ifmap/filter SRAM reads and ofmap SRAM writes
(DETAILED_ACCESS_REPORT.csv) with

* the cycle-stepping engine ``sim.systolic.engine`` (cases whose engine run fits
  ``--engine-budget-s``), and
* the fast model ``sim.simulate_layer`` when it is installed (otherwise that column is skipped).

SCALE-Sim has no batch, no padding and no groups. Each case is fed to it as one group of the layer:
``N == 1`` layers as a convolution whose input is the padded input cropped to
``(P - 1) * stride + R`` rows (and likewise columns), so that SCALE-Sim's output size
``ceil((H - R + stride) / stride)`` equals ours ``floor((H + 2*padding - R) / stride) + 1`` and the
cropped border is never read; batched layers (``N > 1``) as a GEMM (``-i gemm``) with
``N*P*Q`` x ``R*S*C/groups`` x ``M/groups``. SCALE-Sim runs in its bandwidth-estimating mode
(``InterfaceBandwidth: CALC``, stall-free). The fast model's whole-layer counts are compared with
``groups`` times SCALE-Sim's per-group counts.

With ``--memory`` it checks the memory system instead: SCALE-Sim in USER-bandwidth mode
(``InterfaceBandwidth: USER``) on cases with small SRAMs (1-4 SCALE-Sim kB, i.e. 1024-4096 words)
and DRAM bandwidths of 10-50 words per cycle, so that many of them stall, against our
re-implementation ``sim.systolic.scalesim_memory.scalesim_memory``: per case its stall cycles
(COMPUTE_REPORT.csv "Stall Cycles") and DRAM ifmap reads, filter reads and ofmap writes
(DETAILED_ACCESS_REPORT.csv). Each case's SCALE-Sim configuration comes from its ``Accelerator``
through ``scalesim_parameters``; layers are fed as above, one SCALE-Sim process at a time.

Usage (project virtualenv; about 10 minutes on 2 cores, ``--memory`` about 5 minutes on one)::

    python benchmarks/scalesim_crosscheck.py
    python benchmarks/scalesim_crosscheck.py --record tests/data/scalesim_reference.json
    python benchmarks/scalesim_crosscheck.py --memory
    python benchmarks/scalesim_crosscheck.py --memory \\
        --record-memory tests/data/scalesim_user_reference.json

Exits with status 1 if any compared count differs (or, with ``--memory``, SCALE-Sim fails on a
case).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sim import Accelerator, Layer
from sim.systolic.engine import run_gemm
from sim.systolic.scalesim_memory import scalesim_memory, scalesim_parameters

COUNTS = ("compute_cycles", "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes")

# SCALE-Sim configuration written for every run; the array size and dataflow are filled in.
SCALESIM_CONFIG = {
    "general": {"run_name": "crosscheck"},
    "architecture_presets": {
        "ArrayHeight": "<rows>", "ArrayWidth": "<cols>",
        "IfmapSramSzkB": 256, "FilterSramSzkB": 256, "OfmapSramSzkB": 128,
        "IfmapOffset": 0, "FilterOffset": 10000000, "OfmapOffset": 20000000,
        "Bandwidth": 10, "Dataflow": "<dataflow>",
        "ReadRequestBuffer": 32, "WriteRequestBuffer": 32,
    },
    "layout": {
        "IfmapCustomLayout": False, "IfmapSRAMBankBandwidth": 10, "IfmapSRAMBankNum": 10,
        "IfmapSRAMBankPort": 2, "FilterCustomLayout": False, "FilterSRAMBankBandwidth": 10,
        "FilterSRAMBankNum": 10, "FilterSRAMBankPort": 2,
    },
    "sparsity": {"SparsitySupport": "false", "SparseRep": "ellpack_block",
                 "OptimizedMapping": "false", "BlockSize": 8, "RandomNumberGeneratorSeed": 40},
    "run_presets": {"InterfaceBandwidth": "CALC", "UseRamulatorTrace": "False"},
}

# Runs inside SCALE-Sim's virtualenv: argv = config, topology, layout, output dir, "gemm"|"conv".
_DRIVER = """
import sys
from scalesim.scale_sim import scalesim
config, topology, layout, out_dir, mode = sys.argv[1:]
run = scalesim(save_disk_space=True, verbose=False, config=config, topology=topology,
               layout=layout, input_type_gemm=(mode == "gemm"))
run.run_scale(top_path=out_dir)
"""

ARRAYS = ((4, 4), (3, 5), (2, 7), (8, 16), (16, 8), (32, 32), (64, 16), (128, 128))


def layers() -> tuple[Layer, ...]:
    """The layer set: convs of several kernels and strides, pointwise, FC, depthwise, grouped."""
    return (
        Layer.conv("conv3x3_stem", C=3, M=16, H=8, W=8, kernel=3),
        Layer.conv("conv3x3", C=16, M=16, H=8, W=8, kernel=3),
        Layer.conv("conv3x3_s2_odd", C=8, M=16, H=9, W=9, kernel=3, stride=2),
        Layer.conv("conv3x3_s2_even", C=8, M=12, H=8, W=8, kernel=3, stride=2),
        Layer.conv("conv5x5", C=4, M=8, H=7, W=7, kernel=5),
        Layer.conv("conv7x7_s2", C=3, M=8, H=12, W=12, kernel=7, stride=2),
        Layer(name="conv1x3_rect", C=6, M=10, H=5, W=9, R=1, S=3),
        Layer(name="conv2x2_s2_nopad", C=5, M=7, H=7, W=6, R=2, S=2, stride=2),
        Layer.pointwise("pointwise", C=32, M=24, H=6, W=6),
        Layer(name="pointwise_s2", C=16, M=32, H=8, W=8, stride=2),
        Layer.fc("fc_64_10", 64, 10),
        Layer.fc("fc_200_50", 200, 50),
        Layer.fc("fc_48_20_batch4", 48, 20, N=4),
        Layer.depthwise("depthwise3x3", C=8, H=8, W=8, kernel=3),
        Layer.depthwise("depthwise3x3_s2", C=16, H=9, W=9, kernel=3, stride=2),
        Layer.conv("grouped3x3_g2", C=8, M=8, H=6, W=6, kernel=3, groups=2),
        Layer.conv("conv3x3_batch2", C=4, M=8, H=5, W=5, kernel=3, N=2),
        Layer.conv("resnet_conv3x3_16", C=16, M=16, H=32, W=32, kernel=3),
        Layer.conv("resnet_conv3x3_s2", C=16, M=32, H=32, W=32, kernel=3, stride=2),
        Layer.pointwise("mbv2_pointwise", C=96, M=24, H=16, W=16),
        Layer.depthwise("mbv2_depthwise_s2", C=96, H=16, W=16, kernel=3, stride=2),
        Layer.fc("fc_512_100", 512, 100),
    )


@dataclasses.dataclass(frozen=True)
class Case:
    """One layer on one array with one dataflow, and how it is fed to SCALE-Sim."""

    layer: Layer
    rows: int
    cols: int
    dataflow: str

    @property
    def gemm(self) -> dict[str, int]:
        """One group's GEMM: ``pixels`` x ``window`` times ``window`` x ``filters``."""
        layer = self.layer
        return {"pixels": layer.N * layer.P * layer.Q,
                "window": layer.R * layer.S * layer.C // layer.groups,
                "filters": layer.M // layer.groups}

    @property
    def mode(self) -> str:
        return "conv" if self.layer.N == 1 else "gemm"

    def topology_row(self) -> list[int]:
        """The SCALE-Sim topology fields after the layer name (conv or gemm format)."""
        layer = self.layer
        if self.mode == "gemm":
            g = self.gemm
            return [g["pixels"], g["filters"], g["window"]]          # M, N, K
        height = (layer.P - 1) * layer.stride + layer.R
        width = (layer.Q - 1) * layer.stride + layer.S
        return [height, width, layer.R, layer.S, layer.C // layer.groups,
                layer.M // layer.groups, layer.stride]


def cases() -> list[Case]:
    return [Case(layer, rows, cols, dataflow)
            for rows, cols in ARRAYS for dataflow in ("ws", "os", "is") for layer in layers()]


def _config_text(rows: int, cols: int, dataflow: str) -> str:
    return _format_config(_filled(SCALESIM_CONFIG, {"ArrayHeight": rows, "ArrayWidth": cols,
                                                    "Dataflow": dataflow}))


def _filled(config: dict, values: dict[str, object]) -> dict[str, dict[str, object]]:
    """``config`` with the fields named in ``values`` (in any section) replaced."""
    return {section: {key: values.get(key, value) for key, value in fields.items()}
            for section, fields in config.items()}


def _format_config(config: dict[str, dict[str, object]]) -> str:
    lines = []
    for section, fields in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} : {value}" for key, value in fields.items())
        lines.append("")
    return "\n".join(lines)


def _write_inputs(directory: Path, config_text: str, group: list[Case]) -> None:
    """Writes scale.cfg, topology.csv (one layer per case, one input mode) and layout.csv."""
    (directory / "scale.cfg").write_text(config_text)
    header = ("Layer, M, N, K," if group[0].mode == "gemm" else
              "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
              "Num Filter, Strides,")
    rows = [f"L{i}, " + ", ".join(map(str, case.topology_row())) + ","
            for i, case in enumerate(group)]
    (directory / "topology.csv").write_text("\n".join([header, *rows]) + "\n")
    layout_row = "1,1,1,1,1,1,0,1,2,0,1,2,0,1,2,3,4,5,6,7"
    (directory / "layout.csv").write_text(
        "Layer," + ",".join(f"f{i}" for i in range(20)) + ",\n"
        + "".join(f"L{i},{layout_row},\n" for i in range(len(group))))


def _run_scalesim(python: str, group: list[Case]) -> list[dict[str, int]]:
    """Runs SCALE-Sim once on cases sharing array, dataflow and input mode; one row per case."""
    first = group[0]
    with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
        tmp = Path(tmp)
        _write_inputs(tmp, _config_text(first.rows, first.cols, first.dataflow), group)
        run = subprocess.run([python, "-c", _DRIVER, str(tmp / "scale.cfg"),
                              str(tmp / "topology.csv"), str(tmp / "layout.csv"), str(tmp / "out"),
                              first.mode], check=False, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"SCALE-Sim failed on {first.rows}x{first.cols} {first.dataflow} "
                               f"({first.mode}):\n{run.stderr[-2000:]}")
        compute = _read_report(tmp / "out" / "crosscheck" / "COMPUTE_REPORT.csv")
        access = _read_report(tmp / "out" / "crosscheck" / "DETAILED_ACCESS_REPORT.csv")
    if len(compute) != len(group) or len(access) != len(group):
        raise RuntimeError(f"SCALE-Sim reported {len(compute)} layers for {len(group)} cases")
    results = []
    for comp, acc in zip(compute, access):
        total, stall = _as_int(comp["Total Cycles"]), _as_int(comp["Stall Cycles"])
        results.append({
            "compute_cycles": total - stall,
            "total_cycles": total,
            "stall_cycles": stall,
            "total_cycles_incl_prefetch": _as_int(comp["Total Cycles (incl. prefetch)"]),
            "ifmap_sram_reads": _as_int(acc["SRAM IFMAP Reads"]),
            "filter_sram_reads": _as_int(acc["SRAM Filter Reads"]),
            "ofmap_sram_writes": _as_int(acc["SRAM OFMAP Writes"]),
            "ifmap_dram_reads": _as_int(acc["DRAM IFMAP Reads"]),
            "filter_dram_reads": _as_int(acc["DRAM Filter Reads"]),
            "ofmap_dram_writes": _as_int(acc["DRAM OFMAP Writes"]),
        })
    return results


def _read_report(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        rows = list(csv.reader(f, skipinitialspace=True))
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (v.strip() for v in row))) for row in rows[1:] if row]


def _as_int(text: str) -> int:
    value = float(text)
    if value != int(value):
        raise ValueError(f"SCALE-Sim report value {text!r} is not an integer")
    return int(value)


def scalesim_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('scalesim'))"],
        check=True, capture_output=True, text=True).stdout.strip()


def run_all_scalesim(python: str, all_cases: list[Case], workers: int) -> list[dict[str, int]]:
    """SCALE-Sim's numbers for every case, one subprocess per (array, dataflow, mode) group."""
    groups: dict[tuple, list[int]] = {}
    for index, case in enumerate(all_cases):
        groups.setdefault((case.rows, case.cols, case.dataflow, case.mode), []).append(index)
    results: list[dict[str, int] | None] = [None] * len(all_cases)
    # Largest arrays first so that the two workers finish together.
    ordered = sorted(groups.values(),
                     key=lambda idx: -all_cases[idx[0]].rows * all_cases[idx[0]].cols)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_run_scalesim, python, [all_cases[i] for i in idx]): idx
                   for idx in ordered}
        for future in concurrent.futures.as_completed(futures):
            for i, row in zip(futures[future], future.result()):
                results[i] = row
    return results  # type: ignore[return-value]


def engine_counts(case: Case, seed: int = 0) -> dict[str, int]:
    """The engine's counts for one group of the case's layer (random integer operands)."""
    g = case.gemm
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, (g["pixels"], g["window"]))
    b = rng.integers(-4, 5, (g["window"], g["filters"]))
    result = run_gemm(a, b, Accelerator(rows=case.rows, cols=case.cols, dataflow=case.dataflow))
    if not np.array_equal(result.output, a @ b):
        raise AssertionError(f"engine product differs from A @ B on {case}")
    return {name: getattr(result, name) for name in COUNTS}


def engine_seconds_estimate(case: Case, compute_cycles: int) -> float:
    """Rough engine run time: a fixed cost per cycle plus a cost per PE and cycle (2-core CPU)."""
    return compute_cycles * (40e-6 + case.rows * case.cols * 15e-9)


def fast_model():
    """``sim.simulate_layer`` if the fast model is installed, else None."""
    try:
        return importlib.import_module("sim").simulate_layer
    except AttributeError:
        return None


def fast_counts(simulate_layer, case: Case) -> dict[str, int]:
    report = simulate_layer(case.layer, Accelerator(rows=case.rows, cols=case.cols,
                                                   dataflow=case.dataflow))
    return {name: int(getattr(report, name)) for name in COUNTS}


# -- USER-bandwidth mode: stalls and DRAM traffic ---------------------------------------------

MEMORY_COUNTS = ("stall_cycles", "ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_writes")

# SCALE-Sim in USER mode takes the ifmap and filter DRAM bandwidths from the [layout] section
# (IfmapSRAMBankBandwidth, FilterSRAMBankBandwidth; one bank each, so any bandwidth divides
# evenly) and the ofmap one from Bandwidth. The <fields> are each case's
# (sim.systolic.scalesim_memory.scalesim_parameters of its accelerator).
SCALESIM_USER_CONFIG = _filled(SCALESIM_CONFIG, {
    "IfmapSramSzkB": "<ifmap_sram_kb>", "FilterSramSzkB": "<filter_sram_kb>",
    "OfmapSramSzkB": "<ofmap_sram_kb>", "Bandwidth": "<bandwidth>",
    "IfmapSRAMBankBandwidth": "<bandwidth>", "FilterSRAMBankBandwidth": "<bandwidth>",
    "IfmapSRAMBankNum": 1, "FilterSRAMBankNum": 1, "InterfaceBandwidth": "USER"})

# Runs inside SCALE-Sim's virtualenv: argv = jobs JSON, times JSON. One layer per job; a job's
# failure is recorded and the others still run.
_MEMORY_DRIVER = """
import json, sys, time, traceback
from scalesim.scale_sim import scalesim
times = []
for job in json.load(open(sys.argv[1])):
    start = time.perf_counter()
    try:
        run = scalesim(save_disk_space=True, verbose=False, config=job["config"],
                       topology=job["topology"], layout=job["layout"],
                       input_type_gemm=job["gemm"])
        run.run_scale(top_path=job["out"])
        times.append(time.perf_counter() - start)
    except Exception:
        times.append(traceback.format_exc(limit=3))
json.dump(times, open(sys.argv[2], "w"))
"""

MEMORY_ARRAYS = ((4, 4), (8, 16), (16, 8), (16, 16), (32, 32))
# SCALE-Sim kB (1024 words) of the ifmap, filter and ofmap SRAMs: small enough to refetch.
MEMORY_SRAMS = ((1, 1, 1), (2, 1, 1), (1, 2, 2), (4, 2, 1), (1, 4, 2))
MEMORY_BANDWIDTHS = (10, 16, 25, 50)
MEMORY_LAYERS = ("conv3x3_stem", "conv3x3", "conv3x3_s2_odd", "conv5x5", "conv7x7_s2",
                 "conv1x3_rect", "pointwise", "fc_200_50", "fc_48_20_batch4", "depthwise3x3_s2",
                 "grouped3x3_g2", "conv3x3_batch2", "resnet_conv3x3_s2")


def memory_layers() -> tuple[Layer, ...]:
    """The memory cases' layers: those of ``layers()`` named in MEMORY_LAYERS, plus three that
    outgrow the small SRAMs (so that more cases stall) and keep SCALE-Sim's run short."""
    by_name = {layer.name: layer for layer in layers()}
    return tuple(by_name[name] for name in MEMORY_LAYERS) + (
        Layer.conv("conv3x3_c32", C=32, M=32, H=8, W=8, kernel=3),
        Layer.pointwise("pointwise_c64", C=64, M=48, H=8, W=8),
        Layer.fc("fc_256_96_batch8", 256, 96, N=8),
    )


@dataclasses.dataclass(frozen=True)
class MemoryCase:
    """One layer on one accelerator (SRAMs, bandwidth), fed to SCALE-Sim in USER mode."""

    layer: Layer
    accelerator: Accelerator

    @property
    def case(self) -> Case:
        acc = self.accelerator
        return Case(self.layer, acc.rows, acc.cols, acc.dataflow)

    def config_values(self) -> dict[str, object]:
        """The values of SCALESIM_USER_CONFIG's <fields> for this case."""
        params = scalesim_parameters(self.accelerator)
        return {"ArrayHeight": params["rows"], "ArrayWidth": params["cols"],
                "Dataflow": params["dataflow"], "IfmapSramSzkB": params["ifmap_sram_kb"],
                "FilterSramSzkB": params["filter_sram_kb"],
                "OfmapSramSzkB": params["ofmap_sram_kb"], "Bandwidth": params["bandwidth"],
                "IfmapSRAMBankBandwidth": params["bandwidth"],
                "FilterSRAMBankBandwidth": params["bandwidth"]}

    def scalesim_config(self) -> dict[str, dict[str, object]]:
        return _filled(SCALESIM_USER_CONFIG, self.config_values())


def memory_cases() -> list[MemoryCase]:
    """Layers x arrays x dataflows, each with one SRAM set and bandwidth, cycled so that every
    combination of them recurs; the word width alternates between 8 and 16 bits (SCALE-Sim's SRAM
    sizes are in words, so the KiB double at 16 bits)."""
    out = []
    for rows, cols in MEMORY_ARRAYS:
        for dataflow in ("ws", "os", "is"):
            for layer in memory_layers():
                i = len(out)
                srams = MEMORY_SRAMS[i % len(MEMORY_SRAMS)]
                bandwidth = MEMORY_BANDWIDTHS[(i // len(MEMORY_SRAMS)) % len(MEMORY_BANDWIDTHS)]
                word_bits = (8, 16)[(i // 7) % 2]
                kb = [words_kb * word_bits // 8 for words_kb in srams]
                out.append(MemoryCase(layer, Accelerator(
                    rows=rows, cols=cols, dataflow=dataflow, ifmap_sram_kb=kb[0],
                    filter_sram_kb=kb[1], ofmap_sram_kb=kb[2],
                    dram_bandwidth_words_per_cycle=bandwidth, word_bits=word_bits)))
    return out


def run_memory_scalesim(python: str, all_cases: list[MemoryCase], batch: int = 16
                        ) -> list[dict[str, object]]:
    """SCALE-Sim's USER-mode figures per case (one group), with its run time per layer in s;
    ``batch`` cases per SCALE-Sim process. A case SCALE-Sim fails on gets ``error``."""
    results: list[dict[str, object]] = []
    for start in range(0, len(all_cases), batch):
        group = all_cases[start:start + batch]
        with tempfile.TemporaryDirectory(prefix="scalesim_user_") as tmp:
            tmp = Path(tmp)
            jobs = []
            for i, case in enumerate(group):
                directory = tmp / f"case{i}"
                directory.mkdir()
                _write_inputs(directory, _format_config(case.scalesim_config()), [case.case])
                jobs.append({name: str(directory / file) for name, file in (
                    ("config", "scale.cfg"), ("topology", "topology.csv"),
                    ("layout", "layout.csv"), ("out", "out"))} | {"gemm": case.case.mode == "gemm"})
            (tmp / "jobs.json").write_text(json.dumps(jobs))
            run = subprocess.run([python, "-c", _MEMORY_DRIVER, str(tmp / "jobs.json"),
                                  str(tmp / "times.json")], check=False, capture_output=True,
                                 text=True)
            if run.returncode != 0:
                raise RuntimeError(f"SCALE-Sim driver failed:\n{run.stderr[-2000:]}")
            times = json.loads((tmp / "times.json").read_text())
            for job, seconds in zip(jobs, times):
                if isinstance(seconds, str):
                    results.append({"error": seconds.strip().splitlines()[-1]})
                    continue
                report = Path(job["out"]) / "crosscheck"
                (comp,) = _read_report(report / "COMPUTE_REPORT.csv")
                (acc,) = _read_report(report / "DETAILED_ACCESS_REPORT.csv")
                results.append({
                    "stall_cycles": _as_int(comp["Stall Cycles"]),
                    "ifmap_dram_reads": _as_int(acc["DRAM IFMAP Reads"]),
                    "filter_dram_reads": _as_int(acc["DRAM Filter Reads"]),
                    "ofmap_dram_writes": _as_int(acc["DRAM OFMAP Writes"]),
                    "total_cycles": _as_int(comp["Total Cycles"]),
                    "scalesim_seconds": round(seconds, 3),
                })
        print(f"  SCALE-Sim USER mode: {len(results)}/{len(all_cases)} cases", flush=True)
    return results


def memory_main(args) -> int:
    """The USER-bandwidth cross-check: ``scalesim_memory`` vs SCALE-Sim on every memory case."""
    all_cases = memory_cases()
    version = scalesim_version(args.scalesim_python)
    reference = run_memory_scalesim(args.scalesim_python, all_cases)
    print(f"{'layer':<20} {'array':>7} {'df':>2} {'kB i/f/o':>8} {'bw':>3} {'stalls':>7} "
          f"{'if_dram':>8} {'f_dram':>8} {'of_dram':>8}  ours  {'scalesim_s':>10} {'ours_s':>7}")
    summary: dict[str, dict[str, int]] = {}
    timing = {"scalesim": 0.0, "ours": 0.0}
    mismatches = 0
    for case, ref in zip(all_cases, reference):
        acc, stats = case.accelerator, summary.setdefault(
            case.accelerator.dataflow, {"cases": 0, "stall": 0, "equal": 0, "error": 0})
        stats["cases"] += 1
        params = case.config_values()
        kb = f"{params['IfmapSramSzkB']}/{params['FilterSramSzkB']}/{params['OfmapSramSzkB']}"
        head = (f"{case.layer.name:<20} {acc.rows:>3}x{acc.cols:<3} {acc.dataflow:>2} {kb:>8} "
                f"{params['Bandwidth']:>3}")
        if "error" in ref:
            stats["error"] += 1
            mismatches += 1
            print(f"{head}  SCALE-Sim failed: {ref['error']}")
            continue
        start = time.perf_counter()
        ours = scalesim_memory(case.layer, acc)
        ours_s = (time.perf_counter() - start) / case.layer.groups
        timing["scalesim"] += ref["scalesim_seconds"]
        timing["ours"] += ours_s
        expected = [ref[name] * case.layer.groups for name in MEMORY_COUNTS]
        equal = list(ours) == expected
        stats["stall"] += ref["stall_cycles"] > 0
        stats["equal"] += equal
        mismatches += not equal
        figures = " ".join(f"{value:>{width}}" for value, width in zip(expected, (7, 8, 8, 8)))
        print(f"{head} {figures}  {'equal' if equal else 'DIFF '} {ref['scalesim_seconds']:>10.2f} "
              f"{ours_s:>7.3f}" + ("" if equal else f"  ours: {tuple(ours)}"))
    for dataflow, stats in summary.items():
        print(f"{dataflow}: {stats['cases']} cases, {stats['stall']} stall, {stats['equal']} equal"
              + (f", {stats['error']} SCALE-Sim failures" if stats["error"] else ""))
    compared = sum(stats["cases"] - stats["error"] for stats in summary.values())
    print(f"time per layer (one group), mean over {compared} cases: SCALE-Sim "
          f"{timing['scalesim'] / compared:.2f} s, scalesim_memory {timing['ours'] / compared:.4f} s")

    if args.record_memory:
        record = {
            "scalesim_version": version,
            "scalesim_config": SCALESIM_USER_CONFIG,
            "convention": ("counts of one group (per_group); each case's config is "
                           "scalesim_config with its <fields> filled from its accelerator "
                           "(scalesim_config_values); layers fed as in scalesim_reference.json "
                           "(N == 1 as conv on the cropped padded input, N > 1 as GEMM); "
                           "stall_cycles = COMPUTE_REPORT Stall Cycles, *_dram_* = "
                           "DETAILED_ACCESS_REPORT DRAM IFMAP Reads / DRAM Filter Reads / DRAM "
                           "OFMAP Writes; scalesim_seconds = SCALE-Sim's run time for the layer"),
            "cases": [{"layer": case.layer.to_dict(), "accelerator": case.accelerator.to_dict(),
                       "scalesim_config_values": case.config_values(),
                       "scalesim_mode": case.case.mode,
                       "scalesim_topology_row": case.case.topology_row(), "per_group": ref}
                      for case, ref in zip(all_cases, reference)],
        }
        cases_json = ",\n  ".join(json.dumps(case) for case in record.pop("cases"))
        head = json.dumps(record, indent=1)[:-2]
        args.record_memory.write_text(f'{head},\n "cases": [\n  {cases_json}\n ]\n}}\n')
        print(f"recorded {len(all_cases)} cases to {args.record_memory}")
    return 1 if mismatches else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalesim-python", default="/work/scalesim-venv/bin/python",
                        help="Python of the virtualenv where scalesim 3.0.0 is installed")
    parser.add_argument("--record", type=Path, help="write SCALE-Sim's numbers to this JSON file")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2),
                        help="concurrent SCALE-Sim processes (--memory runs one)")
    parser.add_argument("--engine-budget-s", type=float, default=2.0,
                        help="run the engine on cases estimated to take at most this long")
    parser.add_argument("--memory", action="store_true",
                        help="cross-check stalls and DRAM traffic in USER-bandwidth mode instead")
    parser.add_argument("--record-memory", type=Path,
                        help="with --memory: write SCALE-Sim's USER-mode figures to this JSON file")
    args = parser.parse_args(argv)
    if not Path(args.scalesim_python).exists():
        parser.error(f"--scalesim-python {args.scalesim_python!r} does not exist")
    if args.record_memory and not args.memory:
        parser.error("--record-memory needs --memory")
    if args.memory:
        return memory_main(args)

    all_cases = cases()
    version = scalesim_version(args.scalesim_python)
    start = time.perf_counter()
    reference = run_all_scalesim(args.scalesim_python, all_cases, args.workers)
    scalesim_s = time.perf_counter() - start
    print(f"SCALE-Sim {version}: {len(all_cases)} cases in {scalesim_s:.0f} s")

    simulate_layer = fast_model()
    if simulate_layer is None:
        print("note: sim.simulate_layer is not available yet; the fast-model column is skipped")

    print(f"{'layer':<20} {'array':>7} {'df':>2} {'cycles':>8} {'ifmap_rd':>8} {'filt_rd':>8} "
          f"{'ofmap_wr':>8}  engine  fast")
    summary: dict[str, dict[str, int]] = {}
    mismatches = 0
    for case, ref in zip(all_cases, reference):
        expected = {name: ref[name] for name in COUNTS}
        marks = []
        engine_ok = None
        if engine_seconds_estimate(case, ref["compute_cycles"]) <= args.engine_budget_s:
            engine_ok = engine_counts(case) == expected
        fast_ok = None
        if simulate_layer is not None:
            per_layer = {name: value * case.layer.groups for name, value in expected.items()}
            fast_ok = fast_counts(simulate_layer, case) == per_layer
        for ok in (engine_ok, fast_ok):
            marks.append("-" if ok is None else ("equal" if ok else "DIFF"))
        stats = summary.setdefault(case.dataflow, {"cases": 0, "engine": 0, "fast": 0, "diff": 0})
        stats["cases"] += 1
        stats["engine"] += engine_ok is not None
        stats["fast"] += fast_ok is not None
        if engine_ok is False or fast_ok is False:
            stats["diff"] += 1
            mismatches += 1
        print(f"{case.layer.name:<20} {case.rows:>3}x{case.cols:<3} {case.dataflow:>2} "
              f"{ref['compute_cycles']:>8} {ref['ifmap_sram_reads']:>8} "
              f"{ref['filter_sram_reads']:>8} {ref['ofmap_sram_writes']:>8}  "
              f"{marks[0]:>6}  {marks[1]:>4}")
    for dataflow, stats in summary.items():
        print(f"{dataflow}: {stats['cases']} cases (engine ran on {stats['engine']}, fast model on "
              f"{stats['fast']}), all equal: {'yes' if stats['diff'] == 0 else 'no'}")

    if args.record:
        record = {
            "scalesim_version": version,
            "scalesim_config": {section: dict(fields)
                                for section, fields in SCALESIM_CONFIG.items()},
            "convention": ("counts of one group (per_group); <rows>, <cols>, <dataflow> of the "
                           "config are each case's; N == 1 layers fed as conv with the padded "
                           "input cropped to (P-1)*stride+R x (Q-1)*stride+S, N > 1 layers as "
                           "GEMM (pixels, filters, window); compute_cycles = Total Cycles - "
                           "Stall Cycles"),
            "cases": [{"layer": case.layer.to_dict(), "rows": case.rows, "cols": case.cols,
                       "dataflow": case.dataflow, "scalesim_mode": case.mode,
                       "scalesim_topology_row": case.topology_row(), "gemm": case.gemm,
                       "per_group": ref} for case, ref in zip(all_cases, reference)],
        }
        cases_json = ",\n  ".join(json.dumps(case) for case in record.pop("cases"))
        head = json.dumps(record, indent=1)[:-2]
        args.record.write_text(f'{head},\n "cases": [\n  {cases_json}\n ]\n}}\n')
        print(f"recorded {len(all_cases)} cases to {args.record}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
