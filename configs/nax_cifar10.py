"""NAX on CIFAR-10: ResNet-20's backbone with a kernel {3, 5, 7} or zero op per residual block,
co-searched with a memristive-crossbar accelerator whose non-idealities enter the supernet's forward
pass (crossbar size per conv, ADC bits); meant for one GPU.

Command:  dianjax search --config nax_cifar10 --workdir runs/nax_cifar10
          (prepare the data once: see the README, `tfds build cifar10 --file_format=array_record`)
Space ``nax_cifar`` (9 blocks; all ``res_k3`` is ResNet-20 with 1x1 projection shortcuts);
hardware: the crossbar template, crossbar size per conv {16, 32, 64, 128}, ADC bits {4, 6, 8,
lossless} and columns per ADC searched, 4-bit cells and 2-bit DACs fixed; objective EDAP (NAX's).
Schedule as configs/cifar10.py (50 epochs of 195 steps at batch 128, the first 10 weights only),
single path; then the derived network is trained noise-aware on the derived crossbars for 200
epochs and evaluated over 8 chips with the full bit-level noise model (``derived_test_crossbar``).
Not run yet: no GPU has been available to this project; the step's memory and time are unmeasured.
"""

from dianjax.config import load_config


def get_config():
    config = load_config("cifar10")
    nax = load_config("nax_quickstart")
    config.space = "nax_cifar"
    config.hardware = nax.hardware
    config.cost.objective = nax.cost.objective
    config.analog = nax.analog
    config.analog.eval_batch_size = 500
    config.search.hard = True
    config.search.remat = False         # the crossbar model is not rematerialized
    return config
