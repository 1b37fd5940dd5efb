"""Data parallelism: mesh helpers, and a 2-device training step equal to the 1-device step."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax import parallel


def test_single_device_mesh_and_shardings():
    mesh = parallel.make_mesh(jax.devices()[:1])
    assert mesh.axis_names == (parallel.DATA_AXIS,) and mesh.devices.size == 1
    batch = parallel.shard_batch({"x": np.ones((4, 3))}, mesh)
    assert batch["x"].sharding.spec == parallel.batch_sharding(mesh).spec
    tree = parallel.replicate({"w": jnp.ones(3)}, mesh)
    assert tree["w"].sharding.is_fully_replicated


def test_empty_device_list_rejected():
    with pytest.raises(ValueError, match="at least one device"):
        parallel.make_mesh([])


_TWO_DEVICES = textwrap.dedent("""
    import functools, jax, jax.numpy as jnp, numpy as np
    from dianjax import data, parallel
    from dianjax.nas.search_space import quickstart_space
    from dianjax.nas.supernet import DerivedNetwork
    from dianjax.train import create_train_state, make_optimizer, train_step

    assert len(jax.devices()) == 2, jax.devices()
    with np.testing.assert_raises_regex(ValueError, "batch_size=5 must be divisible by the number"):
        parallel.check_batch_size(5, parallel.make_mesh())
    derived = DerivedNetwork.from_op_names(quickstart_space(),
                                           ("mb_k3_e3", "skip", "mb_k5_e1", "mb_k3_e3"))
    tx, _ = make_optimizer(0.1, 0.9, True, 5e-4, total_steps=10)
    step = jax.jit(functools.partial(train_step, label_smoothing=0.1))
    dataset = data.load("digits", "train")
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        mesh = parallel.make_mesh(devices)
        state = parallel.replicate(
            create_train_state(jax.random.key(0), derived.model, (8, 8, 1), tx), mesh)
        for s in range(3):
            batch = parallel.shard_batch(dataset.train_batch(s, 16, seed=0), mesh)
            state, metrics = step(state, batch)
        assert len(state.params["stem"]["conv"]["kernel"].sharding.device_set) == len(devices)
        results.append((jax.device_get(state.params), jax.device_get(state.batch_stats),
                        {k: float(v) for k, v in metrics.items()}))
    (p1, s1, m1), (p2, s2, m2) = results
    for a, b in zip(jax.tree.leaves((p1, s1)), jax.tree.leaves((p2, s2))):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    assert abs(m1["loss"] - m2["loss"]) < 1e-5 and m1["accuracy"] == m2["accuracy"], (m1, m2)
    print("OK", m1, m2)
""")


def test_two_device_step_equals_one_device_step():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", _TWO_DEVICES], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK" in result.stdout
