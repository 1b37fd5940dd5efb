"""The accelerator design space of the co-search: a finite set of choices per knob, as logits.

Knobs of the systolic-array template (:class:`sim.Accelerator`): ``rows``, ``cols``, ``dataflow``,
``ifmap_sram_kb``, ``filter_sram_kb``, ``ofmap_sram_kb``, ``dram_bandwidth``; ``word_bits`` and
``clock_mhz`` are fixed by the space. Plus one mapping knob per *mapping slot* (the fold order of
:class:`sim.Mapping`, which ``sim`` executes and which changes DRAM traffic).

Mapping slots are the positions a conv can take in a network of a supernet: each fixed layer
(``stem``, ``head``, ``classifier``) and, per searchable layer ``l``, the ``expand``, ``depthwise``
and ``project`` convs of whichever MBConv op is chosen there (``layer{l}.expand`` ...). All ops of
a layer share the slot's fold order, so that the mapping logits do not depend on the op choice.

Hardware logits are a dict ``{knob: float32[num_choices]}`` plus ``"fold_order":
float32[num_slots, 2]``; :meth:`HardwareSpace.discretize` takes the argmax of each.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping as MappingType, Sequence

import numpy as np

from sim import checks
from sim.systolic.architecture import DATAFLOWS, Accelerator
from sim.systolic.mapping import FOLD_ORDERS, Mapping
from sim.workload import Network

KNOBS = ("rows", "cols", "dataflow", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb",
         "dram_bandwidth")
FOLD_ORDER = "fold_order"
BLOCK_POSITIONS = ("expand", "depthwise", "project")


def mapping_slots(table) -> tuple[str, ...]:
    """The mapping slots of a :class:`dianjax.nas.search_space.LayerTable`, in execution order."""
    leading = tuple(layer.name for layer in table.fixed[:table.num_leading])
    trailing = tuple(layer.name for layer in table.fixed[table.num_leading:])
    searchable = tuple(f"layer{index}.{position}" for index in range(table.num_layers)
                       for position in BLOCK_POSITIONS)
    return leading + searchable + trailing


def slot_of(layer_name: str) -> str:
    """The mapping slot of a layer of a derived network: ``layer3.mb_k3_e3.expand`` -> ``layer3.expand``."""
    parts = layer_name.split(".")
    if len(parts) == 3 and parts[0].startswith("layer") and parts[2] in BLOCK_POSITIONS:
        return f"{parts[0]}.{parts[2]}"
    return layer_name


@dataclasses.dataclass(frozen=True)
class HardwareDesign:
    """A discrete accelerator and the fold order of every mapping slot."""

    accelerator: Accelerator
    fold_orders: MappingType[str, str]

    def mappings(self, network: Network) -> dict[str, Mapping]:
        """``{layer name: sim.Mapping}`` for a derived network of the supernet the slots come from."""
        result = {}
        for layer in network:
            slot = slot_of(layer.name)
            if slot not in self.fold_orders:
                raise ValueError(f"layer {layer.name!r} has no mapping slot {slot!r}; known slots: "
                                 f"{sorted(self.fold_orders)}")
            result[layer.name] = Mapping(fold_order=self.fold_orders[slot])
        return result

    def to_dict(self) -> dict:
        return {"accelerator": self.accelerator.to_dict(), "fold_orders": dict(self.fold_orders)}

    @classmethod
    def from_dict(cls, data) -> HardwareDesign:
        checks.known_keys("HardwareDesign", data, ("accelerator", "fold_orders"))
        return cls(Accelerator.from_dict(data["accelerator"]), dict(data["fold_orders"]))


@dataclasses.dataclass(frozen=True)
class HardwareSpace:
    """Choices per accelerator knob (each a non-empty tuple) and the fixed word width and clock.

    Numeric choices are kept sorted ascending; every combination is a valid :class:`sim.Accelerator`.
    """

    rows: tuple[int, ...] = (8, 16, 32, 64)
    cols: tuple[int, ...] = (8, 16, 32, 64)
    dataflow: tuple[str, ...] = DATAFLOWS
    ifmap_sram_kb: tuple[float, ...] = (16, 32, 64, 128)
    filter_sram_kb: tuple[float, ...] = (16, 32, 64, 128)
    ofmap_sram_kb: tuple[float, ...] = (16, 32, 64, 128)
    dram_bandwidth: tuple[float, ...] = (4.0, 8.0, 16.0, 32.0)
    fold_order: tuple[str, ...] = FOLD_ORDERS
    word_bits: int = 16
    clock_mhz: float = 500.0

    def __post_init__(self):
        owner = "HardwareSpace"
        for knob in (*KNOBS, FOLD_ORDER):
            values = getattr(self, knob)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ValueError(f"{owner}.{knob} must be a non-empty tuple of choices, got {values!r}")
            if len(set(values)) != len(values):
                raise ValueError(f"{owner}.{knob} has repeated choices: {values!r}")
            if knob == "dataflow":
                for value in values:
                    checks.one_of(owner, "dataflow", value, DATAFLOWS)
            elif knob == FOLD_ORDER:
                for value in values:
                    checks.one_of(owner, FOLD_ORDER, value, FOLD_ORDERS)
            else:
                values = tuple(sorted(values))
            object.__setattr__(self, knob, tuple(values))
        checks.positive_int(owner, "word_bits", self.word_bits)
        checks.positive_number(owner, "clock_mhz", self.clock_mhz)
        for knob in KNOBS:  # every value must make a valid accelerator (sizes > 0, rows int, ...)
            for value in getattr(self, knob):
                dataclasses.replace(self.base_accelerator(), **{knob: value})

    @classmethod
    def from_config(cls, config: MappingType[str, object]) -> HardwareSpace:
        """From a config dict (e.g. ``config.hardware`` of a search config) with these field names."""
        fields = tuple(f.name for f in dataclasses.fields(cls))
        data = dict(config)
        checks.known_keys("hardware", data, fields)
        return cls(**{key: tuple(value) if isinstance(value, (list, tuple)) else value
                      for key, value in data.items()})

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    def base_accelerator(self) -> Accelerator:
        """The accelerator with the first choice of every knob."""
        return Accelerator(**{knob: getattr(self, knob)[0] for knob in KNOBS},
                           word_bits=self.word_bits, clock_mhz=self.clock_mhz)

    def choices(self) -> tuple[tuple[str, tuple], ...]:
        """``(knob, choices)`` for the accelerator knobs, in :data:`KNOBS` order."""
        return tuple((knob, getattr(self, knob)) for knob in KNOBS)

    @property
    def num_accelerators(self) -> int:
        return math.prod(len(getattr(self, knob)) for knob in KNOBS)

    def init_logits(self, table) -> dict[str, np.ndarray]:
        """Zero (uniform) logits for every knob, and for the fold order of every slot of ``table``."""
        logits = {knob: np.zeros(len(getattr(self, knob)), np.float32) for knob in KNOBS}
        logits[FOLD_ORDER] = np.zeros((len(mapping_slots(table)), len(self.fold_order)), np.float32)
        return logits

    def check_logits(self, logits, table) -> None:
        """Raises a ValueError unless ``logits`` has exactly the keys and shapes of :meth:`init_logits`."""
        expected = {key: np.shape(value) for key, value in self.init_logits(table).items()}
        if set(logits) != set(expected):
            raise ValueError(f"hw_logits must have the keys {sorted(expected)}, got {sorted(logits)}")
        for key, shape in expected.items():
            if np.shape(logits[key]) != shape:
                raise ValueError(f"hw_logits[{key!r}] must have shape {shape}, "
                                 f"got {np.shape(logits[key])}")

    def accelerator(self, indices: MappingType[str, int]) -> Accelerator:
        """The accelerator with choice ``indices[knob]`` of every knob."""
        checks.known_keys("accelerator indices", indices, KNOBS)
        values = {}
        for knob in KNOBS:
            choices = getattr(self, knob)
            index = int(indices[knob])
            if not 0 <= index < len(choices):
                raise ValueError(f"index of {knob} must be in [0, {len(choices)}), got {index}")
            values[knob] = choices[index]
        return Accelerator(**values, word_bits=self.word_bits, clock_mhz=self.clock_mhz)

    def indices(self, accelerator: Accelerator) -> dict[str, int]:
        """The choice index of every knob of ``accelerator``; a ValueError if it is not in the space."""
        result = {}
        for knob in KNOBS:
            value, choices = getattr(accelerator, knob), getattr(self, knob)
            if value not in choices:
                raise ValueError(f"accelerator.{knob}={value!r} is not a choice of the hardware "
                                 f"space; allowed: {list(choices)}")
            result[knob] = choices.index(value)
        if (accelerator.word_bits, accelerator.clock_mhz) != (self.word_bits, self.clock_mhz):
            raise ValueError(f"accelerator word_bits/clock_mhz ({accelerator.word_bits}, "
                             f"{accelerator.clock_mhz}) differ from the space's "
                             f"({self.word_bits}, {self.clock_mhz})")
        return result

    def accelerators(self) -> Iterator[Accelerator]:
        """Every accelerator of the space (:attr:`num_accelerators` of them), knobs in KNOBS order."""
        for combo in itertools.product(*(range(len(getattr(self, knob))) for knob in KNOBS)):
            yield self.accelerator(dict(zip(KNOBS, combo)))

    def discretize(self, logits, table) -> HardwareDesign:
        """The most probable accelerator and fold orders (argmax of every knob's logits)."""
        self.check_logits(logits, table)
        accelerator = self.accelerator({knob: int(np.argmax(logits[knob])) for knob in KNOBS})
        orders = np.argmax(np.asarray(logits[FOLD_ORDER]), axis=-1)
        fold_orders = {slot: self.fold_order[int(k)]
                       for slot, k in zip(mapping_slots(table), orders)}
        return HardwareDesign(accelerator, fold_orders)

    def one_hot_logits(self, design: HardwareDesign, table, scale: float = 1e3) -> dict[str, np.ndarray]:
        """Logits that put (numerically) all mass on ``design``: for fixed-hardware searches."""
        indices = self.indices(design.accelerator)
        logits = {knob: np.where(np.arange(len(getattr(self, knob))) == indices[knob], scale,
                                 0.0).astype(np.float32) for knob in KNOBS}
        slots = mapping_slots(table)
        orders = np.zeros((len(slots), len(self.fold_order)), np.float32)
        for row, slot in enumerate(slots):
            order = design.fold_orders.get(slot, self.fold_order[0])
            if order not in self.fold_order:
                raise ValueError(f"fold order {order!r} of slot {slot!r} is not a choice; allowed: "
                                 f"{list(self.fold_order)}")
            orders[row, self.fold_order.index(order)] = scale
        logits[FOLD_ORDER] = orders
        return logits
