"""Which term steers the op choice? Task vs cost gradient norms on the op logits over a search.

    python benchmarks/logit_gradient_balance.py [--lams 0.1,1,3] [--seed 0] [--workdir DIR]
    python benchmarks/logit_gradient_balance.py --runs runs/bench_joint2/edp/lam1/seed0 ...

Every logit step of ``dianjax search`` logs ``task_grad_norm`` (the val cross-entropy's gradient
on the op logits, one Gumbel draw of the op weights) and ``cost_grad_norm`` (lam times the
hardware term's, plus the targets' terms), sampled every ``log_every_steps``. Without ``--runs``
this runs the quickstart search once per lam (a minute or two each on a 2-core CPU; resumed or
read back from ``--workdir``); with ``--runs`` it reads finished run folders. Per run and quarter
of the logit steps it prints the median of both norms and their ratio, and at the end the mean op
entropy and the picked op's probability per layer. Adam scales each coordinate by its own gradient
history, so a deterministic cost gradient moves the logits at full step size while a noisy task
gradient of the same norm mostly cancels: a ratio near 1 already means the cost decides.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def balance(run_dir: Path) -> list[str]:
    """The report lines of one run folder (its metrics.jsonl)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "cost_grad_norm" in r]
    if not steps:
        raise ValueError(f"{run_dir}/metrics.jsonl has no logit steps with gradient norms "
                         "(a run of an older dianjax, or a warm-up-only run)")
    lines = []
    for index, quarter in enumerate(np.array_split(np.arange(len(steps)), 4)):
        if not len(quarter):
            continue
        task = np.median([steps[i]["task_grad_norm"] for i in quarter])
        cost = np.median([steps[i]["cost_grad_norm"] for i in quarter])
        first, last = steps[quarter[0]]["step"], steps[quarter[-1]]["step"]
        lines.append(f"  steps {first:4d}-{last:4d}  task {task:9.3g}  cost {cost:9.3g}  "
                     f"cost/task {cost / task:8.3g}")
    final = steps[-1]
    picked = [max(row) for row in final["op_probs"]]
    lines.append(f"  end: mean op entropy {final['arch_entropy']:.3f}, picked op probability per "
                 f"layer {' '.join(f'{p:.2f}' for p in picked)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=None, help="finished run folders to read")
    parser.add_argument("--lams", default="0.1,1,3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="where the searches run (default: temp)")
    args = parser.parse_args(argv)
    if args.runs:
        run_dirs = [Path(r) for r in args.runs]
    else:
        from dianjax.config import load_config
        from dianjax.search.loop import run_search

        root = Path(args.workdir or tempfile.mkdtemp(prefix="gradient_balance_"))
        run_dirs = []
        for lam in (float(v) for v in args.lams.split(",")):
            run_dir = root / f"lam{lam:g}_seed{args.seed}"
            if not (run_dir / "result.json").exists():
                run_search(load_config("quickstart", [f"cost.lam={lam!r}",
                                                      f"seed={args.seed}"]), run_dir)
            run_dirs.append(run_dir)
    for run_dir in run_dirs:
        result = json.loads((run_dir / "result.json").read_text())
        target = (result.get("target") or {}).get("targets")
        print(f"{run_dir}: lam {result['lam']:g}" + (f", targets {target}" if target else ""))
        print("\n".join(balance(run_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
