"""dianjax.cost.relaxed, expected, objective: discrete limit, gradients, unbiasedness, Adam."""

import importlib
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dianjax import cost
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from dianjax.cost.relaxed import space_indices
from dianjax.cost.systolic import KNOBS
from dianjax.nas.search_space import SearchSpace, layer_table, quickstart_space
from sim import FOLD_ORDERS, Accelerator, Network, simulate_network

SPACE = HardwareSpace(rows=(4, 8, 16), cols=(4, 16), ifmap_sram_kb=(0.5, 8), filter_sram_kb=(0.5, 8),
                      ofmap_sram_kb=(0.5, 8), dram_bandwidth_words_per_cycle=(2.0, 8.0))
TABLE = layer_table(quickstart_space())
MODEL = cost.prepare(TABLE, SPACE)
REFERENCE = cost.reference_metrics(TABLE, SPACE)
METRICS = ("latency_s", "energy_pj", "area_mm2", "edp_pj_s", "edap_pj_s_mm2")


@jax.jit
def _relaxed_edp(op_probs, hw_logits, key, temperature):
    return MODEL.relaxed(op_probs, hw_logits, key, temperature, objective="edp",
                         reference=REFERENCE)


@jax.jit
def _expected_edp(op_probs, hw_logits, temperature):
    return MODEL.expected(op_probs, hw_logits, temperature, objective="edp", reference=REFERENCE)


_relaxed_edp_grad = jax.jit(jax.value_and_grad(
    lambda probs, logits, key, t: _relaxed_edp(probs, logits, key, t).objective, argnums=(0, 1)))


def _one_hot_probs(op_indices):
    return jax.nn.one_hot(jnp.asarray(op_indices), len(TABLE.op_names))


def _design(rows, dataflow, order_of_slot):
    accelerator = Accelerator(rows=rows, cols=16, dataflow=dataflow, ifmap_sram_kb=0.5,
                              filter_sram_kb=8, ofmap_sram_kb=0.5,
                              dram_bandwidth_words_per_cycle=2.0)
    return HardwareDesign(accelerator, {slot: order_of_slot(i)
                                        for i, slot in enumerate(TABLE.mapping_slots)})


@pytest.mark.parametrize("op_indices, design", [
    ((0, 1, 2, 3), _design(4, "ws", lambda i: "col_outer")),
    ((4, 3, 1, 0), _design(16, "os", lambda i: FOLD_ORDERS[i % 2])),
    ((3, 3, 1, 4), _design(8, "is", lambda i: "row_outer")),
])
def test_one_hot_limit_is_the_discrete_design_cost(op_indices, design):
    network = TABLE.network(op_indices)
    predicted = cost.design_cost(network, design, TABLE)
    probs = _one_hot_probs(op_indices)
    logits = SPACE.one_hot_logits(design, TABLE)
    for result in (_relaxed_edp(probs, logits, jax.random.key(3), 1.0),
                   _expected_edp(probs, logits, 1.0)):
        for field in METRICS:
            # Equal up to float32 summation order (the two sum the same convs differently).
            assert float(getattr(result, field)) == pytest.approx(predicted[field], rel=1e-6), field
        assert float(result.objective) == pytest.approx(predicted["edp_pj_s"] / float(REFERENCE.edp_pj_s),
                                                        rel=1e-6)
    report = simulate_network(network, design.accelerator, design.mappings(network, TABLE))
    assert predicted["edp_pj_s"] == pytest.approx(report.energy_pj * report.latency_s, rel=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), logit_scale=st.floats(0.0, 30.0),
       temperature=st.floats(0.05, 10.0), one_hot_ops=st.booleans())
