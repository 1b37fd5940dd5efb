"""Benchmark table build: enumeration, shards, resume after a crash, merge, load, and the trainer
against dianjax's own final-training step."""

import dataclasses
import json

import numpy as np
import pytest

from dianjax.bench import build, load, networks, recipe
from dianjax.bench.table import BenchTable
from dianjax.nas.search_space import get_space
from dianjax.nas.supernet import DerivedNetwork


def test_quickstart_space_has_500_valid_networks_and_shards_partition_them():
    space = get_space("quickstart")
    rows = networks.enumerate_networks(space)
    assert rows.shape == (500, 4) and len({tuple(r) for r in rows}) == 500  # 5 * 5 * 4 * 5
    for row in rows[::37]:
        DerivedNetwork(space, tuple(row))  # every row is a valid network
    shards = [networks.shard_indices(500, k, 3) for k in (1, 2, 3)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(500))


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/2/3"])
def test_bad_shard_is_refused(text):
    with pytest.raises(ValueError, match="--shard must be K/N"):
        networks.parse_shard(text)


def test_recipe_errors_name_the_field():
    with pytest.raises(ValueError, match=r"recipe.dataset must be one of"):
        recipe.Recipe(dataset="mnist", space="quickstart", num_epochs=1)
    with pytest.raises(ValueError, match=r"recipe.seeds must be distinct"):
        recipe.Recipe(dataset="digits", space="quickstart", num_epochs=1, seeds=(0, 0))
    with pytest.raises(ValueError, match=r"bench.table must be one of"):
        recipe.get_recipe("nope")


SUBSET = np.array([[0, 0, 0], [2, 2, 1], [1, 1, 0]])  # three networks stand for the space


@pytest.fixture()
def tiny(tiny_recipe, monkeypatch):
    monkeypatch.setattr(build, "enumerate_networks", lambda space: SUBSET)
    return tiny_recipe


def test_build_resumes_after_a_crash_and_merges(tiny, tmp_path):
    (path,) = build.build_shard(tiny, tmp_path, (1, 1), limit=2, progress=False)
    lines = path.read_text().splitlines()
    assert len(lines) == 3  # header + 2 networks
    with pytest.raises(ValueError, match="incomplete: 1 of 3 networks missing"):
        build.merge(tmp_path, tiny)
    path.write_text("\n".join(lines) + '\n{"network": 2, "op_ind')  # a write torn by a crash
    build.build_shard(tiny, tmp_path, (1, 1), progress=False)
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert [r["network"] for r in rows] == [0, 1, 2]
    assert rows[:2] == [json.loads(line) for line in lines[1:]]  # finished rows kept as they were
    table = build.merge(tmp_path, tiny)
    assert table.val_accuracy.shape == (3, 2) and table.recipe == recipe.get_recipe(tiny)
    assert table.row(1)["ops"] == ["skip", "skip", "mb_k5_e3"]
    assert ((table.val_accuracy >= 0) & (table.val_accuracy <= 1)).all()  # 1 epoch: near chance
    assert table.num_params[1] < table.num_params[2] and table.macs[1] < table.macs[2]
    saved = tmp_path / "tiny.json"
    table.save(saved)
    again = load(saved)
    np.testing.assert_array_equal(again.val_accuracy, table.val_accuracy)
    assert again.index(["skip", "skip", "mb_k5_e3"]) == 1
    with pytest.raises(ValueError, match="is not a row of table"):
        again.index(["skip"] * 3)


def test_a_build_with_another_recipe_is_refused(tiny, tmp_path, monkeypatch):
    build.build_shard(tiny, tmp_path, (2, 3), limit=0, progress=False)
    build.build_shard(tiny, tmp_path, (2, 3), limit=1, progress=False)
    monkeypatch.setitem(recipe.TABLES, "tiny",
                        dataclasses.replace(recipe.get_recipe(tiny), num_epochs=2))
    with pytest.raises(ValueError, match="another recipe"):
        build.build_shard(tiny, tmp_path, (2, 3), progress=False)
    with pytest.raises(ValueError, match="built with another recipe"):
        build.collect(tmp_path, tiny)


def test_separability_of_a_hand_made_table():
    values = np.array([[0.90, 0.92], [0.80, 0.82], [0.70, 0.72]])
    table = BenchTable(name="t", recipe=recipe.get_recipe("quickstart_digits"), op_names=(),
                       networks=np.zeros((3, 0), int), num_params=np.zeros(3), macs=np.zeros(3), val_accuracy=values,
                       test_accuracy=values, wall_s=np.ones(3), machine="")
    s = table.separability()
    assert s["between_network_sd"] == pytest.approx(0.1)
    assert s["median_seed_sd"] == pytest.approx(np.sqrt(2) * 0.01)
    assert s["ratio"] == pytest.approx(0.1 / 0.01)


def test_seeds_added_to_the_recipe_are_built_as_their_own_group(tiny, tmp_path, monkeypatch):
    """A table built with seeds (0, 1) whose recipe then asks for (0, 1, 2) trains seed 2 only,
    into its own files; rows are complete once every seed is built, in the recipe's order, with
    the groups' wall times summed; the first seeds' results are untouched."""
    (base,) = build.build_shard(tiny, tmp_path, (1, 1), progress=False)
    before = build.merge(tmp_path, tiny)
    wider = dataclasses.replace(recipe.get_recipe(tiny), seeds=(0, 1, 2))
    monkeypatch.setitem(recipe.TABLES, "tiny", wider)
    assert build.collect(tmp_path, tiny)[1] == {}  # no row has seed 2 yet
    paths = build.build_shard(tiny, tmp_path, (1, 2), progress=False)  # another sharding
    assert paths == [base.parent / "shard-1-of-2.jsonl", base.parent / "shard-1-of-2.seeds-2.jsonl"]
    assert not paths[0].exists()  # seeds 0 and 1 of shard 1/2 are all in the 1/1 file
    assert sorted(build.collect(tmp_path, tiny)[1]) == [0, 2]  # shard 1 of 2: networks 0 and 2
    build.build_shard(tiny, tmp_path, (2, 2), progress=False)
    after = build.merge(tmp_path, tiny)
    assert after.val_accuracy.shape == (3, 3) and after.recipe == wider
    np.testing.assert_array_equal(after.val_accuracy[:, :2], before.val_accuracy)
    extra = [json.loads(line) for p in sorted(base.parent.glob("*.seeds-2.jsonl"))
             for line in p.read_text().splitlines()[1:]]
    for row in extra:
        n = row["network"]
        assert after.val_accuracy[n, 2] == row["val_accuracy"][0]
        assert after.wall_s[n] == pytest.approx(before.wall_s[n] + row["wall_s"])
