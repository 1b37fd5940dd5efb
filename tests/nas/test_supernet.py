"""Supernet ops and modes, derived networks: Flax parameters and MACs against the sim layer table."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dianjax import train
from dianjax.nas import gumbel
from dianjax.nas.search_space import OPS, LayerSlot, SearchSpace, cifar_space, quickstart_space
from dianjax.nas.supernet import (BN_MOMENTUM, DerivedNetwork, Supernet, derive, init_supernet,
                                  make_op)

SLOTS = {"same": LayerSlot(0, 0, 4, 4, 1, 6), "down": LayerSlot(1, 1, 4, 8, 2, 5)}


def test_skip_needs_stride_one_and_equal_widths():
    with pytest.raises(ValueError, match="op 'skip' is not available at layer 1"):
        make_op(SLOTS["down"], "skip")


@pytest.mark.parametrize("slot_name", ["same", "down"])
def test_every_op_runs_forward_and_backward(slot_name):
    slot = SLOTS[slot_name]
    names = [name for name in OPS if name != "skip" or slot.allows_skip]
    modules = {name: make_op(slot, name) for name in names}
    x = jax.random.normal(jax.random.key(0), (2, slot.in_size, slot.in_size, slot.in_channels))
    variables = {name: m.init(jax.random.key(1), x, train=False) for name, m in modules.items()}

    @jax.jit
    def run(params, x):  # every op's loss, output and gradients, in one compilation
        def loss(p, x, name):
            y, _ = modules[name].apply({**variables[name], "params": p}, x, train=True,
                                       mutable=["batch_stats"])
            return jnp.sum(y ** 2), y
        return {name: jax.value_and_grad(loss, (0, 1), has_aux=True)(params[name], x, name)
                for name in names}

    results = run({name: v.get("params", {}) for name, v in variables.items()}, x)
    for name, ((value, y), (grads, x_grad)) in results.items():
        assert y.shape == (2, slot.out_size, slot.out_size, slot.out_channels), name
        assert np.isfinite(value) and np.abs(x_grad).sum() > 0, name
        assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads)), name
        assert (name == "skip") == (not jax.tree.leaves(grads))


# Small enough to compile fast, with every kind of layer: skip allowed or not, e1 and e3, stride 2.
SMALL = SearchSpace(image_size=6, in_channels=1, num_classes=3, stem_channels=4,
                    stages=((4, 2, 1), (8, 1, 2)), op_names=("mb_k3_e1", "mb_k5_e3", "skip"),
                    head_channels=8)


def _space_and_variables():
    return SMALL, init_supernet(jax.random.key(0), SMALL)


def test_init_compiled_faster_gives_the_same_bits_as_the_default_compilation():
    space = quickstart_space()
    if jax.default_backend() != "cpu":
        pytest.skip("the lower optimization level is used on CPU only")
    variables = init_supernet(jax.random.key(5), space, batch_size=2)
    images = jnp.zeros((2, space.image_size, space.image_size, space.in_channels))
    weights = jnp.full((space.num_layers, space.num_ops), 1.0 / space.num_ops)
    default = jax.jit(functools.partial(Supernet(space).init, train=False))(
        jax.random.key(5), images, weights)
    assert jax.tree.structure(variables) == jax.tree.structure(dict(default))
    for ours, theirs in zip(jax.tree.leaves(variables), jax.tree.leaves(dict(default))):
        np.testing.assert_array_equal(ours, theirs)


def test_init_runs_under_a_trace():
    """Compiler options are refused on a jit inside another trace (checkpoint restores take the
    variables' shapes from ``jax.eval_shape``)."""
    shapes = jax.eval_shape(lambda key: init_supernet(key, SMALL), jax.random.key(0))
    variables = init_supernet(jax.random.key(0), SMALL)
    assert jax.tree.map(lambda a: (a.shape, a.dtype), shapes) == jax.tree.map(
        lambda a: (a.shape, a.dtype), variables)


def _images(space, batch=6):
    return jax.random.normal(jax.random.key(7), (batch, space.image_size, space.image_size,
                                                 space.in_channels))


@pytest.mark.parametrize("hard", [False, True])
def test_supernet_forward_backward_shapes(hard):
    space, variables = _space_and_variables()
    logits = jax.random.normal(jax.random.key(3), (space.num_layers, space.num_ops))

    def loss(params, arch_logits):
        weights = gumbel.gumbel_softmax(jax.random.key(5), arch_logits, 1.0, hard=hard,
                                       mask=space.op_mask())
        out, _ = Supernet(space).apply({**variables, "params": params}, _images(space), weights,
                                       train=True, hard=hard, mutable=["batch_stats"])
        return jnp.mean(out ** 2), out

    (_, out), (grads, arch_grad) = jax.jit(jax.value_and_grad(loss, (0, 1), has_aux=True))(
        variables["params"], logits)
    assert out.shape == (6, space.num_classes)
    assert arch_grad.shape == logits.shape and np.abs(arch_grad).sum() > 0
    assert np.isfinite(arch_grad).all() and (np.asarray(arch_grad)[~space.op_mask()] == 0).all()
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def test_hard_and_soft_modes_share_variables():
    space = SMALL
    images = _images(space, 1)
    weights = jnp.full((space.num_layers, space.num_ops), 1.0 / space.num_ops)
    soft = Supernet(space).init(jax.random.key(0), images, weights, train=False)
    hard = Supernet(space).init(jax.random.key(0), images, weights, train=False, hard=True)
    assert jax.tree.structure(soft) == jax.tree.structure(hard)
    for a, b in zip(jax.tree.leaves(soft), jax.tree.leaves(hard)):
        np.testing.assert_array_equal(a, b)


def test_hard_and_soft_agree_on_one_hot_weights():
    space, variables = _space_and_variables()
    mask = space.op_mask()
    chosen = np.array([2, 1, 0])  # skip, MBConvs with and without expansion, both kernels
    weights = jax.nn.one_hot(chosen, space.num_ops)

    def run(params, hard):
        out, state = Supernet(space).apply({**variables, "params": params}, _images(space),
                                           weights, train=True, hard=hard, mutable=["batch_stats"])
        return jnp.sum(out * jnp.arange(space.num_classes)), (out, state["batch_stats"])

    results = {hard: jax.jit(jax.value_and_grad(run, has_aux=True), static_argnums=1)(
        variables["params"], hard) for hard in (False, True)}
    (_, (out_soft, stats_soft)), grads_soft = results[False]
    (_, (out_hard, stats_hard)), grads_hard = results[True]
    np.testing.assert_allclose(out_hard, out_soft, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(grads_soft), jax.tree.leaves(grads_hard)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    old = variables["batch_stats"]
    for layer in range(space.num_layers):
        for k, name in enumerate(space.op_names):
            key = f"ops_{name}"
            if name == "skip" or not mask[layer, k]:
                continue
            hard_op, soft_op = stats_hard[f"layer{layer}"][key], stats_soft[f"layer{layer}"][key]
            before = old[f"layer{layer}"][key]
            for a, b, c in zip(jax.tree.leaves(hard_op), jax.tree.leaves(soft_op),
                               jax.tree.leaves(before)):
                if k == chosen[layer]:  # the executed op updates its statistics in both modes
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
                    assert not np.allclose(a, c)
                else:  # hard mode leaves the other ops' statistics untouched
                    np.testing.assert_array_equal(a, c)


def test_supernet_rejects_wrong_image_shape():
    space, variables = _space_and_variables()
    weights = jnp.ones((space.num_layers, space.num_ops))
    with pytest.raises(ValueError, match=r"images must have shape \[batch, 6, 6, 1\]"):
        Supernet(space).apply(variables, jnp.zeros((2, 8, 8, 1)), weights, train=False)


def test_derive_takes_argmax_over_available_ops():
    space = quickstart_space()
    logits = np.zeros((space.num_layers, space.num_ops))
    logits[:, space.op_index("skip")] = 10.0  # skip is unavailable at layer 2 (8 -> 16, stride 2)
    logits[2, space.op_index("mb_k5_e3")] = 1.0
    derived = derive(space, logits)
    assert derived.op_names == ("skip", "skip", "mb_k5_e3", "skip")
    with pytest.raises(ValueError, match=r"arch_logits must have shape"):
        derive(space, logits[:2])
    with pytest.raises(ValueError, match=r"op_indices\[2\]=4 is not an available op"):
        DerivedNetwork(space, (0, 0, 4, 0))
    with pytest.raises(ValueError, match=r"op name must be one of"):
        DerivedNetwork.from_op_names(space, ("mb_k7_e6",) * 4)


def _flax_conv_macs(model, images):
    """Per conv/dense call of ``model``: MACs from the shapes Flax actually computes."""
    records = []

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        module = context.module
        if context.method_name == "__call__" and isinstance(module, (nn.Conv, nn.Dense)):
            x = args[0]
            if isinstance(module, nn.Dense):
                records.append(out.size * x.shape[-1])
            else:
                kernel = np.prod(module.kernel_size)
                records.append(out.size * (x.shape[-1] // module.feature_group_count) * kernel)
        return out

    with nn.intercept_methods(interceptor):
        variables = jax.eval_shape(lambda: model.init(jax.random.key(0), images, train=False))
    return records, variables


@pytest.mark.parametrize("space_name,seed", [("quickstart", 0), ("quickstart", 1),
                                             ("quickstart", 2), ("cifar", 0)])
def test_derived_flax_params_and_macs_match_sim(space_name, seed):
    space = quickstart_space() if space_name == "quickstart" else cifar_space()
    logits = np.random.default_rng(seed).normal(size=(space.num_layers, space.num_ops))
    derived = derive(space, logits)
    batch = 2
    images = jnp.zeros((batch, space.image_size, space.image_size, space.in_channels))
    macs, variables = _flax_conv_macs(derived.model, images)
    network = derived.network(batch=batch)
    assert macs == [layer.macs for layer in network]
    kernels = [leaf.size for path, leaf in jax.tree_util.tree_leaves_with_path(variables["params"])
               if path[-1].key == "kernel"]
    assert sum(kernels) == network.filter_words == derived.network().filter_words
    assert sorted(kernels) == sorted(layer.filter_words for layer in network)
    biases_and_bn = sum(leaf.size for leaf in jax.tree.leaves(variables["params"])) - sum(kernels)
    bn_channels = sum(layer.M for layer in network.layers[:-1])
    assert biases_and_bn == 2 * bn_channels + space.num_classes


def test_derived_model_trains_with_sgd_in_train_mode():
    space = SearchSpace(image_size=6, in_channels=3, num_classes=3, stem_channels=4,
                        stages=((4, 1, 1), (6, 1, 2)), head_channels=8)
    model = DerivedNetwork.from_op_names(space, ("skip", "mb_k7_e6")).model
    batch = {"image": jax.random.normal(jax.random.key(0), (8, 6, 6, 3)),
             "label": jnp.arange(8) % 3}
    state = train.create_train_state(jax.random.key(1), model, (6, 6, 3), optax.sgd(0.1))
    step = jax.jit(functools.partial(train.train_step, label_smoothing=0.0))

    def loss(params):  # in train mode batch norm uses the batch's statistics, not the running ones
        logits, _ = model.apply({"params": params, "batch_stats": state.batch_stats},
                                batch["image"], train=True, mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

    first, _ = step(state, batch)
    grads = jax.grad(loss)(state.params)
    for before, after, grad in zip(*map(jax.tree.leaves, (state.params, first.params, grads))):
        assert not np.array_equal(before, after)
        np.testing.assert_allclose(after, before - 0.1 * grad, rtol=1e-5, atol=1e-7)
    # The stem's running statistics move 1 - momentum of the way to its conv output's batch moments.
    conv = jax.lax.conv_general_dilated(batch["image"], state.params["stem"]["conv"]["kernel"],
                                        (1, 1), ((1, 1), (1, 1)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    stats, rate = first.batch_stats["stem"]["bn"], 1 - BN_MOMENTUM
    np.testing.assert_allclose(stats["mean"], rate * conv.mean((0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats["var"], 1 - rate + rate * conv.var((0, 1, 2)), rtol=1e-4)
    for before, after in zip(*map(jax.tree.leaves, (state.batch_stats, first.batch_stats))):
        assert not np.array_equal(before, after)  # every layer's statistics moved
    trained = first
    for _ in range(9):
        trained, _ = step(trained, batch)
    assert float(loss(trained.params)) < 0.8 * float(loss(state.params))  # 1.29 -> 0.78