def test_gradients_are_finite(seed, logit_scale, temperature, one_hot_ops):
    rng = np.random.default_rng(seed)
    logits = {key: jnp.asarray(logit_scale * rng.normal(size=value.shape), jnp.float32)
              for key, value in SPACE.init_logits(TABLE).items()}
    mask = np.asarray(TABLE.op_mask)
    op_logits = np.where(mask, rng.normal(size=mask.shape) * (50.0 if one_hot_ops else 1.0), -np.inf)
    probs = jax.nn.softmax(jnp.asarray(op_logits, jnp.float32), axis=-1)
    value, grads = _relaxed_edp_grad(probs, logits, jax.random.key(seed), temperature)
    chex.assert_tree_all_finite((value, grads))
    assert float(value) > 0


def test_op_gradient_is_each_ops_latency_so_cheaper_ops_win():
    design = _design(8, "os", lambda i: FOLD_ORDERS[i % 2])
    logits = SPACE.one_hot_logits(design, TABLE)
    grad = np.asarray(jax.jit(jax.grad(lambda probs: MODEL.relaxed(
        probs, logits, jax.random.key(0), 1.0, objective="latency",
        reference=REFERENCE).objective))(jnp.asarray(cost.uniform_op_probs(TABLE))))
    # Every op's own latency on the design, from one evaluation of all convs of the table.
    convs = Network("all", tuple(c for row in TABLE.choices for op in row for c in op))
    report = cost.evaluate(cost.layer_arrays(convs), cost.accelerator_arrays(design.accelerator),
                           cost.fold_order_indices(convs, design.mappings(convs, TABLE)))
    latency = dict(zip((layer.name for layer in convs), np.asarray(report.latency_s)))
    for index, row in enumerate(TABLE.choices):
        for k, op_convs in enumerate(row):
            op_latency = sum(latency[c.name] for c in op_convs)
            assert grad[index, k] == pytest.approx(op_latency / float(REFERENCE.latency_s), rel=1e-5)
        available = [k for k, ok in enumerate(TABLE.op_mask[index]) if ok]
        if TABLE.op_names[-1] == "skip" and TABLE.op_mask[index][-1]:
            assert grad[index, -1] == 0 < min(grad[index, k] for k in available[:-1])


# -- unbiasedness on a tiny space, against a brute-force enumeration of every hardware point ------

TINY_SPACE = HardwareSpace(rows=(2, 8), cols=(4, 16), dataflow=("ws", "os"),
                           ifmap_sram_kb=(0.0625, 1), filter_sram_kb=(0.0625, 1),
                           ofmap_sram_kb=(0.0625, 1), dram_bandwidth_words_per_cycle=(1.0, 8.0))
TINY_TABLE = layer_table(SearchSpace(image_size=8, in_channels=2, num_classes=2, stem_channels=4,
                                     stages=((8, 1, 2),), op_names=("mb_k3_e1", "mb_k3_e3"),
                                     head_channels=8))


def _brute_force_objective(reference):
    """E_h[edp(h)] / reference, every accelerator x every fold order of every slot enumerated."""
    table, space = TINY_TABLE, TINY_SPACE
    slots = table.mapping_slots
    convs = list(table.fixed) + [c for row in table.choices for op in row for c in op]
    cells = np.array([index * len(table.op_names) + k for index, row in enumerate(table.choices)
                      for k, op in enumerate(row) for _ in op])
    conv_slot = np.array([slots.index(table.slot_of(c.name)) for c in convs])
    arrays = cost.layer_arrays(convs)
    per_order = jax.jit(jax.vmap(jax.vmap(lambda acc, order: cost.evaluate(arrays, acc, order),
                                          (None, 0)), (0, None)))
    report = per_order(cost.space_accelerators(space), jnp.arange(len(FOLD_ORDERS)))
    combos = np.array(list(itertools.product(range(2), repeat=len(slots))))     # [F, slots]
    conv_order = combos[:, conv_slot]                                             # [F, convs]
    columns = np.arange(len(convs))
    latency = np.asarray(report.latency_s)[:, conv_order, columns]               # [A, F, convs]
    energy = np.asarray(report.energy_pj)[:, conv_order, columns]
    indices = space_indices(space)

    def objective(op_probs, hw_logits, temperature):
        weights = jnp.concatenate([jnp.ones(len(table.fixed)), op_probs.reshape(-1)[cells]])
        edp = jnp.sum(latency * weights, -1) * jnp.sum(energy * weights, -1)     # [A, F]
        p_accelerator = 1.0
        for i, knob in enumerate(KNOBS):
            p_accelerator *= jax.nn.softmax(hw_logits[knob] / temperature)[indices[:, i]]
        q = jax.nn.softmax(hw_logits["fold_order"] / temperature, axis=-1)
        p_orders = jnp.prod(q[np.arange(len(slots)), combos], axis=-1)
        return jnp.sum(p_accelerator[:, None] * p_orders[None] * edp) / reference.edp_pj_s
    return objective


