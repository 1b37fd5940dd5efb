"""NAX on the embedded digits (CPU): a ResNet's blocks (kernel 3/5/7 or the zero op) co-searched
with a memristive-crossbar accelerator whose non-idealities change accuracy.

Command:  dianjax search --config nax_quickstart --workdir runs/nax_quickstart
Space ``nax_quickstart`` (residual blocks of kernel {3, 5, 7} or skip, 4 blocks); hardware: the
crossbar template with a crossbar size per conv {16, 32, 64, 128} and the ADC bits {4, 6, 8,
lossless} searched, 4-bit cells and 2-bit DACs fixed (the forward pass needs one choice of each);
objective EDAP (NAX's). The supernet runs on the sampled crossbars with conductance variation
sd 0.1 (``config.analog``, :mod:`dianjax.nas.analog`), so accuracy pulls the crossbar sizes and
ADC bits one way and EDAP the other. ``result.json`` reports the derived path's accuracy on the
derived crossbars with the full bit-level noise model over 8 chips.
"""

from dianjax.config import load_config
from dianjax.search.config import hardware_section


def get_config():
    config = load_config("quickstart")
    config.space = "nax_quickstart"
    config.hardware = hardware_section("crossbar")
    config.hardware.cell_bits = (4,)
    config.hardware.dac_bits = (2,)
    config.cost.objective = "edap"
    config.analog.enabled = True
    config.search.hard = True          # single path: one block per layer runs on crossbars
    config.search.warmup_steps = 60
    config.search.steps = 200
    return config
