"""Command line of the simulator: ``python -m sim`` and ``dianjax simulate``.

Simulates a reference network (or a network JSON file) on an accelerator of a hardware template
(``--template``: the systolic array or memristive crossbars; the accelerator from a JSON file, or
the template's built-in default) and prints one row per layer and the totals (systolic: cycles,
stalls, utilization, energy, DRAM traffic; crossbar: crossbars, cell utilization, ADC conversions,
cycles, energy); ``--json PATH`` also writes the full report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.crossbar.report import CrossbarNetworkReport
from sim.networks import NETWORKS, get_network
from sim.registry import TEMPLATES, get_template
from sim.simulator import simulate_network
from sim.systolic.report import NetworkReport
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
    lines = [(f"{report.network} on a {acc.rows}x{acc.cols} {acc.dataflow.upper()} array, "
             f"SRAM {acc.ifmap_sram_kb:g}/{acc.filter_sram_kb:g}/{acc.ofmap_sram_kb:g} KiB "
             f"(ifmap/filter/ofmap), DRAM {acc.dram_bandwidth_words_per_cycle:g} words/cycle, "
             f"{acc.word_bits}-bit words, {acc.clock_mhz:g} MHz"),
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


def format_crossbar_report(report: CrossbarNetworkReport) -> str:
    """The per-layer table and totals of a crossbar network report, as printed by the command."""
    acc = report.accelerator
    header = (f"{'layer':28s} {'kind':9s} {'xbar':>5s} {'crossbars':>9s} {'cells %':>7s} "
              f"{'ADC conv.':>13s} {'cycles':>11s} {'energy uJ':>11s}")
    lines = [(f"{report.network} on {acc.crossbar_size}x{acc.crossbar_size} crossbars (default "
             f"size), {acc.cell_bits}-bit cells, {acc.weight_bits}-bit weights, "
             f"{acc.input_bits}-bit inputs, {acc.dac_bits}-bit DACs, ADC {acc.adc_bits} bits "
             f"shared by {acc.columns_per_adc} columns, {acc.crossbars_per_tile} crossbars per "
             f"tile, {acc.clock_mhz:g} MHz"),
             header, "-" * len(header)]
    for layer in report.layers:
        lines.append(f"{layer.name:28s} {layer.kind:9s} {layer.crossbar_size:5d} "
                     f"{layer.crossbars:9,d} {100 * layer.cell_utilization:7.1f} "
                     f"{layer.adc_conversions:13,d} {layer.total_cycles:11,d} "
                     f"{layer.energy_pj / 1e6:11.3f}")
    lines.append("-" * len(header))
    totals = report.totals()
    lines.append(f"{'total':28s} {'':9s} {'':5s} {report.crossbars:9,d} {'':7s} "
                 f"{totals['adc_conversions']:13,d} {report.total_cycles:11,d} "
                 f"{report.energy_pj / 1e6:11.3f}")
    lines.append(f"MACs {report.macs:,}; latency {report.latency_s * 1e3:.4f} ms (layers in "
                 f"turn); area {report.area_mm2:.3f} mm^2 ({report.tiles:,d} tiles, all layers "
                 f"resident); EDAP {report.edap_pj_s_mm2:.4g} pJ s mm^2")
    lines.append("energy uJ: " + ", ".join(
        f"{name.removesuffix('_pj').replace('_', '-')} {value / 1e6:.3f}"
        for name, value in report.energy._asdict().items()))
    return "\n".join(lines)


_FORMATS = {"systolic": format_report, "crossbar": format_crossbar_report}


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog or "python -m sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="resnet20",
                        help=f"one of {sorted(NETWORKS)} or a network JSON file (default resnet20)")
    parser.add_argument("--template", default="systolic", choices=sorted(TEMPLATES),
                        help="hardware template of the accelerator (default systolic)")
    parser.add_argument("--accelerator", default=None,
                        help="accelerator JSON file of the template (default: the template's "
                             "built-in accelerator: a 32x32 WS array; ISAAC-like 128x128 "
                             "crossbars)")
    parser.add_argument("--batch", type=int, default=1, help="batch size N (default 1)")
    parser.add_argument("--memory-model", default=None,
                        help="one of the template's memory models (systolic: ours, the "
                             "analytical default, or scalesim, SCALE-Sim 3.0.0's USER-bandwidth "
                             "buffers; crossbar: analytical)")
    parser.add_argument("--energy-table", default=None, metavar="PATH",
                        help="an energy table JSON of the template (sim.EnergyTable.save, "
                             "sim.CrossbarEnergyTable.save) instead of its default table")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write the full report (per layer and totals) as JSON")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = _parser(prog).parse_args(argv)
    try:
        network = load_network(args.network, args.batch)
        template = get_template(args.template)
        accelerator = (template.architecture.load(args.accelerator) if args.accelerator
                       else template.architecture())
        table = template.energy_table.load(args.energy_table) if args.energy_table else None
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
    print(_FORMATS[template.name](report))
    if args.json is not None:
        report.save_json(args.json)
        print(f"wrote {args.json}")
    return 0