def test_estimator_is_unbiased_against_brute_force_enumeration():
    reference = cost.reference_metrics(TINY_TABLE, TINY_SPACE)
    model = cost.prepare(TINY_TABLE, TINY_SPACE)
    rng = np.random.default_rng(1)
    logits = {key: jnp.asarray(rng.normal(size=value.shape), jnp.float32)
              for key, value in TINY_SPACE.init_logits(TINY_TABLE).items()}
    probs = jax.nn.softmax(jnp.asarray(rng.normal(size=(1, 2)), jnp.float32))
    temperature = 0.7
    exact, exact_grad = jax.jit(jax.value_and_grad(_brute_force_objective(reference), (0, 1)))(
        probs, logits, temperature)
    enumerated, enumerated_grad = jax.jit(jax.value_and_grad(lambda p, h: model.expected(
        p, h, temperature, objective="edp", reference=reference).objective, (0, 1)))(probs, logits)
    estimate, estimate_grad = jax.jit(jax.value_and_grad(lambda p, h: model.relaxed(
        p, h, jax.random.key(0), temperature, num_samples=5_000, objective="edp",
        reference=reference).objective, (0, 1)))(probs, logits)
    # the exact estimator: its enumeration first computed while the step is traced
    fresh = cost.prepare(TINY_TABLE, TINY_SPACE)
    precomputed, precomputed_grad = jax.jit(jax.value_and_grad(lambda p, h: fresh.relaxed(
        p, h, jax.random.key(0), temperature, objective="edp", reference=reference,
        estimator="exact").objective, (0, 1)))(probs, logits)
    assert float(enumerated) == pytest.approx(float(exact), rel=1e-5)
    assert float(precomputed) == pytest.approx(float(exact), rel=1e-5)
    assert float(estimate) == pytest.approx(float(exact), rel=0.05)
    exact_flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(exact_grad)])
    scale = np.linalg.norm(exact_flat)
    for ours, tolerance in ((enumerated_grad, 1e-4), (precomputed_grad, 1e-4),
                            (estimate_grad, 0.05)):
        for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(exact_grad)):
            assert np.linalg.norm(np.asarray(got) - np.asarray(want)) <= tolerance * scale


def test_reference_is_the_expectation_at_uniform_logits():
    logits = SPACE.init_logits(TABLE)
    probs = jnp.asarray(cost.uniform_op_probs(TABLE))
    expected = _expected_edp(probs, logits, 1.0)
    for field in METRICS:
        assert float(getattr(expected, field)) == pytest.approx(float(getattr(REFERENCE, field)),
                                                                rel=1e-5)
    assert float(expected.objective) == pytest.approx(1.0, rel=1e-5)
    sampled = jax.jit(lambda key: MODEL.relaxed(probs, logits, key, 1.0, num_samples=4000,
                                                objective="edp", reference=REFERENCE))
    assert float(sampled(jax.random.key(7)).objective) == pytest.approx(1.0, rel=0.05)


