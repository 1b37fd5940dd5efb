"""The joint search's configuration: defaults, validation, and the static setup built from it.

Every ``configs/<name>.py`` for ``dianjax search`` starts from :func:`base_config` and changes what
differs; :func:`make_setup` checks every field (name, type, allowed values) and builds the static
parts of a search (search space, layer table, hardware space) before any data is read or any
function is compiled, so that a bad config fails at once with the field named.

Modes (``config.search.mode``), the ablations of the co-search literature on one code path:

- ``joint``: weights on the train split; op and hardware logits on the val split, loss = task
  loss + lam * normalized hardware cost (DIAN).
- ``no_hw_loss``: as joint with lam = 0 for the op logits: the network is searched for accuracy
  alone while the hardware logits still follow the cost of the network being found.
- ``fixed_hw``: network-only search for the accelerator ``config.search.fixed_hardware``.
- ``fixed_net``: hardware-only search for the network ``config.search.fixed_ops``.
- ``decoupled``: NAS first (accuracy only, hardware frozen) for the first
  ``decoupled_nas_fraction`` of the search steps, then hardware search for the derived network.

Asking for a pair by constraint instead of by trade-off: ``cost.target_<name>`` (name of
:data:`dianjax.cost.OBJECTIVES`, value in that metric's units) asks for the most accurate pair whose
metric is at most the target. Each target gets a Lagrange multiplier ``mu >= 0`` (state, logged),
raised by dual ascent while the network the search would pick now exceeds the target and lowered
while it is under: ``mu <- max(0, mu + target_lr * log(m_argmax / target))`` per logit step, where
``m_argmax`` is the metric of the argmax network (the one the derivation would pick now) on the
space's best accelerator for it (:meth:`dianjax.cost.RelaxedCostModel.best_case`: a pair meets a
target exactly when its network's best accelerator does, whatever the hardware logits say). The op
logits follow ``task loss + lam * cost + sum of mu * m / target``, ``m`` the same metric of the
expected network (differentiable; ``lam = 0`` asks for accuracy alone under the target); the
derivation takes the most probable network whose best accelerator meets every target
(:mod:`dianjax.search.result`). Targets need a hardware space the cost model enumerates.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import ml_collections
import numpy as np

from dianjax import cost, data, input_pipeline
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.cost.objectives import OBJECTIVE_METRICS
from dianjax.cost.objectives import OBJECTIVES as WEIGHTED_METRICS
from dianjax.cost.relaxed import ESTIMATORS, EXACT_LIMIT
from dianjax.nas.analog import AnalogSearch, analog_search
from dianjax.nas.search_space import (
    SPACES,
    LayerTable,
    SearchSpace,
    get_space,
    layer_table,
)
from dianjax.train import schedule_config, validate_schedule
from sim import checks
from sim.registry import get_template as sim_template

MODES = ("joint", "no_hw_loss", "fixed_hw", "fixed_net", "decoupled")
OBJECTIVES = (*WEIGHTED_METRICS, "weighted")   # an objective by name, or a weighted sum of them
HARDWARE_DERIVATIONS = ("auto", "argmax")
TARGET_MODES = ("joint",)   # modes that take cost targets (op and hardware logits both searched)


def hardware_section(template: str = "systolic") -> ml_collections.ConfigDict:
    """``config.hardware`` for a hardware template: its space's default choices per knob and
    mapping, and its fixed fields (e.g. ``config.hardware = hardware_section("crossbar")``)."""
    hardware = HardwareSpace(template, owner="config.hardware")
    return ml_collections.ConfigDict(
        {key: tuple(v) if isinstance(v, list) else v for key, v in hardware.to_dict().items()})


def base_config() -> ml_collections.ConfigDict:
    """Defaults shared by every search config (the quickstart overrides only a few)."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.space = "quickstart"           # a name of dianjax.nas.search_space.SPACES
    config.data = ml_collections.ConfigDict(dict(
        dataset="digits",                 # a name of dianjax.data.DATASETS
        data_dir="",                      # tfds data dir; "" = tfds's default
        val_fraction=0.5,                 # part of the train split that trains the logits
        split_seed=0,
        batch_size=64,
        eval_batch_size=100,
        workers=0,                        # grain worker processes preparing batches; 0 = a
                                          # background thread, -1 = one per core less one
        decoded_cache=""))                # fixed-size tfds data decoded once into this folder;
                                          # "" = ~/.cache/dianjax/decoded, "off" = never
    config.hardware = hardware_section()
    config.cost = ml_collections.ConfigDict(dict(
        objective="edp",                  # one of OBJECTIVES
        weights=ml_collections.ConfigDict(dict.fromkeys(WEIGHTED_METRICS, 0.0)),  # "weighted"
        lam=1.0,                          # weight of the normalized hardware cost in the loss
        batch=1,                          # images per inference the accelerator is priced for
        estimator="auto",                 # one of ESTIMATORS: exact over the hardware space
                                          # when small enough (auto), or sampled (LEG)
        num_samples=1,                    # hardware samples per step of the sampled estimator
        max_area_mm2=0.0,                 # accelerator limit: a penalty in the search, hard
        max_latency_s=0.0,                # at the derivation; 0 = none
        penalty=10.0,                     # weight of a squared relative limit violation
        # targets: the pair's metric <= target (units of the Metrics field: s, pJ, pJ s,
        # pJ s mm^2, mm^2), a Lagrange multiplier per target (module docstring); 0 = none
        **{f"target_{name}": 0.0 for name in WEIGHTED_METRICS},
        target_lr=0.05,                   # dual-ascent step of the targets' multipliers
        energy_table=""))                 # the template's energy table JSON (sim.EnergyTable.save,
                                          # e.g. from an Accelergy ERT); "" = the default table
    config.search = ml_collections.ConfigDict(dict(
        mode="joint",                     # one of MODES
        warmup_steps=100,                 # weight-only steps before the logits move
        steps=300,                        # steps after the warm-up (weights + logits)
        hard=False,                       # single-path (straight-through) instead of mixture
        remat=False,                      # recompute each supernet layer's activations in the
                                          # backward pass (less memory, one more forward pass)
        max_step_memory_gib=0.0,          # refuse a run whose compiled step needs more (GiB per
                                          # device); 0 = the device's own limit
        temperature_initial=2.0,          # Gumbel-softmax temperature, annealed exponentially
        temperature_final=0.2,
        weight_lr=0.05,                   # SGD (momentum, cosine) on the supernet weights
        weight_momentum=0.9,
        weight_decay=3e-4,
        arch_lr=0.01,                     # Adam on the op logits
        hw_lr=0.05,                       # Adam on the hardware logits
        decoupled_nas_fraction=0.5,
        derive_hardware="auto",           # one of HARDWARE_DERIVATIONS: the accelerator of the
                                          # result, exact best for the derived network (auto, on
                                          # an enumerable space) or argmax of the hardware logits
        front_networks=1024,              # mode joint: networks the one-shot front scores on the
                                          # supernet (all of a space this small, else the most
                                          # probable); 0 = no front (dianjax.search.front)
        fixed_ops=(),                     # mode fixed_net: one op name per searchable layer
        fixed_hardware=ml_collections.ConfigDict(dict(
            rows=16, cols=16, dataflow="ws", ifmap_sram_kb=64, filter_sram_kb=64,
            ofmap_sram_kb=64, dram_bandwidth_words_per_cycle=16.0))))
    config.analog = ml_collections.ConfigDict(dict(
        enabled=False,                    # crossbar-aware search (NAX): the supernet runs on the
                                          # sampled crossbars (dianjax.nas.analog), so accuracy
                                          # steers the crossbar sizes and ADC bits too; needs
                                          # hardware.template "crossbar", one cell_bits, dac_bits
        conductance_sigma=0.1,            # sd of the multiplicative conductance variation
        ir_drop=0.0,                      # IR-drop loss on row 256 (linear in the row)
        eval_samples=8,                   # chips (noise draws) the derived pair is evaluated on
        eval_batch_size=100))             # images per call of that evaluation
    config.final_train = schedule_config()  # schedule of dianjax.train
    config.final_train.enabled = False    # train the derived network from scratch at the end
    config.final_train.dataset = ""       # the data set it is trained on; "" = config.data's
                                          # (imagenet: searched on imagenet100, trained on all)
    config.log_every_steps = 20
    config.checkpoint_every_steps = 100
    return config


