"""The relaxed accelerator cost of a supernet: differentiable in op probabilities and hardware logits.

What it models: a supernet whose searchable layer ``l`` runs op ``k`` with probability
``op_probs[l, k]`` (a :class:`dianjax.nas.search_space.LayerTable` gives every op's convs), on an
accelerator drawn from a :class:`dianjax.cost.hardware_space.HardwareSpace` whose knob ``i`` takes
its value ``v`` with probability ``p_i(v) = softmax(hw_logits[knob] / temperature)`` and whose
mapping slot ``s`` takes fold order ``u`` with
``q_s(u) = softmax(hw_logits["fold_order"][s] / temperature)``. The cost of a hardware point ``h``
(knob values and fold orders) is that of the *expected network*: latency and energy summed over
fixed layers and over ``op_probs``-weighted op convs (exact per-conv figures from the
template's ``evaluate``, e.g. :func:`dianjax.cost.systolic.evaluate`); ``edp = latency * energy``,
``edap = edp * area``. Area is the accelerator's, or, for a template whose area is per layer
(``CostTemplate.area_per_layer``: the crossbar template), summed over the convs like latency and
energy. The relaxed cost is its expectation over ``h``. Units as in :mod:`dianjax.cost.systolic`
(s, pJ, mm^2).

The estimator, from the inside out:

1. Ops: exact. Given ``h``, latency and energy are linear in the op choice, so the expectation over
   ops is the ``op_probs``-weighted sum: exact, differentiable, no sampling.
2. Fold orders: exact. Latency and energy are sums over mapping slots, and slots choose their fold
   order independently, so with ``A_s(u)``, ``B_s(u)`` the latency and energy of slot ``s`` under
   order ``u``: ``E[latency] = sum_s E_q[A_s]`` (likewise energy) and
   ``E[latency * energy] = E[latency] E[energy] + sum_s Cov_q(A_s, B_s)``. Exact and differentiable
   in the fold logits, for the price of evaluating every conv under every fold order. Where area
   is per layer, ``C_s(u)`` that of slot ``s`` and ``A, B, C`` the three sums over slots, EDAP needs
   the third moments too (joint cumulants of independent slots add up):
   ``E[ABC] = E[A]E[B]E[C] + E[C] sum_s Cov(A_s, B_s) + E[B] sum_s Cov(A_s, C_s)
   + E[A] sum_s Cov(B_s, C_s) + sum_s E_q[(A_s - E A_s)(B_s - E B_s)(C_s - E C_s)]``.
3. Accelerator knobs: local expectation gradients (Titsias & Lazaro-Gredilla, "Local Expectation
   Gradients for Black Box Variational Inference", NeurIPS 2015). The cost is a step function of
   the discrete knob values (ceil, select), so reparameterized or straight-through gradients are
   zero or meaningless. Draw ``h ~ p`` (Gumbel-max, from ``key``); for each knob ``i`` evaluate
   the cost at every value ``v`` with the other knobs at ``h_{-i}``:
   ``M_i = sum_v p_i(v) m(v, h_{-i})``. Each ``M_i`` is an unbiased estimate of ``E_h[m]``, and
   ``sum_v grad p_i(v) m(v, h_{-i})`` an unbiased estimate of its gradient with respect to knob
   ``i``'s logits. The returned value is ``mean_i M_i`` (its gradient gives the op-probability and
   fold-logit gradients), plus ``sum_i (M_i - stop_gradient(M_i))`` with the metric values
   stopped (it gives each knob's logits the gradient of its own ``M_i`` and adds 0 to the value).
   ``num_samples`` averages independent draws. One evaluation per step of every conv on
   ``sum_i |choices_i| x |fold orders|`` accelerators: ~29,000 (conv, accelerator) pairs for the
   CIFAR space and the default hardware space; no gradient flows through the evaluation itself.

Every metric (latency, energy, area, EDP, EDAP) is built this way, so each has an unbiased gradient;
the objective (:mod:`dianjax.cost.objectives`) is linear in them, hence also unbiased.
:func:`expected` computes the same expectation exactly by enumerating the hardware space (cost
linear in its size), for small spaces, tests and :func:`reference_metrics`;
:meth:`RelaxedCostModel.exact` (``estimator="exact"``, or ``"auto"`` on a space whose enumeration
has at most :data:`EXACT_LIMIT` floats, as the quickstart's 12,288 accelerators) takes it from the
every-conv-on-every-accelerator reports computed once, so a search step pays no sampling noise.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from dianjax.cost.hardware_space import HardwareSpace
from dianjax.cost.objectives import Metrics, objective_weights
from dianjax.cost.objectives import objective as normalized_objective
from dianjax.nas.search_space import LayerTable
from sim import checks
from sim.energy import EnergyTable
from sim.registry import get_template as sim_template

_ENUMERATION_BATCH = 256   # accelerators per vectorized chunk of an exhaustive enumeration
ESTIMATORS = ("auto", "exact", "sampled")  # how relaxed() takes the expectation over the knobs
EXACT_LIMIT = 4_000_000    # floats per enumeration table up to which "auto" is exact (16 MB f32)


class RelaxedCost(NamedTuple):
    """Expected metrics (scalars, each differentiable) and the normalized objective (0 if none)."""

    latency_s: jax.Array
    energy_pj: jax.Array
    area_mm2: jax.Array
    edp_pj_s: jax.Array
    edap_pj_s_mm2: jax.Array
    objective: jax.Array


def space_indices(space: HardwareSpace) -> np.ndarray:
    """int32[num_accelerators, len(space.knobs)]: choice indices of every accelerator, in
    :meth:`HardwareSpace.accelerators` order."""
    sizes = [len(getattr(space, knob)) for knob in space.knobs]
    return np.indices(sizes, dtype=np.int32).reshape(len(space.knobs), -1).T


def space_accelerators(space: HardwareSpace):
    """Every accelerator of ``space`` as its template's arrays, stacked along a leading axis
    (numpy), for ``jax.vmap``."""
    template = space.template
    return template.gather(template.knob_tables(space), space_indices(space), np)


def uniform_op_probs(table: LayerTable) -> np.ndarray:
    """float32[L, K]: uniform probabilities over the available ops of every searchable layer."""
    mask = np.asarray(table.op_mask, np.float32)
    return mask / mask.sum(axis=1, keepdims=True)


@dataclasses.dataclass(frozen=True, eq=False)
class RelaxedCostModel:
    """A layer table and a hardware space, prepared once (numpy constants; close over it in jit).

    Attributes:
      table, space, energy_table: what it was prepared from.
      convs: every conv the supernet can execute: the fixed layers, then every (layer, op) conv.
      conv_cell: int32[#searchable convs]: ``l * K + k`` of each searchable conv.
      slot_matrix: float32[#convs, #slots]: one-hot of each conv's mapping slot.
      tables: the knob choices (the template's ``knob_tables``).
      fold_orders: int32[U]: the template's code (``mapping_index``) of each mapping choice.
      row_knob: int32[R]: the knob of each accelerator evaluated per sample (LEG rows).
      row_value: int32[R]: its choice index.
    """

    table: LayerTable
    space: HardwareSpace
    energy_table: EnergyTable | None
    convs: object
    conv_cell: np.ndarray
    slot_matrix: np.ndarray
    tables: object
    fold_orders: np.ndarray
    row_knob: np.ndarray
    row_value: np.ndarray

    # -- checks ----------------------------------------------------------------------------------
    def check_inputs(self, op_probs, hw_logits, temperature) -> None:
        """ValueError (naming the argument) unless the shapes, keys and temperature are valid."""
        shape = (self.table.num_layers, len(self.table.op_names))
        if np.shape(op_probs) != shape:
            raise ValueError(f"op_probs must have shape (num_layers, num_ops) = {shape}, "
                             f"got {np.shape(op_probs)}")
        chex.assert_type(op_probs, float)
        if not isinstance(hw_logits, Mapping):
            raise ValueError(f"hw_logits must be a dict {{knob: logits}} (HardwareSpace.init_logits),"
                             f" got {type(hw_logits).__name__}")
        self.space.check_logits(hw_logits, self.table)
        chex.assert_type(list(hw_logits.values()), float)
        if isinstance(temperature, (int, float)) and not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")

    # -- pieces ----------------------------------------------------------------------------------
    def conv_weights(self, op_probs) -> jax.Array:
        """float[#convs]: 1 for a fixed layer, ``op_probs[l, k]`` for a conv of op k at layer l."""
        fixed = jnp.ones(len(self.table.fixed), op_probs.dtype)
        return jnp.concatenate([fixed, jnp.reshape(op_probs, -1)[self.conv_cell]])

    def accelerator_reports(self, accelerator) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Latency and energy float[U, #convs] of every conv under every fold order, and the area
        of one accelerator: a scalar, or float[U, #convs] where the template's area is per layer."""
        def per_order(order):
            return self.space.template.evaluate(self.convs, accelerator, order, self.energy_table)

        report = jax.vmap(per_order)(jnp.asarray(self.fold_orders))
        area = report.area_mm2 if self.space.template.area_per_layer else report.area_mm2[0]
        return report.latency_s, report.energy_pj, area

    def accelerator_metrics(self, weights, fold_probs, accelerator) -> Metrics:
        """Metrics of one accelerator, exact over ops (``weights``) and fold orders (``fold_probs``).

        Args:
          weights: :meth:`conv_weights`.
          fold_probs: float[#slots, U] fold-order probabilities per mapping slot.
          accelerator: one accelerator (scalars).
        """
        return self.report_metrics(weights, fold_probs, *self.accelerator_reports(accelerator))

    def report_metrics(self, weights, fold_probs, latency, energy, area) -> Metrics:
        """:meth:`accelerator_metrics` from :meth:`accelerator_reports` (leading axes: a batch of
        accelerators)."""
        weighted_slots = weights[:, None] * jnp.asarray(self.slot_matrix, weights.dtype)
        slot_latency = latency @ weighted_slots                                # [..., U, #slots]
        slot_energy = energy @ weighted_slots
        q = fold_probs.T                                                       # [U, #slots]
        mean_latency = jnp.sum(q * slot_latency, axis=-2)                      # [..., #slots]
        mean_energy = jnp.sum(q * slot_energy, axis=-2)
        total_latency = jnp.sum(mean_latency, axis=-1)
        total_energy = jnp.sum(mean_energy, axis=-1)
        covariance = jnp.sum(q * slot_latency * slot_energy, axis=-2) - mean_latency * mean_energy
        edp = total_latency * total_energy + jnp.sum(covariance, axis=-1)
        if not self.space.template.area_per_layer:
            return Metrics(latency_s=total_latency, energy_pj=total_energy, area_mm2=area,
                           edp_pj_s=edp, edap_pj_s_mm2=edp * area)
        # Area summed over convs and slots like latency and energy; EDAP by the moments (item 2).
        slot_area = area @ weighted_slots
        mean_area = jnp.sum(q * slot_area, axis=-2)
        total_area = jnp.sum(mean_area, axis=-1)
        d_latency = slot_latency - mean_latency[..., None, :]
        d_energy = slot_energy - mean_energy[..., None, :]
        d_area = slot_area - mean_area[..., None, :]

        def moment(*deviations):
            return jnp.sum(q * functools.reduce(jnp.multiply, deviations), axis=(-2, -1))

        edap = (edp * total_area + total_energy * moment(d_latency, d_area)
                + total_latency * moment(d_energy, d_area) + moment(d_latency, d_energy, d_area))
        return Metrics(latency_s=total_latency, energy_pj=total_energy, area_mm2=total_area,
                       edp_pj_s=edp, edap_pj_s_mm2=edap)

    @functools.cached_property
    def enumeration(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`accelerator_reports` of every accelerator of the space (numpy, leading axis in
        :meth:`HardwareSpace.accelerators` order), computed once per model, also when first asked
        for while a search step is traced."""
        accelerators = self.space.template.gather(self.tables, space_indices(self.space), np)
        with jax.ensure_compile_time_eval():
            reports = jax.lax.map(self.accelerator_reports, accelerators,
                                  batch_size=_ENUMERATION_BATCH)
        return tuple(np.asarray(r) for r in reports)

    @property
    def enumeration_size(self) -> int:
        """Floats in each table of :attr:`enumeration`: accelerators x fold orders x convs."""
        return self.space.num_accelerators * len(self.fold_orders) * self.slot_matrix.shape[0]

    def resolve_estimator(self, estimator: str) -> str:
        """``"exact"`` or ``"sampled"``: ``"auto"`` is exact when the enumeration has at most
        :data:`EXACT_LIMIT` floats per table."""
        checks.one_of("relaxed", "estimator", estimator, ESTIMATORS)
        if estimator == "auto":
            return "exact" if self.enumeration_size <= EXACT_LIMIT else "sampled"
        return estimator

    def _probabilities(self, hw_logits, temperature):
        knob_probs = [jax.nn.softmax(jnp.asarray(hw_logits[k]) / temperature)
                      for k in self.space.knobs]
        fold_probs = jax.nn.softmax(jnp.asarray(hw_logits[self.space.mapping_knob]) / temperature,
                                    axis=-1)
        return knob_probs, fold_probs

    def check_objective(self, objective, reference) -> None:
        """ValueError unless ``objective`` is None or valid and comes with a ``reference``."""
        if objective is None:
            return
        objective_weights(objective)
        if reference is None:
            raise ValueError("an objective needs a reference (the normalizer): pass "
                             "reference=cost.reference_metrics(table, space)")

    @staticmethod
    def _finish(metrics: Metrics, objective, reference) -> RelaxedCost:
        value = (jnp.zeros((), metrics.latency_s.dtype) if objective is None
                 else normalized_objective(objective, metrics, reference))
        return RelaxedCost(*metrics, objective=value)

    # -- the estimators ---------------------------------------------------------------------------
    def relaxed(self, op_probs, hw_logits, key, temperature, *, num_samples: int = 1,
                objective=None, reference=None, estimator: str = "sampled") -> RelaxedCost:
        """The relaxed cost (module docstring): exact over ops and fold orders, LEG over knobs.

        With ``estimator="exact"`` (or ``"auto"`` on a small space) the expectation over the knobs
        is exact too, from the precomputed :attr:`enumeration` (``key`` and ``num_samples`` unused).

        Args:
          op_probs: float[L, K] op probabilities (zero on unavailable ops).
          hw_logits: ``HardwareSpace.init_logits`` layout.
          key: PRNG key of the hardware samples.
          temperature: > 0; the hardware probabilities are ``softmax(logits / temperature)``.
          num_samples: independent hardware samples averaged.
          objective: a name or weights dict (:mod:`dianjax.cost.objectives`), or None.
          reference: the objective's normalizer (:func:`reference_metrics`); needed with ``objective``.
          estimator: one of :data:`ESTIMATORS`.
        """
        self.check_inputs(op_probs, hw_logits, temperature)
        checks.positive_int("relaxed", "num_samples", num_samples)
        self.check_objective(objective, reference)
        if self.resolve_estimator(estimator) == "exact":
            return self.exact(op_probs, hw_logits, temperature, objective=objective,
                              reference=reference)
        weights = self.conv_weights(op_probs)
        knob_probs, fold_probs = self._probabilities(hw_logits, temperature)
        knobs = self.space.knobs
        row_logits = jnp.concatenate([jnp.asarray(hw_logits[k]) for k in knobs]) / temperature
        row_probs = jnp.concatenate(knob_probs)                                # [R]
        knob_of_row = jax.nn.one_hot(self.row_knob, len(knobs), dtype=row_probs.dtype)
        starts = np.cumsum([0] + [len(getattr(self.space, k)) for k in knobs])

        def one_sample(sample_key) -> Metrics:
            # Gumbel-max: one draw per choice, the argmax within each knob's choices.
            scores = row_logits + jax.random.gumbel(sample_key, row_logits.shape, row_logits.dtype)
            sample = jnp.stack([jnp.argmax(scores[a:b]) for a, b in zip(starts[:-1], starts[1:])])
            indices = jnp.where(jnp.arange(len(knobs)) == self.row_knob[:, None],
                                self.row_value[:, None], sample[None, :])      # [R, knobs]
            accelerators = self.space.template.gather(self.tables, indices, jnp)
            values = jax.vmap(lambda acc: self.accelerator_metrics(weights, fold_probs, acc))(
                accelerators)
            return Metrics(*(_local_expectation(v, row_probs, knob_of_row) for v in values))

        samples = jax.vmap(one_sample)(jax.random.split(key, num_samples))
        metrics = Metrics(*(jnp.mean(v) for v in samples))
        return self._finish(metrics, objective, reference)

    def exact(self, op_probs, hw_logits, temperature, *, objective=None,
              reference=None) -> RelaxedCost:
        """The exact expectation over the whole space from the precomputed :attr:`enumeration`.

        Equal to :meth:`expected`; per call a few multiply-adds per table entry, with the
        enumeration (compiled in as constants) computed once. For spaces whose enumeration fits
        in memory (:meth:`resolve_estimator`).
        """
        self.check_inputs(op_probs, hw_logits, temperature)
        self.check_objective(objective, reference)
        weights = self.conv_weights(op_probs)
        knob_probs, fold_probs = self._probabilities(hw_logits, temperature)
        probability = self._accelerator_probabilities(knob_probs)
        values = self.report_metrics(weights, fold_probs, *self.enumeration)
        metrics = Metrics(*(jnp.sum(probability * v) for v in values))
        return self._finish(metrics, objective, reference)

    def best_case(self, op_probs) -> Metrics:
        """Each metric of the expected network at its least over the enumerated accelerators,
        every mapping slot at its best fold order for that metric: what the space's best
        accelerator can do for the op mixture ``op_probs``, independent of the hardware logits.

        Differentiable in ``op_probs`` (through the argmin accelerator and fold orders); for cost
        targets, which a pair meets exactly when its network's best accelerator does. EDP (EDAP) is
        the least of latency x energy (x area) with each slot's fold order chosen per factor, which
        is the least EDP whenever one fold order is best in both (module docstring of
        :mod:`dianjax.bench.prices`).
        """
        weights = self.conv_weights(op_probs)
        latency, energy, area = self.enumeration                    # [A, U, C], [A] or [A, U, C]
        weighted_slots = weights[:, None] * jnp.asarray(self.slot_matrix, weights.dtype)

        def least_total(values):                                               # [A]
            return jnp.sum(jnp.min(values @ weighted_slots, axis=-2), axis=-1)

        total_latency, total_energy = least_total(latency), least_total(energy)
        area = least_total(area) if self.space.template.area_per_layer else jnp.asarray(area)
        edp = total_latency * total_energy
        return Metrics(latency_s=jnp.min(total_latency), energy_pj=jnp.min(total_energy),
                       area_mm2=jnp.min(area), edp_pj_s=jnp.min(edp),
                       edap_pj_s_mm2=jnp.min(edp * area))

    def _accelerator_probabilities(self, knob_probs) -> jax.Array:
        """float[num_accelerators]: the probability of every accelerator (knobs independent)."""
        indices = space_indices(self.space)
        probability = 1.0
        for i, probs in enumerate(knob_probs):
            probability = probability * probs[indices[:, i]]
        return probability

    def expected(self, op_probs, hw_logits, temperature, *, objective=None,
                 reference=None) -> RelaxedCost:
        """The exact expectation that :meth:`relaxed` estimates, by enumerating the hardware space.

        Cost: every conv under every fold order on all ``space.num_accelerators`` accelerators.
        """
        self.check_inputs(op_probs, hw_logits, temperature)
        self.check_objective(objective, reference)
        weights = self.conv_weights(op_probs)
        knob_probs, fold_probs = self._probabilities(hw_logits, temperature)
        probability = self._accelerator_probabilities(knob_probs)
        accelerators = self.space.template.gather(self.tables, space_indices(self.space), np)
        values = jax.lax.map(lambda acc: self.accelerator_metrics(weights, fold_probs, acc),
                             accelerators, batch_size=_ENUMERATION_BATCH)
        metrics = Metrics(*(jnp.sum(probability * v) for v in values))
        return self._finish(metrics, objective, reference)


def _local_expectation(values, row_probs, knob_of_row):
    """``mean_i M_i`` with LEG gradients for the knob logits (module docstring, item 3).

    Args:
      values: float[R] a metric at each row's accelerator (its knob at the row's value).
      row_probs: float[R] the probability of each row's value under its knob.
      knob_of_row: float[R, knobs] one-hot of each row's knob.
    """
    stop = jax.lax.stop_gradient
    by_values = (stop(row_probs) * values) @ knob_of_row      # gradient to ops and fold orders
    by_probs = (row_probs * stop(values)) @ knob_of_row       # gradient to the knob logits
    return jnp.mean(by_values) + jnp.sum(by_probs - stop(by_probs))


def prepare(table: LayerTable, space: HardwareSpace,
            energy_table: EnergyTable | None = None) -> RelaxedCostModel:
    """Precomputes the conv arrays, slot matrix and knob tables of ``table`` on ``space``."""
    if not isinstance(table, LayerTable):
        raise ValueError(f"table must be a dianjax.nas.search_space.LayerTable, "
                         f"got {type(table).__name__}")
    if not isinstance(space, HardwareSpace):
        raise ValueError(f"space must be a dianjax.cost.hardware_space.HardwareSpace, "
                         f"got {type(space).__name__}")
    table_type = sim_template(space.template.name).energy_table
    if energy_table is not None and not isinstance(energy_table, table_type):
        raise ValueError(f"energy_table must be a sim.{table_type.__name__} or None, "
                         f"got {type(energy_table).__name__}")
    slots = {slot: index for index, slot in enumerate(table.mapping_slots)}
    num_ops = len(table.op_names)
    layers, cells = list(table.fixed), []
    for index, row in enumerate(table.choices):
        for k, op_convs in enumerate(row):
            layers.extend(op_convs)
            cells.extend([index * num_ops + k] * len(op_convs))
    slot_matrix = np.zeros((len(layers), len(slots)), np.float32)
    slot_matrix[np.arange(len(layers)),
                [slots[table.slot_of(layer.name)] for layer in layers]] = 1.0
    row_knob = np.concatenate([np.full(len(getattr(space, k)), i, np.int32)
                               for i, k in enumerate(space.knobs)])
    row_value = np.concatenate([np.arange(len(getattr(space, k)), dtype=np.int32)
                                for k in space.knobs])
    template = space.template
    return RelaxedCostModel(
        table=table, space=space, energy_table=energy_table, convs=template.layer_arrays(layers),
        conv_cell=np.asarray(cells, np.int32), slot_matrix=slot_matrix,
        tables=template.knob_tables(space),
        fold_orders=np.asarray([template.mapping_index(o) for o in space.mapping_choices],
                               np.int32),
        row_knob=row_knob, row_value=row_value)


def relaxed(table: LayerTable, op_probs, hw_logits, key, temperature, *, space: HardwareSpace,
            num_samples: int = 1, energy_table: EnergyTable | None = None, objective=None,
            reference=None, estimator: str = "sampled") -> RelaxedCost:
    """The relaxed, differentiable expected cost of a supernet on a hardware space.

    ``prepare(table, space, energy_table).relaxed(...)``: see :meth:`RelaxedCostModel.relaxed`
    and the module docstring for the estimator (``estimator="exact"``: no sampling over the knobs
    either). Call it inside ``jax.jit`` with ``op_probs``, ``hw_logits``, ``key`` and
    ``temperature`` traced and the rest closed over.
    """
    return prepare(table, space, energy_table).relaxed(
        op_probs, hw_logits, key, temperature, num_samples=num_samples, objective=objective,
        reference=reference, estimator=estimator)


def expected(table: LayerTable, op_probs, hw_logits, temperature, *, space: HardwareSpace,
             energy_table: EnergyTable | None = None, objective=None,
             reference=None) -> RelaxedCost:
    """The exact expectation of :func:`relaxed`, by enumerating ``space`` (small spaces, tests)."""
    return prepare(table, space, energy_table).expected(
        op_probs, hw_logits, temperature, objective=objective, reference=reference)


def reference_metrics(table: LayerTable, space: HardwareSpace,
                      energy_table: EnergyTable | None = None) -> Metrics:
    """The objectives' normalizer: the exact expected metrics at uniform op probs and hardware logits.

    Enumerates the hardware space once (about a second per ten million (conv, accelerator) pairs on
    a CPU core).
    """
    model = prepare(table, space, energy_table)
    logits = space.init_logits(table)
    result = jax.jit(lambda probs, hw: model.expected(probs, hw, 1.0))(uniform_op_probs(table),
                                                                       logits)
    return Metrics(*result[:len(Metrics._fields)])
