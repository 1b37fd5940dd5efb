"""The joint search on ImageNet (FBNet's 224x224 space), meant for a multi-GPU / TPU host.

Command:  dianjax search --config imagenet --workdir runs/imagenet
          (imagenet2012 must be prepared with tfds by hand: tfds cannot download it for you)
Schedule: FBNet's (Wu et al. 2019, Sec. 4.1): 90 epochs on an 80/20 split of the train set at
batch 192, weights only for the first 10 epochs; temperature 5.0 decayed to ~0.1.
"""

from dianjax.search.config import base_config

STEPS_PER_EPOCH = 5338  # 0.8 * 1,281,167 images / batch 192


def get_config():
    config = base_config()
    config.space = "imagenet"
    config.data.dataset = "imagenet2012"
    config.data.val_fraction = 0.2
    config.data.batch_size = 192
    config.data.eval_batch_size = 250
    config.cost.batch = 1
    config.hardware.rows = (16, 32, 64, 128, 256)
    config.hardware.cols = (16, 32, 64, 128, 256)
    config.hardware.ifmap_sram_kb = (64, 128, 256, 512, 1024)
    config.hardware.filter_sram_kb = (64, 128, 256, 512, 1024)
    config.hardware.ofmap_sram_kb = (64, 128, 256, 512, 1024)
    config.hardware.dram_bandwidth_words_per_cycle = (16.0, 32.0, 64.0, 128.0)
    config.search.hard = True
    config.search.warmup_steps = 10 * STEPS_PER_EPOCH
    config.search.steps = 80 * STEPS_PER_EPOCH
    config.search.temperature_initial = 5.0
    config.search.temperature_final = 0.1
    config.search.weight_lr = 0.1
    config.search.weight_decay = 1e-4
    config.search.arch_lr = 0.01
    config.search.hw_lr = 0.01
    config.final_train.enabled = True
    config.final_train.num_epochs = 90
    config.final_train.batch_size = 256
    config.final_train.learning_rate = 0.1
    config.final_train.weight_decay = 4e-5
    config.log_every_steps = 100
    config.checkpoint_every_steps = 2000
    return config