@dataclasses.dataclass(frozen=True)
class SearchSetup:
    """The static parts of a search, built once from a validated config."""

    config: ml_collections.ConfigDict
    space: SearchSpace
    table: LayerTable
    hardware: HardwareSpace
    dataset: data.DatasetInfo

    @functools.cached_property
    def energy_table(self):
        """The per-action table of ``config.cost.energy_table``, of the hardware template's table
        class (:class:`sim.EnergyTable` for the systolic array; None: the template's default)."""
        path = self.config.cost.energy_table
        if not path:
            return None
        table = sim_template(self.hardware.template.name).energy_table
        if not Path(path).is_file():
            raise ValueError(f"config.cost.energy_table={path!r} is not a file; allowed: an "
                             f"energy table JSON of the hardware template (sim.{table.__name__}"
                             ".save) or '' for the default table")
        return table.load(path)

    @functools.cached_property
    def analog(self) -> AnalogSearch | None:
        """The crossbar-aware supernet's static part (``config.analog``), or None (digital)."""
        section = self.config.analog
        if not section.enabled:
            return None
        try:
            return analog_search(self.hardware, section.conductance_sigma, section.ir_drop)
        except ValueError as error:   # name the config's fields
            raise ValueError(str(error).replace("AnalogConfig.", "config.analog.")) from None

    @functools.cached_property
    def cost_model(self) -> cost.RelaxedCostModel:
        """The cost model of ``table`` on ``hardware``, prepared once per setup (its enumeration,
        when the exact estimator or the exact hardware derivation needs it, computed once too)."""
        return cost.prepare(self.table, self.hardware, self.energy_table)

    @property
    def hardware_limits(self) -> dict[str, float]:
        """The set limits of ``cost.max_area_mm2`` / ``cost.max_latency_s`` as {Metrics field:
        limit}, priced as a fixed penalty."""
        limits = {"area_mm2": self.config.cost.max_area_mm2,
                  "latency_s": self.config.cost.max_latency_s}
        return {field: float(limit) for field, limit in limits.items() if limit > 0}

    @property
    def targets(self) -> dict[str, float]:
        """The set targets ``cost.target_<name>`` as {Metrics field: target}."""
        return {field: float(self.config.cost[f"target_{name}"])
                for name, field in OBJECTIVE_METRICS.items()
                if self.config.cost[f"target_{name}"] > 0}

    @property
    def derivation_limits(self) -> dict[str, float]:
        """Every limit the derived pair must meet: the hardware limits and the targets (the
        tighter where both name a metric)."""
        limits = dict(self.hardware_limits)
        for field, target in self.targets.items():
            limits[field] = min(limits.get(field, target), target)
        return limits

    @property
    def mode(self) -> str:
        return self.config.search.mode

    @property
    def total_steps(self) -> int:
        return self.config.search.warmup_steps + self.config.search.steps

    def fixed_design(self) -> HardwareDesign:
        """The accelerator of mode ``fixed_hw``, with the space's first mapping choice
        everywhere."""
        fixed = dict(self.config.search.fixed_hardware)
        accelerator = self.hardware.accelerator(
            {knob: getattr(self.hardware, knob).index(fixed[knob]) for knob in self.hardware.knobs})
        order = self.hardware.mapping_choices[0]
        return HardwareDesign(accelerator, dict.fromkeys(self.table.mapping_slots, order))

    def fixed_op_indices(self) -> tuple[int, ...]:
        """The network of mode ``fixed_net``."""
        return tuple(self.space.op_index(name) for name in self.config.search.fixed_ops)


