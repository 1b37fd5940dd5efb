"""Joint co-search of the quickstart network and a memristive-crossbar accelerator (digits, CPU).

Command:  dianjax search --config crossbar_quickstart --workdir runs/crossbar_quickstart
The quickstart's supernet and schedule on the crossbar template (:mod:`sim.crossbar`): ADC bits
(incl. lossless), cell bits, DAC bits and columns per ADC chosen for the accelerator, a crossbar
size chosen per conv (NAX's per-layer knob), EDAP (NAX's objective) as the cost. Accuracy is the
digital supernet's: the crossbar's non-idealities (dianjax.nas.crossbar_noise) do not enter this
search's forward pass; `experiments/crossbar_tradeoff.py` measures how they change accuracy.
"""

from dianjax.config import load_config
from dianjax.search.config import hardware_section


def get_config():
    config = load_config("quickstart")
    config.hardware = hardware_section("crossbar")
    config.cost.objective = "edap"
    return config
