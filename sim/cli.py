"""Command line of the simulator: ``python -m sim`` and ``dianjax simulate``.

Simulates a reference network (or a network JSON file) on an accelerator (JSON file, or the built-in
default) and prints one row per layer (cycles, stalls, utilization, energy, DRAM traffic) and the
totals; ``--json PATH`` also writes the full report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.energy import EnergyTable
from sim.networks import NETWORKS, get_network
from sim.simulator import simulate_network
from sim.systolic.architecture import Accelerator
from sim.systolic.report import NetworkReport
from sim.systolic.simulator import MEMORY_MODELS
from sim.workload import Network


def load_network(spec: str, batch: int) -> Network:
    """A reference network by name, or a network JSON file by path."""
    if spec in NETWORKS:
        return get_network(spec, batch=batch)
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--network must be one of {sorted(NETWORKS)} or a JSON file, got {spec!r}")
    return Network.load(path).with_batch(batch)


def format_report(report: NetworkReport) -> str:
    """The per-layer table and totals of a network report, as printed by the command."""
    acc = report.accelerator
    header = (f"{'layer':28s} {'kind':9s} {'cycles':>11s} {'stalls':>11s} {'util %':>7s} "
              f"{'energy uJ':>11s} {'DRAM words':>12s}")
    lines = [f"{report.network} on a {acc.rows}x{acc.cols} {acc.dataflow.upper()} array, "
             f"SRAM {acc.ifmap_sram_kb:g}/{acc.filter_sram_kb:g}/{acc.ofmap_sram_kb:g} KiB "
             f"(ifmap/filter/ofmap), DRAM {acc.dram_bandwidth_words_per_cycle:g} words/cycle, "
             f"{acc.word_bits}-bit words, {acc.clock_mhz:g} MHz",
             header, "-" * len(header)]
    for layer in report.layers:
        lines.append(f"{layer.name:28s} {layer.kind:9s} {layer.total_cycles:11,d} "
                     f"{layer.stall_cycles:11,d} {100 * layer.utilization:7.1f} "
                     f"{layer.energy_pj / 1e6:11.3f} {layer.dram_words:12,d}")
    lines.append("-" * len(header))
    lines.append(f"{'total':28s} {'':9s} {report.total_cycles:11,d} {report.stall_cycles:11,d} "
                 f"{100 * report.utilization:7.1f} {report.energy_pj / 1e6:11.3f} "
                 f"{report.dram_words:12,d}")
    energy = report.energy
    lines.append(f"MACs {report.macs:,}; latency {report.latency_s * 1e3:.4f} ms; "
                 f"area {report.area_mm2:.3f} mm^2")
    lines.append(f"energy uJ: MAC {energy.mac_pj / 1e6:.3f}, register {energy.register_pj / 1e6:.3f}, "
                 f"SRAM {energy.sram_pj / 1e6:.3f} (ifmap {energy.ifmap_sram_pj / 1e6:.3f}, "
                 f"filter {energy.filter_sram_pj / 1e6:.3f}, ofmap {energy.ofmap_sram_pj / 1e6:.3f}), "
                 f"DRAM {energy.dram_pj / 1e6:.3f}, DRAM interface "
                 f"{energy.dram_interface_pj / 1e6:.3f}, leakage {energy.leakage_pj / 1e6:.3f}")
    return "\n".join(lines)


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog or "python -m sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="resnet20",
                        help=f"one of {sorted(NETWORKS)} or a network JSON file (default resnet20)")
    parser.add_argument("--accelerator", default=None,
                        help="accelerator JSON file (default: the built-in 32x32 WS accelerator)")
    parser.add_argument("--batch", type=int, default=1, help="batch size N (default 1)")
    parser.add_argument("--memory-model", default=MEMORY_MODELS[0], choices=MEMORY_MODELS,
                        help="DRAM traffic and stalls: ours (analytical, default) or scalesim "
                             "(SCALE-Sim 3.0.0's USER-bandwidth buffers)")
    parser.add_argument("--energy-table", default=None, metavar="PATH",
                        help="an EnergyTable JSON (sim.EnergyTable.save) instead of the default "
                             "45 nm table")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write the full report (per layer and totals) as JSON")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = _parser(prog).parse_args(argv)
    try:
        network = load_network(args.network, args.batch)
        accelerator = Accelerator.load(args.accelerator) if args.accelerator else Accelerator()
        table = EnergyTable.load(args.energy_table) if args.energy_table else None
        if args.json is not None and not Path(args.json).parent.is_dir():
            raise ValueError(f"--json {args.json!r}: folder {str(Path(args.json).parent)!r} "
                             "does not exist")
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        report = simulate_network(network, accelerator, energy_table=table,
                                  memory_model=args.memory_model)
    except ValueError as error:     # e.g. an accelerator SCALE-Sim's model cannot represent
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json is not None:
        report.save_json(args.json)
        print(f"wrote {args.json}")
    return 0