def _check_fixed(config: ml_collections.ConfigDict, space: SearchSpace,
                 hardware: HardwareSpace) -> None:
    search = config.search
    if search.mode == "fixed_net":
        ops = tuple(search.fixed_ops)
        if len(ops) != space.num_layers:
            raise ValueError(f"config.search.fixed_ops must name one op per searchable layer of "
                             f"space {config.space!r} ({space.num_layers}) for mode fixed_net, got "
                             f"{list(ops)}; allowed ops: {list(space.op_names)}")
        mask = space.op_mask()
        for layer, name in enumerate(ops):
            checks.one_of("config", "search.fixed_ops", name, space.op_names)
            if not mask[layer, space.op_index(name)]:
                allowed = [space.op_names[k] for k in np.flatnonzero(mask[layer])]
                raise ValueError(f"config.search.fixed_ops[{layer}]={name!r} is not available "
                                 f"at layer {layer}; allowed: {allowed}")
    if search.mode == "fixed_hw":
        fixed = dict(search.fixed_hardware)
        checks.known_keys("config.search.fixed_hardware", fixed, hardware.knobs)
        for knob in hardware.knobs:
            if fixed[knob] not in getattr(hardware, knob):
                raise ValueError(f"config.search.fixed_hardware.{knob}={fixed[knob]!r} is not a "
                                 f"choice of config.hardware.{knob}; allowed: "
                                 f"{list(getattr(hardware, knob))}")


