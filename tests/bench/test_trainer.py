"""The table's one compiled program trains exactly the derived network: the hard-mode supernet with
one-hot op weights has the standalone network's logits, batch-norm updates and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax.bench.trainer import _derived_tree
from dianjax.nas.search_space import SearchSpace
from dianjax.nas.supernet import DerivedNetwork, Supernet
from dianjax.train import cross_entropy

# a small space with every kind of op (3x3 and 5x5 depthwise, expansion 1 and 3, skip), strides 1, 2
SPACE = SearchSpace(image_size=6, in_channels=1, num_classes=3, stem_channels=4,
                    stages=((4, 2, 1), (8, 1, 2)), op_names=("mb_k3_e1", "mb_k5_e3", "skip"),
                    head_channels=8)


@pytest.fixture
def supernet_variables():
    images = jnp.zeros((1, SPACE.image_size, SPACE.image_size, SPACE.in_channels))
    weights = jnp.full((SPACE.num_layers, SPACE.num_ops), 1.0 / SPACE.num_ops)
    init = jax.jit(lambda key: Supernet(SPACE, unroll_taps=True).init(key, images, weights,
                                                                      train=False))
    return init(jax.random.key(3))


def test_hard_supernet_step_is_the_derived_networks_step(supernet_variables):
    ops = (1, 2, 0)
    derived = DerivedNetwork(SPACE, ops)
    weights = jax.nn.one_hot(jnp.asarray(ops), SPACE.num_ops)
    images = jax.random.normal(jax.random.key(0), (8, SPACE.image_size, SPACE.image_size,
                                                   SPACE.in_channels))
    labels = jnp.arange(8) % SPACE.num_classes
    supernet = Supernet(SPACE, unroll_taps=True)

    def loss(apply, params, stats):
        logits, updates = apply({"params": params, "batch_stats": stats})
        return jnp.mean(cross_entropy(logits, labels, 0.1)), (logits, updates["batch_stats"])

    full = supernet_variables
    big = jax.jit(jax.grad(lambda p, s: loss(
        lambda v: supernet.apply(v, images, weights, train=True, hard=True,
                                 mutable=["batch_stats"]), p, s), has_aux=True))(
        full["params"], full["batch_stats"])
    cut = {c: _derived_tree(tree, SPACE, ops) for c, tree in full.items()}
    small = jax.jit(jax.grad(lambda p, s: loss(
        lambda v: derived.model.apply(v, images, train=True, mutable=["batch_stats"]), p, s),
        has_aux=True))(cut["params"], cut["batch_stats"])
    (big_grads, (big_logits, big_stats)), (small_grads, (small_logits, small_stats)) = big, small
    np.testing.assert_allclose(big_logits, small_logits, rtol=1e-5, atol=1e-5)
    for got, want in zip(jax.tree.leaves(_derived_tree(big_stats, SPACE, ops)),
                         jax.tree.leaves(small_stats), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    chosen = _derived_tree(big_grads, SPACE, ops)
    assert jax.tree.structure(chosen) == jax.tree.structure(small_grads)
    for got, want in zip(jax.tree.leaves(chosen), jax.tree.leaves(small_grads), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for layer, k in enumerate(ops):  # ops the network does not use: no gradient
        for name, grads in big_grads[f"layer{layer}"].items():
            if name != f"ops_{SPACE.op_names[k]}":
                assert all(not np.any(g) for g in jax.tree.leaves(grads)), (layer, name)
