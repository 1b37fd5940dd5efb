"""The grain input pipeline: the batches of the synchronous loader, in order, from any worker count,
resumed at any step; the decoded cache; worker-count validation; multi-host environment parsing."""

import os
import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

from dianjax import data, distributed, input_pipeline, parallel


@pytest.fixture(scope="module")
def digits_train():
    return data.load("digits", "search_train")


def _assert_same(batches, expected):
    batches = list(batches)
    assert len(batches) == len(expected)
    for got, want in zip(batches, expected):
        for key in ("image", "label"):
            np.testing.assert_array_equal(np.asarray(got[key]), want[key])
            assert np.asarray(got[key]).dtype == want[key].dtype


def test_device_batches_equal_the_synchronous_batches_across_an_epoch(digits_train):
    steps = digits_train.steps_per_epoch(200)   # 3 steps an epoch: the range crosses epochs
    mesh = parallel.make_mesh()
    expected = [digits_train.train_batch(s, 200, 1) for s in range(steps - 1, steps + 4)]
    with input_pipeline.device_batches(digits_train, 200, 1, steps - 1, steps + 4, mesh) as got:
        _assert_same(got, expected)


def test_worker_processes_give_the_same_raw_batches_in_order(digits_train):
    expected = [digits_train.raw_batch(s, 64, 5) for s in range(7, 19)]
    assert expected[0]["image"].dtype == np.uint8
    with input_pipeline.host_batches(digits_train, 64, 5, 7, 19, workers=2) as got:
        _assert_same(got, expected)


def test_host_shares_concatenate_to_the_global_batch(digits_train):
    shares = []
    for host in range(2):
        with input_pipeline.host_batches(digits_train, 64, 0, 3, 6, part=(host, 2)) as batches:
            shares.append(list(batches))
    for step, first, second in zip(range(3, 6), *shares):
        whole = digits_train.raw_batch(step, 64, 0)
        np.testing.assert_array_equal(np.concatenate([first["image"], second["image"]]),
                                      whole["image"])
    with pytest.raises(ValueError, match="divisible by the number of hosts"), \
            input_pipeline.host_batches(digits_train, 63, 0, 0, 2, part=(0, 2)):
        pass


def test_device_normalizer_is_the_host_normalization():
    mesh = parallel.make_mesh()
    for name in ("digits", "cifar10", "imagenet2012"):
        info = data.DATASETS[name]
        images = np.random.default_rng(0).integers(0, 256, (4, 3, 3, info.channels), np.uint8)
        batch = parallel.shard_batch({"image": images, "label": np.zeros(4, np.int32)}, mesh)
        out = input_pipeline.device_normalizer(info, mesh)(batch)["image"]
        expected = ((images.astype(np.float32) / 255.0 - np.asarray(info.mean, np.float32))
                    / np.asarray(info.std, np.float32))
        np.testing.assert_array_equal(np.asarray(out), expected)
        np.testing.assert_array_equal(data.normalize(images, info), expected)


def test_decoded_cache_gives_the_same_batches_and_is_built_once(tmp_path):
    with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
        plain = data.load("cifar10", "search_train", val_fraction=0.25)
        cached = data.load("cifar10", "search_train", val_fraction=0.25, decoded_cache=tmp_path)
        files = sorted(tmp_path.rglob("*.npy"))
        stamps = [f.stat().st_mtime_ns for f in files]
        again = data.load("cifar10", "search_train", val_fraction=0.25, decoded_cache=tmp_path)
        test = data.load("cifar10", "test", decoded_cache=tmp_path)
        for step in (0, 3):
            _assert_same([cached.train_batch(step, 8, 2), again.train_batch(step, 8, 2)],
                         [plain.train_batch(step, 8, 2)] * 2)
        _assert_same(cached.eval_batches(7), list(plain.eval_batches(7)))
    assert [f.name.split("-")[0] for f in files] == ["train", "train"]   # images + labels
    assert [f.stat().st_mtime_ns for f in files] == stamps               # not rebuilt
    assert len(list(tmp_path.rglob("test-*.images.npy"))) == 1
    assert len(test) == 40 and not list(tmp_path.rglob("*tmp*"))
    assert len(pickle.dumps(cached)) < 5_000   # workers map the file; the images do not travel


def test_no_decoded_cache_for_embedded_or_variable_size_data(tmp_path):
    assert isinstance(data.load("digits", "train", decoded_cache=tmp_path).source,
                      data._ArraySource)
    with tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE):
        imagenet = data.load("imagenet2012", "train", decoded_cache=tmp_path)
    assert isinstance(imagenet.source, data._TfdsSource) and not list(tmp_path.iterdir())


def test_decoded_cache_config_values(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.resolve_decoded_cache("") == tmp_path / "dianjax" / "decoded"
    assert data.resolve_decoded_cache("off") is None
    assert data.resolve_decoded_cache("~/x") == data.Path("~/x").expanduser()


@pytest.mark.parametrize("value", [-2, 1.5, "2", True])
def test_workers_are_validated_with_the_field_named(value):
    with pytest.raises(ValueError, match=r"config\.data\.workers must be an integer >= 0 or -1"):
        input_pipeline.resolve_workers("config", "data.workers", value)


def test_auto_workers_leave_a_core_to_the_main_process():
    cores = len(os.sched_getaffinity(0))
    assert input_pipeline.resolve_workers("c", "w", -1) == max(1, cores - 1)
    assert input_pipeline.resolve_workers("c", "w", 3) == 3


@pytest.mark.parametrize("environ,expected", [
    ({}, None),
    ({"SLURM_NTASKS": "1"}, None),
    ({"SLURM_NTASKS": "4"}, {}),
    ({"TPU_WORKER_HOSTNAMES": "a"}, None),
    ({"TPU_WORKER_HOSTNAMES": "a,b"}, {}),
    ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"},
     {"coordinator_address": "h:1", "num_processes": 2, "process_id": 1}),
])
def test_cluster_request_from_the_environment(environ, expected):
    assert distributed.cluster_request(environ) == expected


@pytest.mark.parametrize("environ,message", [
    ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_PROCESS_ID": "0"}, r"JAX_NUM_PROCESSES=''"),
    ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2"}, r"JAX_PROCESS_ID=''"),
    ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "2"},
     r"JAX_PROCESS_ID='2'.*allowed: an integer in \[0, 1\]"),
])
def test_an_incomplete_cluster_environment_is_refused_with_the_variable_named(environ, message):
    with pytest.raises(ValueError, match=message):
        distributed.cluster_request(environ)