def test_auto_estimator_is_exact_up_to_the_limit_and_sampled_above(monkeypatch):
    relaxed_module = importlib.import_module("dianjax.cost.relaxed")  # cost.relaxed: the function
    floats = SPACE.num_accelerators * len(FOLD_ORDERS) * MODEL.slot_matrix.shape[0]
    assert MODEL.enumeration_size == floats
    latency, energy, area = MODEL.enumeration
    assert latency.shape == energy.shape == (SPACE.num_accelerators, len(FOLD_ORDERS),
                                             MODEL.slot_matrix.shape[0])
    assert area.shape == (SPACE.num_accelerators,)
    assert MODEL.resolve_estimator("auto") == "exact"
    monkeypatch.setattr(relaxed_module, "EXACT_LIMIT", floats - 1)
    assert MODEL.resolve_estimator("auto") == "sampled"
    assert MODEL.resolve_estimator("exact") == "exact"
    with pytest.raises(ValueError, match=r"estimator must be one of \['auto', 'exact', "):
        MODEL.resolve_estimator("leg")


def test_changing_values_does_not_recompile():
    probs = jnp.asarray(cost.uniform_op_probs(TABLE))
    logits = SPACE.init_logits(TABLE)
    _relaxed_edp(probs, logits, jax.random.key(0), 1.0)
    size = _relaxed_edp._cache_size()
    shifted = jax.tree.map(lambda x: x + 0.5, logits)
    _relaxed_edp(probs * 1.0, shifted, jax.random.key(1), 0.3)
    assert _relaxed_edp._cache_size() == size


# -- Adam on the hardware logits vs exhaustive enumeration ---------------------------------------

OPT_SPACE = HardwareSpace(rows=(4, 8, 16, 32), cols=(4, 8, 16, 32), ifmap_sram_kb=(1, 4, 16),
                          filter_sram_kb=(1, 4, 16), ofmap_sram_kb=(1, 4, 16),
                          dram_bandwidth_words_per_cycle=(1.0, 4.0, 16.0))


def _simulated(report, name, reference):
    metrics = {"latency_s": report.latency_s, "energy_pj": report.energy_pj,
               "area_mm2": report.area_mm2, "edp_pj_s": report.energy_pj * report.latency_s,
               "edap_pj_s_mm2": report.energy_pj * report.latency_s * report.area_mm2}
    return float(cost.objective(name, metrics, reference))


@pytest.mark.parametrize("name, fold_orders", [("edp", ("col_outer",)),
                                               ("latency", FOLD_ORDERS)])
def test_adam_on_hardware_logits_reaches_the_exhaustive_optimum(name, fold_orders):
    space = HardwareSpace(**{**OPT_SPACE.to_dict(), "fold_order": fold_orders})
    op_indices = (1, 3, 0, 2)
    network = TABLE.network(op_indices)
    probs = _one_hot_probs(op_indices)
    model = cost.prepare(TABLE, space)
    reference = cost.reference_metrics(TABLE, space)
    # Exhaustive: every accelerator, and (latency is a sum over layers) the best order per layer.
    arrays = cost.layer_arrays(network)
    per_order = jax.jit(jax.vmap(jax.vmap(lambda acc, order: cost.evaluate(arrays, acc, order),
                                          (None, 0)), (0, None)))
    orders = jnp.asarray([FOLD_ORDERS.index(o) for o in fold_orders])
    report = per_order(cost.space_accelerators(space), orders)                 # [A, U, layers]
    if name == "latency":
        optimum = float(jnp.min(jnp.sum(jnp.min(report.latency_s, axis=1), axis=-1)))
        optimum /= float(reference.latency_s)
    else:
        totals = cost.network_cost(jax.tree.map(lambda x: x[:, 0], report))
        optimum = float(jnp.min(cost.objective(name, totals, reference)))

    optimizer = optax.adam(0.1)

    @jax.jit
    def step(logits, state, key):
        grads = jax.grad(lambda h: model.relaxed(probs, h, key, 1.0, objective=name,
                                                 reference=reference).objective)(logits)
        updates, state = optimizer.update(grads, state, logits)
        return optax.apply_updates(logits, updates), state

    logits = jax.tree.map(jnp.asarray, space.init_logits(TABLE))
    state = optimizer.init(logits)
    for i in range(300):
        logits, state = step(logits, state, jax.random.key(i))
    design = space.discretize(jax.tree.map(np.asarray, logits), TABLE)
    simulated = simulate_network(network, design.accelerator, design.mappings(network, TABLE))
    assert _simulated(simulated, name, reference) <= 1.05 * optimum


