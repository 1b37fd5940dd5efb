"""The paper-style joint search on CIFAR-10 (FBNet/DNA-like 22-layer space), meant for one GPU.

Command:  dianjax search --config cifar10 --workdir runs/cifar10
          (prepare the data once: see the README, `tfds build cifar10 --file_format=array_record`)
Schedule: DARTS/FBNet-style: 50 epochs of 195 steps on the 25k/25k train/val halves of the train
split (batch 128), the first 10 epochs weights only; SGD 0.1 cosine on weights, Adam 0.01 on the
op logits (FBNet, Wu et al. 2019, Sec. 4.1) and on the hardware logits; Gumbel temperature 5 -> 0.2.
Then the derived network is trained from scratch for 200 epochs.
Memory: `search.remat` (each supernet layer recomputed in the backward pass: same values, one more
forward pass) keeps the soft mixture at batch 128. Joint step compiled for the CPU backend
(`python benchmarks/step_memory.py`, 2026-12-03): 3.74 GiB per device, 21.6 GiB without remat (34.6
GiB when the issue was filed, before remat and before the depthwise tap loop started from its first
tap); on a GPU XLA compiles its own convolutions, so its figure differs (not measured: no GPU).
`dianjax search` prints the figure for its device and refuses a step that does not fit
(`--config.search.max_step_memory_gib` sizes a run for another device).
"""

from dianjax.search.config import base_config

STEPS_PER_EPOCH = 195  # 25,000 search_train images / batch 128


def get_config():
    config = base_config()
    config.space = "cifar"
    config.data.dataset = "cifar10"
    config.data.val_fraction = 0.5
    config.data.batch_size = 128
    config.data.eval_batch_size = 500
    config.data.workers = -1            # one grain worker per core less one
    config.hardware.rows = (8, 16, 32, 64, 128)
    config.hardware.cols = (8, 16, 32, 64, 128)
    config.hardware.ifmap_sram_kb = (32, 64, 128, 256, 512)
    config.hardware.filter_sram_kb = (32, 64, 128, 256, 512)
    config.hardware.ofmap_sram_kb = (32, 64, 128, 256, 512)
    config.hardware.dram_bandwidth_words_per_cycle = (8.0, 16.0, 32.0, 64.0)
    config.search.remat = True            # soft mixture at batch 128 in less memory (docstring)
    config.search.warmup_steps = 10 * STEPS_PER_EPOCH
    config.search.steps = 40 * STEPS_PER_EPOCH
    config.search.temperature_initial = 5.0
    config.search.temperature_final = 0.2
    config.search.weight_lr = 0.1
    config.search.weight_decay = 1e-4
    config.search.arch_lr = 0.01
    config.search.hw_lr = 0.01
    config.final_train.enabled = True
    config.final_train.num_epochs = 200
    config.final_train.batch_size = 128
    config.final_train.learning_rate = 0.1
    config.final_train.weight_decay = 5e-4
    config.log_every_steps = 50
    config.checkpoint_every_steps = 500
    return config
