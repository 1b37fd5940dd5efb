"""Runs ZigZag's (``zigzag-dse`` 3.9.1) LOMA temporal-mapping search on conv layers with a fixed spatial
unrolling; the peer side of a loop-nest mapping-search cross-check.

Executed by the Python of ZigZag's own virtualenv (never imported by the project, which does not
depend on ZigZag)::

    /work/zigzag-venv/bin/python benchmarks/zigzag_worker.py REQUEST.json ANSWER.json
    /work/zigzag-venv/bin/python benchmarks/zigzag_worker.py --selftest

``REQUEST.json``::

    {"layers": [{"name": str, "N", "C", "M", "P", "Q", "R", "S": int, "stride": int,
                 "padding": [top, bottom, left, right]}],          # padding optional, default 0
     "architecture": {
       "clock_mhz": float,
       "mac": {"energy_pj": float, "mesh_x": int, "mesh_y": int},
       "spatial": {"X": dim, "Y": dim},                            # dims among N C M P Q R S
       "levels": [{"name": str, "depth_words": int | null, "word_bits": int, "block_size": int,
                   "instances": int, "read_energy_pj": float, "write_energy_pj": float,
                   "bandwidth_words_per_cycle": float, "keeps": ["Weights", "Inputs", "Outputs"]},
                  ...]},                                           # outermost (DRAM) first
     "opt": "EDP" | "energy" | "latency",                           # optional, default "EDP"
     "lpf_limit": int,                                             # optional, LOMA default 6
     "temporal_mapping_type": "uneven" | "even",                   # optional, default "uneven"
     "port_model": "shared" | "per_operand"}                       # optional, default "shared"

A level may give ``read_bandwidth_words_per_cycle`` / ``write_bandwidth_words_per_cycle`` (``null``:
unlimited, 65536 words) instead of ``bandwidth_words_per_cycle``.

The mapping onto ZigZag:

* Workload: one ``Conv`` layer per request layer, ``O[b][k][oy][ox] += W[k][c][fy][fx] * I[b][c][iy][ix]``
  with N->B, C->C, M->K, P->OY, Q->OX, R->FY, S->FX, ``ix = stride*ox + fx`` (same for y), every
  operand at the PE level's ``word_bits`` (partial sums too), no padding unless given. Each layer is
  a separate ZigZag call (so each gets its own wall time); both W and I are constant operands (no
  inter-layer data).
* Accelerator: operational array ``D1 x D2 = mesh_x x mesh_y`` MACs at ``mac.energy_pj`` each; one
  ZigZag memory per level keeping the operands of ``keeps`` (W->I2, I->I1, O->O), capacity shared
  by them, ``size = depth_words * word_bits`` bits per instance (``null``: 1e15 bits). Instances
  give ``served_dimensions``: 1 -> ``[D1, D2]`` (one shared by the array), ``mesh_x*mesh_y`` -> ``[]``
  (one per PE), ``mesh_x`` -> ``[D2]``, ``mesh_y`` -> ``[D1]``. Ports (``bandwidth words * word_bits``
  bits/cycle each): ``"shared"``: one read_write port for reads and writes of all operands, or one
  read and one write port when the bandwidths are given separately; ``"per_operand"``: a read and
  a write port per operand, each with the level's full bandwidth. ZigZag serialises the transfers
  of different operands/directions on one port whatever its width, so a shared port on a per-PE
  register file stalls even with unlimited bandwidth. ZigZag charges ``r_cost``/``w_cost`` per access
  of ``bandwidth_max`` bits at a granularity of ``bandwidth_min`` bits; with ``bandwidth_min =
  word_bits`` and ``r_cost = read_energy_pj * read words per cycle`` every word costs
  ``read_energy_pj`` (ZigZag truncates each access count to an integer, an error below one access
  per level, operand and direction; ``block_size`` is not used). Memory ``latency`` is 1 (ZigZag's
  cost model does not use it).
* Mapping: spatial ``D1: X dim, mesh_x``, ``D2: Y dim, mesh_y`` (ZigZag clips an unrolling to the
  layer dim, or to a fraction when it does not divide it); no temporal ordering, so LOMA searches
  every order of the loop prime factors (merged down to ``lpf_limit`` factors) and, per order,
  greedily fills each level bottom-up with the loops that minimise accesses to the level above, per
  operand (``"uneven"``: each operand has its own level boundaries in the shared loop order;
  ``"even"``: operands sharing a memory get the same boundaries); the best CME by ``opt`` (default
  EDP = energy_total * latency_total2) is kept.

``ANSWER.json`` holds ``{"zigzag_version", "opt", "lpf_limit", "temporal_mapping_type", "port_model",
"layers"}``; per layer:

* ``energy_pj`` (total), ``mac_energy_pj``, ``memory_energy_pj``, ``energy_per_level_pj`` and
  ``energy_per_level_operand`` (per level, per operand: energy, energy per data direction,
  ZigZag's ``accesses`` of ``bandwidth_max`` bits each and the ``words`` they move, summed over the
  level's instances);
* ``latency_cycles`` (ZigZag's ``latency_total2``: ideal temporal cycles + stalls + initial
  on-loading + final off-loading, parts in ``latency_parts`` with the stall (+) or slack (-) of each
  level's ports), ``edp`` (pJ*cycles), ``macs``, ``mac_utilization``;
* ``temporal_mapping``: the loops outermost first, ``{"dim", "factor", "levels": {operand: level}}``
  as LOMA allocated them; ``temporal_mapping_stationary``: the same after ZigZag's merge-down of
  each level's innermost irrelevant loops into the level below (what its cost model uses); levels
  holding no loop (typically DRAM) do not appear; ``operand_levels``: each operand's levels,
  innermost first;
* ``spatial_mapping`` (per array dimension, the unrolling ZigZag evaluated) and
  ``spatial_mapping_per_operand`` (the loops fanned out below each level);
* ``wall_s``: ``time.perf_counter`` around the ZigZag API call only (its parsing, the search, the
  cost model and its small result dumps into a temporary folder; not the import of ZigZag).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

# Configure logging before ZigZag's api does (its basicConfig(INFO) is then a no-op).
logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

from zigzag.api import get_hardware_performance_zigzag  # noqa: E402
from zigzag.mapping.data_movement import DataDirection  # noqa: E402

DIMS = {"N": "B", "C": "C", "M": "K", "P": "OY", "Q": "OX", "R": "FY", "S": "FX"}
BACK = {zz: ours for ours, zz in DIMS.items()}
OPERANDS = {"Weights": "W", "Inputs": "I", "Outputs": "O"}
MEM_OP = {"W": "I2", "I": "I1", "O": "O"}
NAMES = {zz: ours for ours, zz in OPERANDS.items()}
UNBOUNDED_BITS = 10**15
UNLIMITED_WORDS = 2**16
DIRECTIONS = {DataDirection.RD_OUT_TO_LOW: "read_to_low", DataDirection.WR_IN_BY_HIGH: "write_from_high",
              DataDirection.RD_OUT_TO_HIGH: "read_to_high", DataDirection.WR_IN_BY_LOW: "write_from_low"}

SELFTEST = {
    "layers": [{"name": "l1", "N": 1, "C": 16, "M": 32, "P": 8, "Q": 8, "R": 3, "S": 3, "stride": 1},
               {"name": "l2", "N": 1, "C": 32, "M": 64, "P": 16, "Q": 16, "R": 3, "S": 3, "stride": 1}],
    "architecture": {
        "clock_mhz": 200,
        "mac": {"energy_pj": 0.2, "mesh_x": 16, "mesh_y": 16},
        "spatial": {"X": "M", "Y": "C"},
        "levels": [
            {"name": "DRAM", "depth_words": None, "word_bits": 16, "block_size": 4, "instances": 1,
             "read_energy_pj": 200.0, "write_energy_pj": 200.0, "bandwidth_words_per_cycle": 8,
             "keeps": ["Weights", "Inputs", "Outputs"]},
            {"name": "GlobalBuffer", "depth_words": 65536, "word_bits": 16, "block_size": 4, "instances": 1,
             "read_energy_pj": 6.0, "write_energy_pj": 6.0, "bandwidth_words_per_cycle": 32,
             "keeps": ["Weights", "Inputs", "Outputs"]},
            {"name": "RegFile", "depth_words": 64, "word_bits": 16, "block_size": 1, "instances": 256,
             "read_energy_pj": 0.5, "write_energy_pj": 0.5, "bandwidth_words_per_cycle": 2,
             "keeps": ["Weights", "Inputs", "Outputs"]}]}}


def served_dimensions(instances: int, mesh_x: int, mesh_y: int) -> list[str]:
    if instances == 1:
        return ["D1", "D2"]
    if instances == mesh_x * mesh_y:
        return []
    if instances == mesh_x:
        return ["D2"]
    if instances == mesh_y:
        return ["D1"]
    raise ValueError(f"{instances} instances fit neither 1, mesh_x, mesh_y nor mesh_x*mesh_y")


def allocations(operands: list[str], top: bool) -> list[str]:
    """Data directions of every operand kept at a level: inputs come from above and go below;
    outputs also go up (except at the top) and come back from below."""
    out = []
    for op in operands:
        out += [f"{op}, fh", f"{op}, tl"]
        if op == "O":
            out += ["O, fl"] + ([] if top else ["O, th"])
    return out


def bandwidths(level: dict) -> tuple[float, float, bool]:
    """(read, write) words per cycle per instance and whether they were given separately; ``null``
    (unlimited) becomes UNLIMITED_WORDS."""
    split = "read_bandwidth_words_per_cycle" in level or "write_bandwidth_words_per_cycle" in level
    if split:
        rd, wr = level.get("read_bandwidth_words_per_cycle"), level.get("write_bandwidth_words_per_cycle")
    else:
        rd = wr = level["bandwidth_words_per_cycle"]
    return (UNLIMITED_WORDS if rd is None else rd), (UNLIMITED_WORDS if wr is None else wr), split


def ports_of(level: dict, operands: list[str], top: bool, port_model: str) -> list[dict]:
    bits = level["word_bits"]
    rd, wr, split = bandwidths(level)

    def port(name: str, kind: str, words: float, alloc: list[str]) -> dict:
        return {"name": name, "type": kind, "bandwidth_min": bits, "bandwidth_max": int(round(words * bits)),
                "allocation": alloc}

    groups = [operands] if port_model == "shared" else [[op] for op in operands]
    ports = []
    for i, group in enumerate(groups, start=1):
        alloc = allocations(group, top)
        if port_model == "shared" and not split:
            ports.append(port(f"rw_port_{i}", "read_write", rd, alloc))
        else:
            ports.append(port(f"r_port_{i}", "read", rd, [a for a in alloc if a.endswith(("tl", "th"))]))
            ports.append(port(f"w_port_{i}", "write", wr, [a for a in alloc if a.endswith(("fh", "fl"))]))
    return ports


def accelerator_yaml(arch: dict, port_model: str = "shared") -> dict:
    mesh_x, mesh_y = arch["mac"]["mesh_x"], arch["mac"]["mesh_y"]
    memories = {}
    levels = arch["levels"]
    for index in reversed(range(len(levels))):          # ZigZag wants memories innermost first
        level = levels[index]
        bits = level["word_bits"]
        operands = [MEM_OP[OPERANDS[k]] for k in ("Weights", "Inputs", "Outputs") if k in level["keeps"]]
        rd, wr, _ = bandwidths(level)
        depth = level["depth_words"]
        memories[level["name"]] = {
            "size": UNBOUNDED_BITS if depth is None else int(depth) * bits,
            # per access of bandwidth_max bits, so that one word costs the given energy
            "r_cost": float(level["read_energy_pj"]) * rd,
            "w_cost": float(level["write_energy_pj"]) * wr,
            "area": 0.0, "latency": 1, "operands": operands,
            "ports": ports_of(level, operands, top=index == 0, port_model=port_model),
            "served_dimensions": served_dimensions(level["instances"], mesh_x, mesh_y)}
    return {"name": "request_accelerator", "memories": memories,
            "operational_array": {"unit_energy": float(arch["mac"]["energy_pj"]), "unit_area": 0.0,
                                  "dimensions": ["D1", "D2"], "sizes": [mesh_x, mesh_y]}}


def mapping_yaml(arch: dict) -> list[dict]:
    spatial = arch["spatial"]
    return [{"name": "default",
             "spatial_mapping": {"D1": [f"{DIMS[spatial['X']]}, {arch['mac']['mesh_x']}"],
                                 "D2": [f"{DIMS[spatial['Y']]}, {arch['mac']['mesh_y']}"]},
             "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


def workload_layer(layer: dict, bits: int) -> dict:
    stride = layer.get("stride", 1)
    data = {"id": 0, "name": layer["name"], "operator_type": "Conv",
            "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={stride}*ox+1*fx", f"iy={stride}*oy+1*fy"],
            "loop_dims": [DIMS[d] for d in "NMCPQRS"],
            "loop_sizes": [int(layer[d]) for d in "NMCPQRS"],
            "operand_precision": {"W": bits, "I": bits, "O": bits, "O_final": bits},
            "operand_source": {"W": 0, "I": 0}}
    pad = layer.get("padding")
    if pad and any(pad):
        top, bottom, left, right = pad
        data["pr_loop_dims"] = ["IX", "IY"]
        data["padding"] = [[left, right], [top, bottom]]
    return data


def loops_with_levels(tm_dict: dict, level_names: dict) -> list[dict]:
    """Loops outermost first, each with the level that holds it for every operand. All operands see
    the same loop order (LOMA allocates one ordering), only the level boundaries differ."""
    flat = {}
    for op, per_level in tm_dict.items():
        flat[str(op)] = [(str(dim), factor, level_names[str(op)][lvl])
                         for lvl, loops in enumerate(per_level) for dim, factor in loops]
    orders = {op: [(d, f) for d, f, _ in loops] for op, loops in flat.items()}
    reference = next(iter(orders.values()))
    if any(order != reference for order in orders.values()):
        raise RuntimeError(f"operands disagree on the loop order: {orders}")
    loops = []
    for i in reversed(range(len(reference))):
        dim, factor = reference[i]
        loops.append({"dim": BACK.get(dim, dim), "factor": factor,
                      "levels": {NAMES[op]: flat[op][i][2] for op in flat}})
    return loops


def port_words(arch: dict) -> dict:
    """Words per ZigZag access (one access is bandwidth_max bits) per level, for reads and writes."""
    out = {}
    for level in arch["levels"]:
        rd, wr, _ = bandwidths(level)
        out[level["name"]] = {d: (rd if d in (DataDirection.RD_OUT_TO_LOW, DataDirection.RD_OUT_TO_HIGH) else wr)
                              for d in DIRECTIONS}
    return out


def describe(cme, wall_s: float, words_per_access: dict) -> dict:
    layer = cme.layer
    hierarchy = cme.accelerator.memory_hierarchy
    links = layer.memory_operand_links
    level_names = {str(op): [lvl.memory_instance.name for lvl in
                             hierarchy.get_memory_levels(links.layer_to_mem_op(op))]
                   for op in layer.layer_operands}
    per_level = {}
    for op, energies in cme.mem_energy_breakdown.items():
        for name, energy, further, accesses in zip(level_names[str(op)], energies,
                                                   cme.mem_energy_breakdown_further[op],
                                                   cme.memory_word_access[op]):
            per_level.setdefault(name, {})[NAMES[str(op)]] = {
                "energy_pj": energy,
                "energy_by_direction_pj": {DIRECTIONS[d]: further.get(d) for d in DIRECTIONS},
                "accesses": {DIRECTIONS[d]: accesses.get(d) for d in DIRECTIONS},
                "words": {DIRECTIONS[d]: accesses.get(d) * words_per_access[name][d] for d in DIRECTIONS}}
    # The unrolling ZigZag evaluates: clipped to the array and the layer dim, then to size/ceil(size/f) when f does
    # not divide the layer dim (a fraction where that is not an integer; spatial_mapping_per_operand has the integer
    # version its cost model uses for transfer intervals).
    spatial = {}
    for oa, m in layer.spatial_mapping.items():
        spatial[str(oa)] = {}
        for d, f in m.items():
            size = layer.layer_dim_sizes[d]
            effective = size / math.ceil(size / f)
            spatial[str(oa)][BACK.get(str(d), str(d))] = int(effective) if effective == int(effective) else effective
    return {
        "name": layer.name,
        "energy_pj": cme.energy_total,
        "mac_energy_pj": cme.mac_energy,
        "memory_energy_pj": cme.mem_energy,
        "energy_per_level_pj": {name: sum(v["energy_pj"] for v in ops.values()) for name, ops in per_level.items()},
        "energy_per_level_operand": per_level,
        "latency_cycles": cme.latency_total2,
        "latency_parts": {"ideal_cycle": cme.ideal_cycle, "ideal_temporal_cycle": cme.ideal_temporal_cycle,
                          "stall_slack": cme.stall_slack_comb, "onloading": cme.data_onloading_cycle,
                          "offloading": cme.data_offloading_cycle,
                          "latency_total0": cme.latency_total0, "latency_total1": cme.latency_total1,
                          # per level and port: stall (> 0) or slack (< 0) cycles; stall_slack is their max
                          "stall_slack_per_port": {
                              level.memory_instance.name: {str(port): value for port, value in ports.items()}
                              for level, ports in zip(cme.mem_level_list, cme.stall_slack_comb_collect)}},
        "edp": cme.energy_total * cme.latency_total2,
        "macs": layer.total_mac_count,
        "mac_utilization": cme.mac_utilization2,
        "temporal_mapping": loops_with_levels(cme.temporal_mapping.mapping_dic_origin, level_names),
        "temporal_mapping_stationary": loops_with_levels(cme.temporal_mapping.mapping_dic_stationary, level_names),
        "operand_levels": {NAMES[op]: names for op, names in level_names.items()},
        "spatial_mapping": spatial,
        # per operand: the spatial loops fanned out below each of its levels (innermost first)
        "spatial_mapping_per_operand": {
            NAMES[str(op)]: {level_names[str(op)][i] if i < len(level_names[str(op)]) else "above_top":
                             [[BACK.get(str(d), str(d)), f] for d, f in loops]
                             for i, loops in enumerate(per_level) if loops}
            for op, per_level in cme.spatial_mapping_int.mapping_dict_origin.items()},
        "wall_s": wall_s,
    }


def run(request: dict) -> dict:
    arch = request["architecture"]
    opt = request.get("opt", "EDP")
    lpf_limit = request.get("lpf_limit", 6)
    tm_type = request.get("temporal_mapping_type", "uneven")
    port_model = request.get("port_model", "shared")
    if port_model not in ("shared", "per_operand") or tm_type not in ("uneven", "even"):
        raise ValueError(f"unknown port_model {port_model!r} or temporal_mapping_type {tm_type!r}")
    bits = arch["levels"][-1]["word_bits"]
    answer = {"zigzag_version": importlib.metadata.version("zigzag-dse"), "opt": opt, "lpf_limit": lpf_limit,
              "temporal_mapping_type": tm_type, "port_model": port_model, "layers": []}
    with tempfile.TemporaryDirectory(prefix="zigzag_worker_") as tmp:
        accelerator_path = Path(tmp) / "accelerator.yaml"
        mapping_path = Path(tmp) / "mapping.yaml"
        accelerator_path.write_text(yaml.safe_dump(accelerator_yaml(arch, port_model), sort_keys=False))
        mapping_path.write_text(yaml.safe_dump(mapping_yaml(arch), sort_keys=False))
        for index, layer in enumerate(request["layers"]):
            start = time.perf_counter()
            _, _, cmes = get_hardware_performance_zigzag(
                [workload_layer(layer, bits)], str(accelerator_path), str(mapping_path),
                opt=opt, lpf_limit=lpf_limit, temporal_mapping_type=tm_type, dump_folder=f"{tmp}/out{index}",
                loma_show_progress_bar=False)
            wall_s = time.perf_counter() - start
            (cme, _), = cmes[0][1]
            answer["layers"].append(describe(cme, wall_s, port_words(arch)))
    return answer


def table(answer: dict) -> str:
    lines = [f"zigzag {answer['zigzag_version']}, opt={answer['opt']}, lpf_limit={answer['lpf_limit']}, "
             f"{answer['temporal_mapping_type']} mapping, {answer['port_model']} ports",
             f"{'layer':6} {'MACs':>9} {'energy_pJ':>12} {'cycles':>9} {'EDP':>11} {'util':>5} {'wall_s':>7}"]
    for r in answer["layers"]:
        lines.append(f"{r['name']:6} {r['macs']:9d} {r['energy_pj']:12.1f} {r['latency_cycles']:9.0f} "
                     f"{r['edp']:11.4g} {r['mac_utilization']:5.2f} {r['wall_s']:7.2f}")
        lines.append("    energy/level: " + ", ".join(f"{k} {v:.1f}" for k, v in r["energy_per_level_pj"].items())
                     + f", MAC {r['mac_energy_pj']:.1f}")
        lines.append("    spatial: " + ", ".join(f"{oa} {m}" for oa, m in r["spatial_mapping"].items()))
        for loop in r["temporal_mapping"]:
            lines.append(f"    for {loop['dim']} in {loop['factor']}: "
                         + " ".join(f"{op[0]}@{lvl}" for op, lvl in loop["levels"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("request", nargs="?")
    parser.add_argument("answer", nargs="?")
    parser.add_argument("--selftest", action="store_true", help="run a built-in two-layer request")
    args = parser.parse_args()
    if args.selftest:
        answer = run(SELFTEST)
        print(table(answer))
        if args.answer or args.request:
            Path(args.answer or args.request).write_text(json.dumps(answer, indent=1))
        return
    if not (args.request and args.answer):
        parser.error("REQUEST.json and ANSWER.json are required without --selftest")
    answer = run(json.loads(Path(args.request).read_text()))
    Path(args.answer).write_text(json.dumps(answer, indent=1))
    print(json.dumps({"zigzag_version": answer["zigzag_version"],
                      "wall_s": [r["wall_s"] for r in answer["layers"]]}))


if __name__ == "__main__":
    sys.exit(main())
