"""Final training of a derived network from scratch on the embedded digits data (CPU).

Command:  dianjax train --workdir runs/train-digits
          (another network: --config.ops="('mb_k3_e1', 'skip', 'mb_k5_e3', 'mb_k3_e3')";
           CIFAR-10: --config.dataset=cifar10 --config.space=cifar --config.ops=<22 names>
           --config.num_epochs=200 --config.batch_size=128 --config.weight_decay=4e-5 on a GPU)
Expected: ~1 minute on a 2-core CPU; test accuracy ~0.97 on the 360 held-out digits.
"""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.dataset = "digits"          # a name of dianjax.data.DATASETS
    config.data_dir = ""               # tfds data dir; "" = tfds's default
    config.space = "quickstart"        # a name of dianjax.nas.search_space.SPACES
    config.ops = ("mb_k3_e3", "mb_k3_e3", "mb_k5_e3", "mb_k3_e3")  # one op per searchable layer
    config.seed = 0
    config.eval_split = "test"         # "test": train on train, test on test (the final figure);
    #                                    "val": train on search_train, evaluate on search_val
    config.val_fraction = 0.2          # share of train held out as search_val (eval_split="val")
    config.split_seed = 0              # seed of that partition
    config.batch_size = 64
    config.eval_batch_size = 120
    config.num_epochs = 30
    config.learning_rate = 0.1         # peak of the cosine decay
    config.momentum = 0.9
    config.nesterov = True
    config.weight_decay = 5e-4         # on conv/dense kernels only
    config.label_smoothing = 0.1
    config.log_every_steps = 10
    config.eval_every_epochs = 5
    config.checkpoint_every_steps = 110
    return config
