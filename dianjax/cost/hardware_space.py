"""The accelerator design space of the co-search: a finite set of choices per knob, as logits.

A space belongs to a hardware template (``config.hardware.template``, default ``"systolic"``) whose
:class:`~dianjax.cost.template.KnobSchema` names its knobs. For the systolic array
(:class:`sim.Accelerator`): ``rows``, ``cols``, ``dataflow``, ``ifmap_sram_kb``, ``filter_sram_kb``,
``ofmap_sram_kb``, ``dram_bandwidth_words_per_cycle``, with ``word_bits`` and ``clock_mhz`` fixed;
plus one mapping choice per *mapping slot* (the fold order of :class:`sim.Mapping`).

Mapping slots come from the layer table (:class:`dianjax.nas.search_space.LayerTable`): every conv
carries its slot, and all ops of a searchable layer share the slots of that layer, so the mapping
logits do not depend on the op choice.

Hardware logits are a dict ``{knob: float32[num_choices]}`` plus ``{mapping: float32[num_slots,
num_mapping_choices]}``; :meth:`HardwareSpace.discretize` takes the argmax of each.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from collections.abc import Mapping as MappingType

import numpy as np

from dianjax.cost.registry import TEMPLATE_NAMES, get_template
from dianjax.cost.template import CostTemplate
from sim import checks
from sim.registry import template_of
from sim.workload import Network


@dataclasses.dataclass(frozen=True)
class HardwareDesign:
    """A discrete accelerator and the mapping choice of every mapping slot (``fold_orders``: the
    fold order per slot for the systolic template)."""

    accelerator: object
    fold_orders: MappingType[str, str]

    def layer_choices(self, network: Network, table=None) -> dict[str, str]:
        """``{layer name: mapping choice}`` of a derived network of ``table``'s supernet (its layer
        table gives each layer's slot), or, with ``table=None``, of any network whose layers are
        their own slots (``fold_orders`` by layer name)."""
        result = {}
        for layer in network:
            slot = layer.name if table is None else table.slot_of(layer.name)
            if slot not in self.fold_orders:
                raise ValueError(f"layer {layer.name!r} has no mapping slot {slot!r}; known slots: "
                                 f"{sorted(self.fold_orders)}")
            result[layer.name] = self.fold_orders[slot]
        return result

    def mappings(self, network: Network, table=None, energy_table=None) -> dict[str, object]:
        """``{layer name: sim mapping}``: :meth:`layer_choices` as the template's mappings
        (``energy_table``: the prices a template that picks each layer's mapping by cost uses)."""
        template = get_template(template_of(self.accelerator).name)
        choices = self.layer_choices(network, table)
        if template.layer_mappings is not None:
            return template.layer_mappings(network, self.accelerator, choices, energy_table)
        return {name: template.make_mapping(choice) for name, choice in choices.items()}

    def to_dict(self) -> dict:
        return {"accelerator": self.accelerator.to_dict(), "fold_orders": dict(self.fold_orders)}

    @classmethod
    def from_dict(cls, data, template: str = "systolic") -> HardwareDesign:
        checks.known_keys("HardwareDesign", data, ("accelerator", "fold_orders"))
        architecture = get_template(template).architecture.from_dict(data["accelerator"])
        return cls(architecture, dict(data["fold_orders"]))


class HardwareSpace:
    """Choices per knob of a template's schema (each a non-empty tuple), and its fixed fields.

    ``HardwareSpace(template="systolic", rows=(8, 16), ...)``: fields not given take the schema's
    defaults. Knob choices and fixed values read as attributes (``space.rows``,
    ``space.word_bits``). Numeric choices are kept sorted ascending; every combination is a valid
    architecture. Immutable and hashable.
    """

    def __init__(self, template: str = "systolic", *, owner: str = "HardwareSpace", **values):
        checks.one_of(owner, "template", template, TEMPLATE_NAMES)
        cost_template = get_template(template)
        schema = cost_template.schema
        checks.known_keys(owner, values, schema.fields)
        data = {**schema.defaults, **values}
        for name in (*schema.knobs, schema.mapping):
            choices = data[name]
            if (isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence)
                    or not choices):
                raise ValueError(f"{owner}.{name} must be a non-empty tuple of choices, "
                                 f"got {choices!r}")
            if len(set(choices)) != len(choices):
                raise ValueError(f"{owner}.{name} has repeated choices: {choices!r}")
            for value in choices if name in schema.allowed else ():
                checks.one_of(owner, name, value, schema.allowed[name])
            data[name] = tuple(choices) if name in schema.categorical else tuple(sorted(choices))
        object.__setattr__(self, "_template", cost_template)
        object.__setattr__(self, "_values", data)
        architecture = cost_template.architecture.__name__
        try:                                 # the fixed fields are valid ...
            base = self.base_accelerator()
            for knob in schema.knobs:        # ... and so is every choice of every knob
                for value in data[knob]:
                    dataclasses.replace(base, **{knob: value})
        except ValueError as error:          # name the field as the space's
            raise ValueError(str(error).replace(f"{architecture}.", f"{owner}.", 1)) from None

    # -- the schema --------------------------------------------------------------------------------
    @property
    def template(self) -> CostTemplate:
        return self._template

    @property
    def knobs(self) -> tuple[str, ...]:
        """The architecture knobs, in logit order."""
        return self._template.schema.knobs

    @property
    def mapping_knob(self) -> str:
        """The name of the per-slot mapping choice (its logits' key)."""
        return self._template.schema.mapping

    @property
    def mapping_choices(self) -> tuple:
        return self._values[self.mapping_knob]

    def __getattr__(self, name: str):
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"HardwareSpace has no field {name!r}; fields: {sorted(values)}")

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"HardwareSpace is immutable (set {name!r})")

    def __eq__(self, other) -> bool:
        return isinstance(other, HardwareSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"HardwareSpace({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    # -- construction and serialization ------------------------------------------------------------
    @classmethod
    def from_config(cls, config: MappingType[str, object]) -> HardwareSpace:
        """From a config dict (``config.hardware`` of a search config): ``template`` and fields."""
        data = dict(config)
        template = data.pop("template", "systolic")
        return cls(template, owner="config.hardware",
                   **{key: tuple(value) if isinstance(value, (list, tuple)) else value
                      for key, value in data.items()})

    def to_dict(self) -> dict:
        return {"template": self._template.name,
                **{name: (list(v) if isinstance(v := self._values[name], tuple) else v)
                   for name in self._template.schema.fields}}

    # -- accelerators ------------------------------------------------------------------------------
    def base_accelerator(self):
        """The accelerator with the first choice of every knob."""
        return self.accelerator(dict.fromkeys(self.knobs, 0))

    def choices(self) -> tuple[tuple[str, tuple], ...]:
        """``(knob, choices)`` for the architecture knobs, in :attr:`knobs` order."""
        return tuple((knob, self._values[knob]) for knob in self.knobs)

    @property
    def num_accelerators(self) -> int:
        return math.prod(len(self._values[knob]) for knob in self.knobs)

    def accelerator(self, indices: MappingType[str, int]):
        """The accelerator with choice ``indices[knob]`` of every knob."""
        checks.known_keys("accelerator indices", indices, self.knobs)
        values = {}
        for knob in self.knobs:
            choices = self._values[knob]
            index = int(indices[knob])
            if not 0 <= index < len(choices):
                raise ValueError(f"index of {knob} must be in [0, {len(choices)}), got {index}")
            values[knob] = choices[index]
        fixed = {name: self._values[name] for name in self._template.schema.fixed}
        return self._template.architecture(**values, **fixed)

    def indices(self, accelerator) -> dict[str, int]:
        """The choice index of every knob of ``accelerator``; a ValueError if it is not in the space."""
        result = {}
        for knob in self.knobs:
            value, choices = getattr(accelerator, knob), self._values[knob]
            if value not in choices:
                raise ValueError(f"accelerator.{knob}={value!r} is not a choice of the hardware "
                                 f"space; allowed: {list(choices)}")
            result[knob] = choices.index(value)
        for name in self._template.schema.fixed:
            if getattr(accelerator, name) != self._values[name]:
                raise ValueError(f"accelerator.{name}={getattr(accelerator, name)!r} differs from "
                                 f"the space's {name}={self._values[name]!r}")
        return result

    def accelerators(self) -> Iterator:
        """Every accelerator of the space (:attr:`num_accelerators` of them), knobs in order."""
        for combo in itertools.product(*(range(len(self._values[k])) for k in self.knobs)):
            yield self.accelerator(dict(zip(self.knobs, combo)))

    # -- logits ------------------------------------------------------------------------------------
    def init_logits(self, table) -> dict[str, np.ndarray]:
        """Zero (uniform) logits for every knob, and for the mapping of every slot of ``table``."""
        logits = {knob: np.zeros(len(self._values[knob]), np.float32) for knob in self.knobs}
        logits[self.mapping_knob] = np.zeros((len(table.mapping_slots), len(self.mapping_choices)),
                                             np.float32)
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

    def discretize(self, logits, table) -> HardwareDesign:
        """The most probable accelerator and mappings (argmax of every knob's logits)."""
        self.check_logits(logits, table)
        accelerator = self.accelerator({knob: int(np.argmax(logits[knob])) for knob in self.knobs})
        orders = np.argmax(np.asarray(logits[self.mapping_knob]), axis=-1)
        mappings = {slot: self.mapping_choices[int(k)]
                    for slot, k in zip(table.mapping_slots, orders)}
        return HardwareDesign(accelerator, mappings)

    def one_hot_logits(self, design: HardwareDesign, table, scale: float = 1e3) -> dict[str, np.ndarray]:
        """Logits that put (numerically) all mass on ``design``: for fixed-hardware searches."""
        indices = self.indices(design.accelerator)
        logits = {knob: np.where(np.arange(len(self._values[knob])) == indices[knob], scale,
                                 0.0).astype(np.float32) for knob in self.knobs}
        choices = self.mapping_choices
        rows = np.zeros((len(table.mapping_slots), len(choices)), np.float32)
        for row, slot in enumerate(table.mapping_slots):
            choice = design.fold_orders.get(slot, choices[0])
            if choice not in choices:
                raise ValueError(f"{self.mapping_knob} {choice!r} of slot {slot!r} is not a "
                                 f"choice; allowed: {list(choices)}")
            rows[row, choices.index(choice)] = scale
        logits[self.mapping_knob] = rows
        return logits
