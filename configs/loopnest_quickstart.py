"""Joint co-search of the quickstart network and DIAN's generic loop-nest accelerator (digits, CPU).

Command:  dianjax search --config loopnest_quickstart --workdir runs/loopnest_quickstart
The quickstart's supernet and schedule on the loop-nest template (:mod:`sim.loopnest`,
:mod:`dianjax.cost.loopnest_template`): PE array rows and columns, global buffer size, register
file size and DRAM bandwidth chosen for the accelerator (243 designs), a dataflow (the dataspace
the PE register files keep) chosen per conv, and each layer run with its best candidate mapping on
the accelerator; EDP as the cost. Before the first step the candidate mappings of the quickstart's
23 layer shapes are searched (18 representative accelerators x 3 dataflows each).
"""

from dianjax.config import load_config
from dianjax.search.config import hardware_section


def get_config():
    config = load_config("quickstart")
    config.hardware = hardware_section("loopnest")
    return config
