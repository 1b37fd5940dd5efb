"""Command line of the simulator: ``python -m sim`` and ``dianjax simulate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.architecture import Accelerator
from sim.networks import NETWORKS, get_network
from sim.workload import Network


def load_network(spec: str, batch: int) -> Network:
    """A reference network by name, or a network JSON file by path."""
    if spec in NETWORKS:
        return get_network(spec, batch=batch)
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--network must be one of {sorted(NETWORKS)} or a JSON file, got {spec!r}")
    return Network.load(path).with_batch(batch)


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--network", default="resnet20",
                        help=f"one of {sorted(NETWORKS)} or a network JSON file (default resnet20)")
    parser.add_argument("--accelerator", default=None,
                        help="accelerator JSON file (default: the built-in 32x32 WS accelerator)")
    parser.add_argument("--batch", type=int, default=1, help="batch size N (default 1)")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = _parser(prog).parse_args(argv)
    try:
        network = load_network(args.network, args.batch)
        accelerator = Accelerator.load(args.accelerator) if args.accelerator else Accelerator()
    except (ValueError, OSError) as error:
        print(f"error: {error}")
        return 2
    print(f"{network.name}: {len(network)} layers, {network.macs:,} MACs on {accelerator}")
    for layer in network:
        print(f"  {layer.name:28s} {layer.kind:9s} C={layer.C:<5d} M={layer.M:<5d} "
              f"{layer.H}x{layer.W}->{layer.P}x{layer.Q} k={layer.R} s={layer.stride} "
              f"MACs={layer.macs:,}")
    return 0
