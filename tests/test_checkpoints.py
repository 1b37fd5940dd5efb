"""Run directories: the orbax restore of the latest checkpoint and the same-config check."""

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from dianjax.checkpoints import check_same_config, restore_latest, write_config
from dianjax.config import load_config


def test_restore_latest_round_trip(tmp_path):
    state = {"w": jnp.arange(6.0).reshape(2, 3), "step": jnp.int32(0), "b": (jnp.ones(2),)}
    with ocp.CheckpointManager(tmp_path / "checkpoints") as manager:
        unchanged, step = restore_latest(manager, state)  # nothing saved yet
        assert unchanged is state and step == 0
        for step in (1, 2):
            saved = jax.tree.map(lambda x: x + step, state)
            manager.save(step, args=ocp.args.StandardSave(saved))
        manager.wait_until_finished()
    with ocp.CheckpointManager(tmp_path / "checkpoints") as manager:
        restored, step = restore_latest(manager, state)
    assert step == 2
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(saved)):
        assert got.dtype == want.dtype and got.sharding == want.sharding
        np.testing.assert_array_equal(got, want)


def test_a_workdir_of_another_config_is_refused_naming_the_changed_keys(tmp_path):
    config = load_config("quickstart")
    check_same_config(config, tmp_path)  # no config.json yet: a new run
    write_config(config, tmp_path)
    check_same_config(load_config("quickstart"), tmp_path)  # the same config resumes
    other = load_config("quickstart", ["search.steps=7", "seed=3"])
    with pytest.raises(ValueError,
                       match=r"different config \(changed: \['search\.steps', 'seed'\]\)"):
        check_same_config(other, tmp_path)


def test_plain_dicts_and_other_file_names(tmp_path):
    saved = {"from": "/runs/a", "config": {"train": {"num_epochs": 5}, "shape": (1, 2)}}
    write_config(saved, tmp_path, "refine_config.json")
    check_same_config(saved, tmp_path, "refine_config.json")  # tuples compare as JSON lists
    changed = {"from": "/runs/b", "config": {"train": {"num_epochs": 6}, "shape": (1, 2)}}
    with pytest.raises(ValueError, match=r"\['config\.train\.num_epochs', 'from'\]"):
        check_same_config(changed, tmp_path, "refine_config.json")
