"""Our loop-nest mapping search against ZigZag's (``zigzag-dse`` 3.9.1), layer by layer.

Same layers, same architecture, same spatial unrolling, same prices per word: ResNet-20's distinct
convolutions and a MobileNetV2 pointwise layer, on DRAM, an 8 KiB global buffer (``--glb-words``)
and 16 x 16 PEs with 64-word register files, every level able to keep every dataspace (one
capacity shared), 4, 16 and 2 words per cycle, the 45 nm table's prices; output channels unrolled
over X and input channels over Y (each by its largest divisor <= 16, as ZigZag clips it). ZigZag
(its own virtualenv, ``benchmarks/zigzag_worker.py``) searches the temporal mapping for EDP with LOMA, operands sharing
a memory cut at the same level boundaries (``"even"``), so its mapping is one loop nest that our
simulator can count; loops of one dimension that ZigZag splits within one level are merged into
one. We search the same space with :func:`dianjax.cost.loopnest_mapper.search_mappings`.

Per layer the table gives the EDP of our mapping and of ZigZag's mapping, both counted and priced
by ``sim.loopnest`` (one model, so the searches are compared, not the models; ZigZag's mapping with
our buffers' capacity lifted where it overfills them, their prices kept), ZigZag's own EDP in
its own model (different cycle model: stalls, ports), and the wall time per layer of each search
(ours after a warm-up pass over the layers that compiles every batch shape, reported apart). Run::

    python benchmarks/zigzag_crosscheck.py --zigzag-python /work/zigzag-venv/bin/python
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dianjax.cost.loopnest_mapper import search_mappings
from sim import Layer, mobilenetv2, resnet20
from sim.loopnest import (
    ComputeLevel,
    LevelMapping,
    LoopNestAccelerator,
    LoopNestEnergyTable,
    LoopNestMapping,
    Problem,
    StorageLevel,
    evaluate,
)
from sim.loopnest.mapping import validate

_WORKER = Path(__file__).with_name("zigzag_worker.py")
_ZIGZAG_LEVEL = {"RegFile": "pe_regfile", "GlobalBuffer": "global_buffer", "DRAM": "DRAM"}
_ZIGZAG_DIM = {"K": "M", "C": "C", "OY": "P", "OX": "Q", "FY": "R", "FX": "S", "B": "N"}


def accelerator(glb_words: int) -> LoopNestAccelerator:
    return LoopNestAccelerator("ws16x16", (
        StorageLevel("DRAM", "DRAM", None, block_size=4, read_bandwidth_words_per_cycle=4,
                     write_bandwidth_words_per_cycle=4),
        StorageLevel("global_buffer", "SRAM", glb_words, block_size=4,
                     read_bandwidth_words_per_cycle=16, write_bandwidth_words_per_cycle=16),
        StorageLevel("pe_regfile", "regfile", 64, instances=256, mesh_x=16,
                     read_bandwidth_words_per_cycle=2, write_bandwidth_words_per_cycle=2,
                     links=False),
    ), ComputeLevel("mac", instances=256, mesh_x=16), clock_mhz=200.0)


def layers() -> list[Layer]:
    seen, out = set(), []
    for layer in [*resnet20(), *list(mobilenetv2())[1:3]]:
        key = (layer.C, layer.M, layer.H, layer.W, layer.R, layer.stride, layer.groups)
        if layer.kind in ("conv", "pointwise") and key not in seen:
            seen.add(key)
            out.append(layer)
    return out


def _largest_divisor(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def spatial(problem: Problem) -> dict:
    return {"global_buffer": (("M", _largest_divisor(problem.M, 16), "X"),
                              ("C", _largest_divisor(problem.C, 16), "Y"))}


def request(problems: list[Problem], arch: LoopNestAccelerator, table) -> dict:
    levels = []
    for level in arch.levels:
        prices = table.prices(level, arch.clock_mhz)
        levels.append({
            "name": {"DRAM": "DRAM", "global_buffer": "GlobalBuffer",
                     "pe_regfile": "RegFile"}[level.name],
            "depth_words": level.depth_words, "word_bits": level.word_bits,
            "block_size": level.block_size, "instances": level.instances,
            "read_energy_pj": prices.read_pj / level.block_size,
            "write_energy_pj": prices.fill_pj / level.block_size,
            "read_bandwidth_words_per_cycle": level.read_bandwidth_words_per_cycle,
            "write_bandwidth_words_per_cycle": level.write_bandwidth_words_per_cycle,
            "keeps": list(level.keeps)})
    mac = table.prices(arch.compute, arch.clock_mhz)
    return {"layers": [{"name": p.name, "N": p.N, "C": p.C, "M": p.M, "P": p.P, "Q": p.Q,
                        "R": p.R, "S": p.S, "stride": p.Wstride} for p in problems],
            "architecture": {"clock_mhz": arch.clock_mhz,
                             "mac": {"energy_pj": mac.compute_pj, "mesh_x": 16, "mesh_y": 16},
                             "spatial": {"X": "M", "Y": "C"}, "levels": levels},
            "opt": "EDP", "temporal_mapping_type": "even", "port_model": "per_operand"}


def from_zigzag(answer: dict, problem: Problem, arch: LoopNestAccelerator) -> LoopNestMapping:
    """ZigZag's even temporal mapping (outermost first) and our spatial loops as one nest; a
    dimension split twice within one level becomes one loop at its innermost place."""
    per_level: dict[str, list] = {level.name: [] for level in arch.levels}
    for loop in answer["temporal_mapping"]:
        dim = _ZIGZAG_DIM.get(loop["dim"], loop["dim"])
        places = {_ZIGZAG_LEVEL[level] for level in loop["levels"].values()}
        if len(places) != 1:
            raise ValueError(f"ZigZag placed loop {loop} at different levels per operand")
        (level,) = places
        loops = per_level[level]
        factor = loop["factor"]
        for i, (d, f) in enumerate(loops):
            if d == dim:
                factor *= f
                del loops[i]
                break
        loops.append((dim, factor))
    space = spatial(problem)
    return LoopNestMapping(tuple(LevelMapping(temporal=tuple(per_level[level.name]),
                                              spatial=space.get(level.name, ()))
                                 for level in arch.levels))


def evaluate_without_capacity(problem, arch, mapping, table):
    """sim's report of ``mapping`` with every level's capacity lifted but its prices pinned (ZigZag
    may keep tiles that overfill our buffers: it checks capacity its own way), and whether the
    mapping fits as it is."""
    try:
        validate(problem, arch, mapping)
        fits = True
    except ValueError:
        fits = False
    pinned = {}
    for level in arch.levels:
        prices = table.prices(level, arch.clock_mhz)
        pinned[level.name] = {"read": prices.read_pj, "fill": prices.fill_pj,
                              "update": prices.update_pj, "leak": prices.leak_pj_per_cycle}
    roomy = dataclasses.replace(arch, levels=tuple(
        dataclasses.replace(level, depth_words=None if level.depth_words is None else 10 ** 12)
        for level in arch.levels))
    return evaluate(problem, roomy, mapping, LoopNestEnergyTable(base=table.base, ert=pinned)), fits


def run_zigzag(python: str, problems, arch, table) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ask, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        ask.write_text(json.dumps(request(problems, arch, table)))
        subprocess.run([python, str(_WORKER), str(ask), str(answer)], check=True)
        return json.loads(answer.read_text())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zigzag-python", default="/work/zigzag-venv/bin/python")
    parser.add_argument("--glb-words", type=int, default=4096,
                        help="global buffer depth (words of 16 bits)")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--elites", type=int, default=16)
    parser.add_argument("--out", type=Path, help="write the table as JSON")
    args = parser.parse_args(argv)
    arch, table = accelerator(args.glb_words), LoopNestEnergyTable()
    problems = [Problem.from_layer(layer) for layer in layers()]
    start = time.perf_counter()
    for problem in problems:          # compiles every batch shape the searches use (one-off)
        search_mappings(problem, arch, spatial=spatial(problem), samples=args.samples,
                        rounds=args.rounds, elites=args.elites, seed=1)
    warmup = time.perf_counter() - start
    ours = [search_mappings(p, arch, spatial=spatial(p), samples=args.samples,
                            rounds=args.rounds, elites=args.elites) for p in problems]
    theirs = run_zigzag(args.zigzag_python, problems, arch, table)
    rows = []
    for problem, found, answer in zip(problems, ours, theirs["layers"], strict=True):
        mapping = from_zigzag(answer, problem, arch)
        their_report, fits = evaluate_without_capacity(problem, arch, mapping, table)
        rows.append({"layer": problem.name, "macs": problem.macs,
                     "edp_ours": found.report.edp_pj_s,
                     "edp_zigzag_mapping_in_sim": their_report.edp_pj_s,
                     "edp_ratio": found.report.edp_pj_s / their_report.edp_pj_s,
                     "zigzag_mapping_fits": fits,
                     "edp_zigzag_own_model": answer["edp"] / (arch.clock_mhz * 1e6),
                     "seconds_ours": found.seconds, "seconds_zigzag": answer["wall_s"],
                     "time_ratio": answer["wall_s"] / found.seconds,
                     "candidates_ours": found.candidates})
    print(f"global buffer {args.glb_words} words; "
          f"zigzag {theirs['zigzag_version']} (LOMA, lpf_limit {theirs['lpf_limit']}, even), ours: "
          f"{args.samples} samples + {args.rounds} rounds x {args.elites} elites; our warm-up pass "
          f"over the layers (compilation, another seed) {warmup:.2f} s")
    print(f"{'layer':<14}{'MACs':>10}{'EDP ours':>12}{'EDP zz->sim':>13}{'ratio':>7}"
          f"{'EDP zz own':>12}{'s ours':>8}{'s zz':>7}{'speed-up':>9}")
    for r in rows:
        print(f"{r['layer']:<14}{r['macs']:>10}{r['edp_ours']:>12.4g}"
              f"{r['edp_zigzag_mapping_in_sim']:>13.4g}{r['edp_ratio']:>7.3f}"
              f"{r['edp_zigzag_own_model']:>12.4g}{r['seconds_ours']:>8.3f}"
              f"{r['seconds_zigzag']:>7.2f}{r['time_ratio']:>9.0f}"
              f"{'' if r['zigzag_mapping_fits'] else '  (ZigZag overfills our buffers)'}")
    worst = max(r["edp_ratio"] for r in rows)
    slowest = min(r["time_ratio"] for r in rows)
    print(f"EDP ours / ZigZag's mapping: worst {worst:.3f}; speed-up: lowest {slowest:.0f}x "
          f"(units: pJ*s; {sys.platform}, {len(rows)} layers)")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "warmup_s": warmup,
                                        "zigzag": {k: theirs[k] for k in theirs
                                                   if k != "layers"}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
