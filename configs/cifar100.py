"""The joint search on CIFAR-100: the CIFAR-10 schedule with 100 classes (one GPU).

Command:  dianjax search --config cifar100 --workdir runs/cifar100
          (prepare the data once: `tfds build cifar100 --file_format=array_record`)
Memory: CIFAR-10's `search.remat`; the joint step compiled for the CPU backend needs 3.75 GiB per
device, 21.6 GiB without remat (`python benchmarks/step_memory.py`, 2026-12-03).
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_cifar10", Path(__file__).with_name("cifar10.py"))
_cifar10 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cifar10)


def get_config():
    config = _cifar10.get_config()
    config.data.dataset = "cifar100"
    return config
