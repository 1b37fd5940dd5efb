"""Joint co-search on the embedded 8x8 digits (no download): the README's first command.

Command:  dianjax search                       (this config; --workdir runs/quickstart)
          dianjax search --config.cost.lam=3.0 --config.cost.objective=latency
Expected: about a minute on a 2-core CPU; result.json with the derived network, the derived
accelerator, the supernet's validation accuracy and the simulator's latency / energy / area / EDP,
and the one-shot front: all 500 networks scored on the supernet, each on its exactly best
accelerator, the non-dominated pairs (front.png; dianjax.search.front).
"""

from dianjax.search.config import base_config


def get_config():
    config = base_config()
    config.data.dataset = "digits"
    config.data.batch_size = 64
    config.data.val_fraction = 0.3
    config.space = "quickstart"
    config.search.warmup_steps = 100
    config.search.steps = 300
    config.log_every_steps = 20
    config.checkpoint_every_steps = 100
    return config
