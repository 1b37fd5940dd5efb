"""Final training of a derived network from scratch on the embedded digits data (CPU).

Command:  dianjax train --workdir runs/train-digits
          (another network: --config.ops="('mb_k3_e1', 'skip', 'mb_k5_e3', 'mb_k3_e3')";
           CIFAR-10: --config.dataset=cifar10 --config.space=cifar --config.ops=<22 names>
           --config.num_epochs=200 --config.batch_size=128 --config.weight_decay=4e-5 on a GPU)
Expected: ~1 minute on a 2-core CPU; test accuracy ~0.97 on the 360 held-out digits.
"""

from dianjax.train import analog_section, schedule_config


def get_config():
    config = schedule_config()         # num_epochs, batch_size, learning_rate, weight_decay, ...
    config.dataset = "digits"          # a name of dianjax.data.DATASETS
    config.data_dir = ""               # tfds data dir; "" = tfds's default
    config.workers = 0                 # grain worker processes preparing batches; 0 = a
    #                                    background thread, -1 = one per core less one
    config.decoded_cache = ""          # fixed-size tfds data decoded once into this folder;
    #                                    "" = ~/.cache/dianjax/decoded, "off" = never
    config.space = "quickstart"        # a name of dianjax.nas.search_space.SPACES
    config.ops = ("mb_k3_e3", "mb_k3_e3", "mb_k5_e3", "mb_k3_e3")  # one op per searchable layer
    config.seed = 0
    config.eval_split = "test"         # "test": train on train, test on test (the final figure);
    #                                    "val": train on search_train, evaluate on search_val
    config.val_fraction = 0.2          # share of train held out as search_val (eval_split="val")
    config.split_seed = 0              # seed of that partition
    config.eval_batch_size = 120
    config.momentum = 0.9
    config.nesterov = True
    config.log_every_steps = 10
    config.eval_every_epochs = 5
    config.checkpoint_every_steps = 110
    config.analog = analog_section()   # enabled: noise-aware training on memristive crossbars,
    #                                    evaluated over chips on the full noise model
    return config
