"""Runs IBM aihwkit analog tiles on given weights and inputs; the peer side of
``crossbar_noise_crosscheck.py``.

Executed by the Python of aihwkit's own virtualenv (never imported by the project, which does not
depend on aihwkit or torch)::

    /work/aihwkit-venv/bin/python benchmarks/aihwkit_worker.py SPEC.json OUT.npz

``SPEC.json`` holds ``{"runs": [run, ...]}``, each run::

    {"name": str,                      # key of its outputs in OUT.npz
     "config": "InferenceRPUConfig" | "TorchInferenceRPUConfigIRDropT",
     "forward": {field: value},        # IOParameters fields; enum fields by member name
     "max_input_size": int,            # 0: one tile; else aihwkit's TileModuleArray split of K
     "weights": [[...]],               # [out, in], aihwkit's layout
     "inputs": [[...]],                # [P, in]
     "noise": null | {"kind": "programming" | "modifier_mult_normal", "sigma": float},
     "draws": int, "seed": int}

``OUT.npz`` holds, per run, float64 ``[draws, P, out]``. Every run gets a fresh tile with the
weights set, no weight remapping (``weight_scaling_omega=0``) and no drift compensation, and runs
in eval mode, except:

* ``programming``: the tile's ``noise_model`` is ``StateIndependentNoiseModel`` with programming
  noise ``sigma_g = sigma * g`` (``prog_coeff=[0, sigma * g_max, 0]``, clamped at ``g >= 0`` by
  aihwkit), no drift and no read noise; each draw calls ``program_weights()`` (a new chip) before
  the forward pass.
* ``modifier_mult_normal``: aihwkit's hardware-aware-training weight modifier
  ``WeightModifierType.MULT_NORMAL`` (``w += w * sigma * N(0, 1)``, ``assumed_wmax=1``); the tile
  runs in train mode and each draw calls ``post_update_step()`` (a new modified weight) before the
  forward pass.

``torch.manual_seed(seed)`` fixes the programming-noise draws (torch); the C++ tile's own random
generator (``w_noise``, the modifier) is not seeded from Python, so those draws change from run to
run (their statistics do not). Prints one JSON line with the aihwkit and torch versions.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from aihwkit.inference.noise.custom import StateIndependentNoiseModel
from aihwkit.simulator.configs import InferenceRPUConfig, TorchInferenceRPUConfigIRDropT
from aihwkit.simulator.parameters import (
    IOParameters,
    IOParametersIRDropT,
    MappingParameter,
    WeightModifierParameter,
    enums,
)
from aihwkit.simulator.tiles.array import TileModuleArray
from aihwkit.version import __version__ as aihwkit_version

CONFIGS = {"InferenceRPUConfig": (InferenceRPUConfig, IOParameters),
           "TorchInferenceRPUConfigIRDropT": (TorchInferenceRPUConfigIRDropT, IOParametersIRDropT)}
ENUM_FIELDS = {"mv_type": enums.AnalogMVType, "noise_management": enums.NoiseManagementType,
               "bound_management": enums.BoundManagementType,
               "w_noise_type": enums.WeightNoiseType}
G_MAX_US = 25.0


def rpu_config(run: dict):
    config_class, io_class = CONFIGS[run["config"]]
    forward = {name: ENUM_FIELDS[name][value] if name in ENUM_FIELDS else value
               for name, value in run["forward"].items()}
    config = config_class()
    config.forward = io_class(**forward)
    config.mapping = MappingParameter(weight_scaling_omega=0.0,
                                      max_input_size=run["max_input_size"], max_output_size=0)
    config.drift_compensation = None
    noise = run["noise"]
    if noise is not None and noise["kind"] == "programming":
        config.noise_model = StateIndependentNoiseModel(
            g_max=G_MAX_US, prog_coeff=[0.0, noise["sigma"] * G_MAX_US, 0.0],
            drift_nu_mean=0.0, drift_nu_std=0.0, read_noise_scale=0.0)
    elif noise is not None and noise["kind"] == "modifier_mult_normal":
        config.modifier = WeightModifierParameter(
            type=enums.WeightModifierType.MULT_NORMAL, std_dev=noise["sigma"],
            rel_to_actual_wmax=False, assumed_wmax=1.0)
    elif noise is not None:
        raise ValueError(f"unknown noise kind {noise['kind']!r} in run {run['name']!r}")
    return config


def run_tiles(run: dict) -> np.ndarray:
    torch.manual_seed(run["seed"])
    weights = torch.tensor(run["weights"], dtype=torch.float32)
    inputs = torch.tensor(run["inputs"], dtype=torch.float32)
    config = rpu_config(run)
    out_size, in_size = weights.shape
    if run["max_input_size"] > 0:
        module = TileModuleArray(out_size, in_size, config)
        tiles = [tile for row in module.array for tile in row]
    else:
        module = config.tile_class(out_size, in_size, config)
        tiles = [module]
    module.set_weights(weights)
    noise = run["noise"]
    training = noise is not None and noise["kind"] == "modifier_mult_normal"
    module.train(training)
    outputs = []
    for _ in range(run["draws"]):
        for tile in tiles:
            if noise is None:
                continue
            if noise["kind"] == "programming":
                tile.program_weights()
            else:
                tile.post_update_step()
        with torch.no_grad():
            outputs.append(module(inputs).double().numpy())
    return np.stack(outputs)


def main(argv: list[str]) -> int:
    spec_path, out_path = argv
    with open(spec_path) as f:
        spec = json.load(f)
    np.savez(out_path, **{run["name"]: run_tiles(run) for run in spec["runs"]})
    print(json.dumps({"aihwkit": aihwkit_version, "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
