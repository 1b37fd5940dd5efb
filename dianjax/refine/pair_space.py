"""The (network, accelerator) pair space of refinement, and the oracles that measure a pair.

A pair is one op per searchable layer of a supernet :class:`~dianjax.nas.search_space.SearchSpace`
(a nominal dimension per layer, restricted to the ops available there) and one value per searched
:class:`~sim.Accelerator` field (ordinal for numeric fields such as ``rows`` or ``ifmap_sram_kb``,
nominal for ``dataflow``); fields not searched keep the values of a base accelerator. An optional
area limit (mm^2, from ``sim``'s energy/area table) restricts the valid pairs.

Oracles (each ``design -> {metric: value}``, combined with :func:`combine_oracles`):

- :func:`simulator_oracle`: latency (s), energy (pJ), area (mm^2), EDP (pJ s) and ``log2_edp`` of the
  derived network on the accelerator, from the exact simulator ``sim.simulate_network``;
- :func:`training_oracle`: ``accuracy``, the held-out accuracy (on the config's ``eval_split``:
  ``"val"`` to select pairs without looking at the test split) after training the derived network
  from scratch with ``dianjax.train.train_and_evaluate`` (a short schedule in the config). One training
  per network: pairs that differ only in hardware reuse it, and an interrupted training resumes
  from its checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ml_collections

from dianjax.nas.search_space import SearchSpace
from dianjax.nas.supernet import DerivedNetwork
from dianjax.refine.encoding import NOMINAL, ORDINAL, Design, DesignSpace, Dimension
from sim import checks
from sim.energy import EnergyTable
from sim.simulator import simulate_network
from sim.systolic.architecture import Accelerator
from sim.systolic.energy import accelerator_area_mm2

Oracle = Callable[[Design], Mapping[str, float]]
SIMULATOR_METRICS = ("latency_s", "energy_pj", "area_mm2", "edp_pj_s", "log2_edp")
_HARDWARE_FIELDS = tuple(f.name for f in dataclasses.fields(Accelerator))


@dataclasses.dataclass(frozen=True)
class PairSpace:
    """Joint space of a supernet's discrete networks and a grid of accelerators.

    Attributes:
      search_space: the supernet space (layers, ops, which op is available where).
      hardware_choices: ``(field, values)`` per searched Accelerator field; numeric values are
        sorted ascending (ordinal), ``dataflow`` is nominal.
      base_accelerator: the values of the fields not searched.
      max_area_mm2: pairs whose accelerator is larger are invalid (``None``: no limit).
      energy_table: the area (and energy) table; ``None`` is sim's default.
    """

    search_space: SearchSpace
    hardware_choices: tuple[tuple[str, tuple], ...]
    base_accelerator: Accelerator = Accelerator()
    max_area_mm2: float | None = None
    energy_table: EnergyTable | None = None

    def __post_init__(self):
        owner = "PairSpace"
        choices = tuple((field, tuple(values)) for field, values in dict(self.hardware_choices).items())
        if not choices:
            raise ValueError(f"{owner}.hardware_choices must name at least one Accelerator field "
                             f"of {list(_HARDWARE_FIELDS)}, got none")
        for field, values in choices:
            checks.one_of(owner, "hardware_choices field", field, _HARDWARE_FIELDS)
            for value in values:  # every value must make a valid accelerator
                dataclasses.replace(self.base_accelerator, **{field: value})
        choices = tuple((field, values if field == "dataflow" else tuple(sorted(values)))
                        for field, values in choices)
        object.__setattr__(self, "hardware_choices", choices)
        if self.max_area_mm2 is not None:
            checks.positive_number(owner, "max_area_mm2", self.max_area_mm2)
        table = EnergyTable() if self.energy_table is None else self.energy_table
        object.__setattr__(self, "energy_table", table)
        mask = self.search_space.op_mask()
        dims = [Dimension(f"layer{layer}.op", self.search_space.op_names, NOMINAL,
                          allowed=tuple(int(k) for k, ok in enumerate(row) if ok))
                for layer, row in enumerate(mask)]
        dims += [Dimension(field, values, NOMINAL if field == "dataflow" else ORDINAL)
                 for field, values in choices]
        is_valid = None if self.max_area_mm2 is None else self._fits_area
        object.__setattr__(self, "design_space", DesignSpace(tuple(dims), is_valid))

    @property
    def num_layers(self) -> int:
        return self.search_space.num_layers

    def _fits_area(self, design: Design) -> bool:
        return (accelerator_area_mm2(self.accelerator(design), self.energy_table)
                <= self.max_area_mm2)

    def accelerator(self, design: Sequence[int]) -> Accelerator:
        """The accelerator of a pair."""
        values = {field: values[index] for (field, values), index
                  in zip(self.hardware_choices, design[self.num_layers:])}
        return dataclasses.replace(self.base_accelerator, **values)

    def network(self, design: Sequence[int]) -> DerivedNetwork:
        """The derived network of a pair."""
        return DerivedNetwork(self.search_space, tuple(design[:self.num_layers]))

    def design_of(self, op_names: Sequence[str], accelerator: Accelerator) -> Design:
        """The pair of a named op per layer and an accelerator (e.g. a joint search's result).

        Raises:
          ValueError: if an op is unavailable at its layer, the accelerator differs from the base
            in a field that is not searched, or a searched field has a value off the grid.
        """
        ops = DerivedNetwork.from_op_names(self.search_space, op_names).op_indices
        searched = dict(self.hardware_choices)
        for field in _HARDWARE_FIELDS:
            if field not in searched and getattr(accelerator, field) != getattr(
                    self.base_accelerator, field):
                raise ValueError(f"accelerator.{field}={getattr(accelerator, field)!r} differs from "
                                 f"the base accelerator's {getattr(self.base_accelerator, field)!r}, "
                                 "and that field is not searched")
        hardware = []
        for field, values in self.hardware_choices:
            value = getattr(accelerator, field)
            if value not in values:
                raise ValueError(f"accelerator.{field} must be one of {list(values)}, got {value!r}")
            hardware.append(values.index(value))
        return self.design_space.canonical(ops + tuple(hardware))


def simulator_oracle(pair_space: PairSpace, batch: int = 1) -> Oracle:
    """Hardware metrics of a pair from ``sim.simulate_network`` (batch ``batch``).

    Returns :data:`SIMULATOR_METRICS`: ``latency_s``, ``energy_pj``, ``area_mm2``, ``edp_pj_s`` and
    ``log2_edp`` (log2 of the EDP in pJ s: additive in the doublings of latency and energy, a
    well-scaled regression target).
    """
    checks.positive_int("simulator_oracle", "batch", batch)

    def oracle(design: Design) -> dict[str, float]:
        network = pair_space.network(design).network(batch=batch)
        report = simulate_network(network, pair_space.accelerator(design),
                                  energy_table=pair_space.energy_table)
        edp = report.energy_pj * report.latency_s
        return {"latency_s": report.latency_s, "energy_pj": report.energy_pj,
                "area_mm2": report.area_mm2, "edp_pj_s": edp, "log2_edp": math.log2(edp)}

    return oracle


def training_oracle(pair_space: PairSpace, config: ml_collections.ConfigDict,
                    workdir: str | Path) -> Oracle:
    """``accuracy`` of a pair's network on ``config.eval_split`` after ``train_and_evaluate``.

    Each network trains in ``workdir/train-<op indices>``; if that directory already holds a
    result, it is read back instead of training again.

    Args:
      pair_space: the pair space; its search space must be the one ``config.space`` names.
      config: a ``dianjax.train`` config (dataset, space, short schedule); ``ops`` is overwritten.
      workdir: where the trainings live.
    """
    from dianjax import train

    probe = ml_collections.ConfigDict(config.to_dict())
    probe.ops = tuple(pair_space.design_space.values(
        [dim.allowed[0] for dim in pair_space.design_space.dimensions[:pair_space.num_layers]]
    ).values())
    if train.derived_from_config(probe).space != pair_space.search_space:
        raise ValueError(f"config.space={config.space!r} with dataset {config.dataset!r} is not "
                         "the pair space's search space")
    workdir = Path(workdir)

    def oracle(design: Design) -> dict[str, float]:
        network = pair_space.network(design)
        run_dir = workdir / ("train-" + "-".join(str(k) for k in network.op_indices))
        result_path = run_dir / train.RESULT_FILE
        if result_path.exists():
            result = json.loads(result_path.read_text())
        else:
            run_config = ml_collections.ConfigDict(config.to_dict())
            run_config.ops = network.op_names
            result = train.train_and_evaluate(run_config, run_dir)
        return {"accuracy": float(result[f"{config.eval_split}_accuracy"])}

    return oracle


def table_oracle(pair_space: PairSpace, table, split: str = "val") -> Oracle:
    """``accuracy`` of a pair's network looked up in a benchmark table (``dianjax.bench``): the mean
    over the table's seeds of its ``split`` accuracy ("val": the recipe's ``search_val`` split;
    "test"), i.e. the network trained from scratch with the table's full recipe. No training."""
    checks.one_of("table_oracle", "split", split, ("val", "test"))
    if tuple(table.op_names) != tuple(pair_space.search_space.op_names):
        raise ValueError(f"table {table.name!r} has ops {list(table.op_names)}, the pair space "
                         f"{list(pair_space.search_space.op_names)}")
    means = table.val_mean if split == "val" else table.test_mean

    def oracle(design: Design) -> dict[str, float]:
        return {"accuracy": float(means[table.index(pair_space.network(design).op_names)])}

    return oracle


def combine_oracles(*oracles: Oracle) -> Oracle:
    """One oracle returning the union of the metrics of ``oracles`` (names must not collide)."""
    if not oracles:
        raise ValueError("combine_oracles needs at least one oracle, got none")

    def oracle(design: Design) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for part in oracles:
            result = part(design)
            clash = sorted(set(metrics) & set(result))
            if clash:
                raise ValueError(f"combine_oracles: metric(s) {clash} returned by two oracles")
            metrics.update(result)
        return metrics

    return oracle
