"""The joint search on ImageNet (FBNet's 224x224 space), meant for a multi-GPU / TPU host.

Command:  dianjax search --config imagenet --workdir runs/imagenet
          (imagenet2012 must be prepared with tfds by hand: tfds cannot download it for you;
           several hosts: set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID on
           each, or launch under SLURM / on a TPU pod slice; see dianjax.distributed)
Search: as FBNet (Wu et al. 2019, Sec. 4.1), on ImageNet-100: the `imagenet100` data set, 100
classes sampled once (seed dianjax.data.CLASS_SAMPLE_SEED) from imagenet2012's 1000, relabelled
0..99; their ~128k train images split 80/20 into search_train (weights) and search_val (op and
hardware logits). 90 epochs at batch 192, weights only for the first 10; temperature 5.0 decayed to
0.1. The first run reads every train label once (without decoding images) and caches them.
Final training: the derived network (1000-class head) from scratch on the whole imagenet2012 train
split for 90 epochs at batch 256, evaluated on imagenet2012's validation split (the "test" split).
"""

from dianjax.search.config import base_config

STEPS_PER_EPOCH = 534  # ~0.8 * 128,000 images of 100 classes / batch 192


def get_config():
    config = base_config()
    config.space = "imagenet"
    config.data.dataset = "imagenet100"
    config.data.workers = -1            # one grain worker per core less one: crops and resizes
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
    config.search.remat = True            # joint step: 16.5 GiB per device on the CPU backend,
                                          # 60.7 GiB without (benchmarks/step_memory.py)
    config.search.warmup_steps = 10 * STEPS_PER_EPOCH
    config.search.steps = 80 * STEPS_PER_EPOCH
    config.search.temperature_initial = 5.0
    config.search.temperature_final = 0.1
    config.search.weight_lr = 0.1
    config.search.weight_decay = 1e-4
    config.search.arch_lr = 0.01
    config.search.hw_lr = 0.01
    config.final_train.enabled = True
    config.final_train.dataset = "imagenet2012"
    config.final_train.num_epochs = 90
    config.final_train.batch_size = 256
    config.final_train.learning_rate = 0.1
    config.final_train.weight_decay = 4e-5
    config.log_every_steps = 100
    config.checkpoint_every_steps = 2000
    return config