_TEMPLATE_SECTIONS = ("hardware", "search.fixed_hardware")   # fields set by the hardware template


def _check_fields(config, reference, path: str = "config") -> None:
    """Every section holds exactly the fields of :func:`base_config` (unknown or renamed fields of
    an older config file fail here, named by their full path); template sections are checked by the
    hardware space."""
    checks.known_keys(path, dict(config), tuple(reference))
    missing = sorted(set(reference) - set(config))
    if missing:
        raise ValueError(f"{path} lacks field(s) {missing}; start from "
                         f"dianjax.search.config.base_config()")
    for key, value in reference.items():
        child = f"{path}.{key}"
        if isinstance(value, ml_collections.ConfigDict) and child[len("config."):] not in \
                _TEMPLATE_SECTIONS:
            if not isinstance(config[key], (ml_collections.ConfigDict, dict)):
                raise ValueError(f"{child} must be a section with fields {sorted(value)}, "
                                 f"got {config[key]!r}")
            _check_fields(config[key], value, child)


def make_setup(config: ml_collections.ConfigDict) -> SearchSetup:
    """Validates ``config`` (every field, before any expensive work) and builds the static setup."""
    _check_fields(config, base_config())
    checks.non_negative_int("config", "seed", config.seed)
    checks.one_of("config", "space", config.space, SPACES)
    checks.one_of("config", "data.dataset", config.data.dataset, data.DATASETS)
    checks.number_in("config", "data.val_fraction", config.data.val_fraction, 0, 1,
                      low_open=True, high_open=True)
    checks.non_negative_int("config", "data.split_seed", config.data.split_seed)
    for field in ("batch_size", "eval_batch_size"):
        checks.positive_int("config", f"data.{field}", config.data[field])
    input_pipeline.resolve_workers("config", "data.workers", config.data.workers)
    info = data.DATASETS[config.data.dataset]
    space = get_space(config.space, num_classes=info.num_classes)
    if (space.image_size, space.in_channels) != (info.image_size, info.channels):
        raise ValueError(f"config.space={config.space!r} takes {space.image_size}x{space.image_size}"
                         f"x{space.in_channels} images but config.data.dataset="
                         f"{config.data.dataset!r} has {info.image_size}x{info.image_size}"
                         f"x{info.channels}")
    hardware = HardwareSpace.from_config(config.hardware)

    cost = config.cost
    checks.one_of("config", "cost.objective", cost.objective, OBJECTIVES)
    checks.known_keys("config.cost.weights", dict(cost.weights), WEIGHTED_METRICS)
    for name in WEIGHTED_METRICS:
        checks.number_in("config", f"cost.weights.{name}", cost.weights[name], 0)
    if cost.objective == "weighted" and not any(cost.weights[n] > 0 for n in WEIGHTED_METRICS):
        raise ValueError(f"config.cost.objective='weighted' needs a positive weight in "
                         f"config.cost.weights (keys {list(WEIGHTED_METRICS)}), got all zero")
    checks.number_in("config", "cost.lam", cost.lam, 0)
    checks.positive_int("config", "cost.batch", cost.batch)
    checks.one_of("config", "cost.estimator", cost.estimator, ESTIMATORS)
    checks.positive_int("config", "cost.num_samples", cost.num_samples)
    for field in ("max_area_mm2", "max_latency_s", "penalty", "target_lr",
                  *(f"target_{name}" for name in WEIGHTED_METRICS)):
        checks.number_in("config", f"cost.{field}", cost[field], 0)
    targets = [f"cost.target_{name}" for name in WEIGHTED_METRICS if cost[f"target_{name}"] > 0]
    if targets and config.search.mode not in TARGET_MODES:
        raise ValueError(f"{', '.join('config.' + t for t in targets)} need config.search.mode in "
                         f"{list(TARGET_MODES)}, got {config.search.mode!r}")

    search = config.search
    checks.one_of("config", "search.mode", search.mode, MODES)
    checks.non_negative_int("config", "search.warmup_steps", search.warmup_steps)
    checks.positive_int("config", "search.steps", search.steps)
    for field in ("hard", "remat"):
        if not isinstance(search[field], bool):
            raise ValueError(f"config.search.{field} must be True or False, got {search[field]!r}")
    checks.number_in("config", "search.max_step_memory_gib", search.max_step_memory_gib, 0)
    for field in ("temperature_initial", "temperature_final", "weight_lr", "arch_lr", "hw_lr"):
        checks.number_in("config", f"search.{field}", search[field], 0, low_open=True)
    checks.number_in("config", "search.weight_momentum", search.weight_momentum, 0, 1)
    checks.number_in("config", "search.weight_decay", search.weight_decay, 0)
    checks.non_negative_int("config", "search.front_networks", search.front_networks)
    checks.one_of("config", "search.derive_hardware", search.derive_hardware,
                  HARDWARE_DERIVATIONS)
    checks.number_in("config", "search.decoupled_nas_fraction", search.decoupled_nas_fraction,
                      0, 1, low_open=True)
    if search.mode == "decoupled" and search.decoupled_nas_fraction >= 1:
        raise ValueError("config.search.decoupled_nas_fraction must be < 1 in mode decoupled, "
                         "leaving steps for the hardware search")
    _check_fixed(config, space, hardware)

    final = config.final_train
    if not isinstance(final.enabled, bool):
        raise ValueError(f"config.final_train.enabled must be True or False, got {final.enabled!r}")
    validate_schedule(final, "config.final_train")  # even if disabled: never fails late
    if final.dataset:
        checks.one_of("config", "final_train.dataset", final.dataset, data.DATASETS)
        final_info = data.DATASETS[final.dataset]
        if (final_info.image_size, final_info.channels) != (info.image_size, info.channels):
            raise ValueError(f"config.final_train.dataset={final.dataset!r} has "
                             f"{final_info.image_size}x{final_info.image_size}x"
                             f"{final_info.channels} images, config.data.dataset="
                             f"{config.data.dataset!r} {info.image_size}x{info.image_size}x"
                             f"{info.channels}; allowed: data sets of the searched image size")
    analog = config.analog
    if not isinstance(analog.enabled, bool):
        raise ValueError(f"config.analog.enabled must be True or False, got {analog.enabled!r}")
    checks.number_in("config", "analog.conductance_sigma", analog.conductance_sigma, 0)
    checks.number_in("config", "analog.ir_drop", analog.ir_drop, 0, 1, high_open=True)
    checks.positive_int("config", "analog.eval_samples", analog.eval_samples)
    if analog.eval_samples < 2:
        raise ValueError(f"config.analog.eval_samples must be >= 2 (a mean and an sd), got "
                         f"{analog.eval_samples}")
    checks.positive_int("config", "analog.eval_batch_size", analog.eval_batch_size)
    if analog.enabled and search.remat:
        raise ValueError("config.search.remat must be False with config.analog.enabled (the "
                         "crossbar model is not rematerialized)")
    checks.positive_int("config", "log_every_steps", config.log_every_steps)
    checks.positive_int("config", "checkpoint_every_steps", config.checkpoint_every_steps)
    setup = SearchSetup(config=config, space=space, table=layer_table(space, cost.batch),
                       hardware=hardware, dataset=info)
    _ = setup.energy_table                # read (and checked) before any work
    _ = setup.analog                      # the crossbar model's bits checked too
    if targets and setup.cost_model.resolve_estimator("auto") != "exact":
        raise ValueError(f"{', '.join('config.' + t for t in targets)} need a hardware space the "
                         f"cost model can enumerate (at most {EXACT_LIMIT:,} floats per table, "
                         f"here {setup.cost_model.enumeration_size:,}): shrink config.hardware")
    return setup