# -- objectives and bad inputs ---------------------------------------------------------------------

def test_objective_names_weights_and_normalization():
    reference = cost.Metrics(latency_s=2.0, energy_pj=10.0, area_mm2=4.0, edp_pj_s=20.0,
                             edap_pj_s_mm2=80.0)
    metrics = {"latency_s": 1.0, "energy_pj": 30.0, "area_mm2": 4.0, "edp_pj_s": 30.0,
               "edap_pj_s_mm2": 120.0}
    assert cost.objective("latency", metrics, reference) == pytest.approx(0.5)
    assert cost.objective("energy", metrics, reference) == pytest.approx(3.0)
    assert cost.objective("edap", metrics, reference) == pytest.approx(1.5)
    assert cost.objective({"latency": 1.0, "area": 3.0}, metrics, reference) == pytest.approx(
        (0.5 + 3 * 1.0) / 4)
    for name in cost.OBJECTIVE_METRICS:
        assert cost.objective(name, reference, reference) == pytest.approx(1.0)
    assert cost.objective({"edp": 2.0, "energy": 1.0, "area": 0.0}, reference,
                          reference) == pytest.approx(1.0)


@pytest.mark.parametrize("objective, message", [
    ("speed", r"objective must be one of \['latency', 'energy', 'edp', 'edap', 'area'\]"),
    ({"speed": 1.0}, r"unknown metric\(s\) \['speed'\]"),
    ({"edp": -1.0}, "objective weight 'edp' must be a number >= 0"),
    ({"edp": 0.0}, "positive sum"),
    (3, "objective must be one of"),
])
def test_bad_objectives_raise(objective, message):
    with pytest.raises(ValueError, match=message):
        cost.objective(objective, REFERENCE, REFERENCE)


def test_bad_relaxed_inputs_raise_value_errors_naming_them():
    probs = jnp.asarray(cost.uniform_op_probs(TABLE))
    logits = SPACE.init_logits(TABLE)
    key = jax.random.key(0)
    call = MODEL.relaxed
    with pytest.raises(ValueError, match=r"op_probs must have shape \(num_layers, num_ops\)"):
        call(probs[:, :3], logits, key, 1.0)
    with pytest.raises(ValueError, match="hw_logits must have the keys"):
        call(probs, {k: v for k, v in logits.items() if k != "rows"}, key, 1.0)
    with pytest.raises(ValueError, match=r"hw_logits\['fold_order'\] must have shape"):
        call(probs, {**logits, "fold_order": logits["fold_order"][:2]}, key, 1.0)
    with pytest.raises(ValueError, match="hw_logits must be a dict"):
        call(probs, list(logits.values()), key, 1.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        call(probs, logits, key, 0.0)
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        call(probs, logits, key, 1.0, num_samples=0)
    with pytest.raises(ValueError, match="objective must be one of"):
        call(probs, logits, key, 1.0, objective="throughput", reference=REFERENCE)
    with pytest.raises(ValueError, match="needs a reference"):
        call(probs, logits, key, 1.0, objective="edp")
    with pytest.raises(ValueError, match="table must be a dianjax.nas.search_space.LayerTable"):
        cost.relaxed(TABLE.fixed, probs, logits, key, 1.0, space=SPACE)
    with pytest.raises(ValueError,
                       match="space must be a dianjax.cost.hardware_space.HardwareSpace"):
        cost.relaxed(TABLE, probs, logits, key, 1.0, space=SPACE.to_dict())
