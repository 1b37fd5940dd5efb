"""Data pipeline: embedded digits, tfds data sources (mocked), splits, augmentation, determinism."""

import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

from dianjax import data


@pytest.fixture(scope="module")
def digits_train():
    return data.load("digits", "train")


def test_digits_splits_are_fixed_and_disjoint(digits_train):
    test = data.load("digits", "test")
    assert (len(digits_train), len(test)) == (1797 - data.DIGITS_NUM_TEST, data.DIGITS_NUM_TEST)
    train_images = {img.tobytes() for img in digits_train.source.images}
    assert len(train_images & {img.tobytes() for img in test.source.images}) < 5  # duplicates only
    np.testing.assert_array_equal(data.load("digits", "test").source.labels, test.source.labels)


def test_digits_normalization_constants_match_the_train_split(digits_train):
    pixels = digits_train.source.images.astype(np.float64) / 255
    info = data.DATASETS["digits"]
    assert pixels.mean() == pytest.approx(info.mean[0], abs=1e-4)
    assert pixels.std() == pytest.approx(info.std[0], abs=1e-4)
    images = np.concatenate([b["image"] for b in digits_train.eval_batches(500)])[:len(digits_train)]
    assert abs(images.mean()) < 1e-3 and images.std() == pytest.approx(1.0, abs=1e-3)


def test_train_batch_shapes_and_determinism(digits_train):
    batch = digits_train.train_batch(5, 32, seed=3)
    assert batch["image"].shape == (32, 8, 8, 1) and batch["image"].dtype == np.float32
    assert batch["label"].shape == (32,) and batch["label"].dtype == np.int32
    assert set(batch["label"]) <= set(range(10))
    again = digits_train.train_batch(5, 32, seed=3)
    for key in batch:
        np.testing.assert_array_equal(batch[key], again[key])
    assert not np.array_equal(batch["image"], digits_train.train_batch(5, 32, seed=4)["image"])
    assert not np.array_equal(batch["image"], digits_train.train_batch(6, 32, seed=3)["image"])


def test_an_epoch_visits_distinct_examples():
    dataset = data.load("digits", "search_val")
    batch_size = 41
    steps = dataset.steps_per_epoch(batch_size)
    labels = np.concatenate([dataset.train_batch(s, batch_size, 0)["label"] for s in range(steps)])
    expected = np.bincount(dataset.source.labels[dataset.indices], minlength=10)
    assert (np.bincount(labels, minlength=10) <= expected).all()
    assert len(labels) == steps * batch_size


@pytest.mark.parametrize("val_fraction", [0.2, 0.5])
def test_search_splits_partition_train(val_fraction):
    train = data.load("digits", "search_train", val_fraction=val_fraction)
    val = data.load("digits", "search_val", val_fraction=val_fraction)
    assert len(val) == round(1437 * val_fraction) and len(train) + len(val) == 1437
    assert not np.intersect1d(train.indices, val.indices).size
    other = data.load("digits", "search_val", val_fraction=val_fraction, split_seed=1)
    assert not np.array_equal(other.indices, val.indices)


def test_eval_batches_cover_every_example_once():
    test = data.load("digits", "test")
    batches = list(test.eval_batches(100))
    assert len(batches) == 4 and all(b["image"].shape == (100, 8, 8, 1) for b in batches)
    assert sum(int(b["mask"].sum()) for b in batches) == 360
    labels = np.concatenate([b["label"][b["mask"]] for b in batches])
    np.testing.assert_array_equal(labels, test.source.labels)


def _pad_crop_flip(images, padding, flip, rng):
    every = np.arange(len(images))
    return data._pad_crop_flip(images, padding, flip, rng, every, len(images))


def test_pad_crop_and_flip():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(64, 5, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_pad_crop_flip(images, 0, False, rng), images)
    flipped = _pad_crop_flip(images, 0, True, rng)
    is_flipped = [np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, images)]
    is_same = [np.array_equal(f, i) for f, i in zip(flipped, images)]
    assert all(a or b for a, b in zip(is_flipped, is_same)) and 16 < sum(is_flipped) < 48
    cropped = _pad_crop_flip(images, 2, False, rng)
    assert cropped.shape == images.shape and not np.array_equal(cropped, images)
    for crop, image in zip(cropped, images):  # every crop is a shifted window of the padded image
        padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
        assert any(np.array_equal(crop, padded[t:t + 5, l:l + 5])
                   for t in range(5) for l in range(5))


def test_pad_crop_flip_gather_equals_the_per_image_loop():
    """The one-gather augmentation against a plain loop over images with the same draws."""
    images = np.random.default_rng(1).integers(0, 255, size=(16, 6, 7, 2), dtype=np.uint8)
    gathered = _pad_crop_flip(images, 3, True, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    tops, lefts = rng.integers(0, 7, size=16), rng.integers(0, 7, size=16)
    flips = rng.random(16) < 0.5
    for image, top, left, flip, out in zip(images, tops, lefts, flips, gathered):
        crop = np.pad(image, ((3, 3), (3, 3), (0, 0)))[top:top + 6, left:left + 7]
        np.testing.assert_array_equal(out, crop[:, ::-1] if flip else crop)
    rows = np.array([2, 3, 9])   # a part of the batch gets the draws of its rows
    part = data._pad_crop_flip(images[rows], 3, True, np.random.default_rng(5), rows, 16)
    np.testing.assert_array_equal(part, gathered[rows])


def test_a_batch_is_the_concatenation_of_its_parts(digits_train):
    whole = digits_train.train_batch(7, 32, seed=2)
    parts = [digits_train.train_batch(7, 32, seed=2, part=(i, 4)) for i in range(4)]
    for key in ("image", "label"):
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), whole[key])
    with pytest.raises(ValueError, match=r"part=\(0, 3\) must be"):
        digits_train.train_batch(7, 32, seed=2, part=(0, 3))


def test_resize_bilinear():
    constant = np.full((7, 9, 3), 100, np.uint8)
    np.testing.assert_allclose(data.resize_bilinear(constant, 4), 100.0, rtol=1e-6)
    ramp = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    np.testing.assert_allclose(data.resize_bilinear(ramp, 4), ramp)
    up = data.resize_bilinear(ramp, 8)
    assert up.shape == (8, 8, 1) and up.min() == 0 and up.max() == 15


@pytest.mark.parametrize("name,shape,classes", [
    ("cifar10", (32, 32, 3), 10), ("cifar100", (32, 32, 3), 100),
    ("imagenet_resized/32x32", (32, 32, 3), 1000), ("imagenet2012", (224, 224, 3), 1000)])
@pytest.mark.parametrize("split", ["train", "test", "search_val"])
def test_tfds_sources_give_normalized_batches(name, shape, classes, split):
    with tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE):
        dataset = data.load(name, split, val_fraction=0.25)
        assert len(dataset) == (6 if split == "search_val" else 24)
        batch = dataset.train_batch(2, 4, seed=0)
        evaluation = next(dataset.eval_batches(5))
        parts = [dataset.train_batch(2, 4, seed=0, part=(i, 2)) for i in range(2)]
        reopened = pickle.loads(pickle.dumps(dataset))   # input workers reopen the source
        again = reopened.train_batch(2, 4, seed=0)
    np.testing.assert_array_equal(np.concatenate([p["image"] for p in parts]), batch["image"])
    np.testing.assert_array_equal(again["image"], batch["image"])
    for b in (batch, evaluation):
        assert b["image"].shape[1:] == shape and b["image"].dtype == np.float32
        assert (0 <= b["label"]).all() and (b["label"] < classes).all()
        info = data.DATASETS[name]
        low = (0 - np.array(info.mean)) / np.array(info.std)
        high = (1 - np.array(info.mean)) / np.array(info.std)
        assert (b["image"] >= low - 1e-5).all() and (b["image"] <= high + 1e-5).all()
    assert evaluation["mask"].all()


def test_missing_tfds_dataset_names_the_prepare_command(tmp_path):
    with pytest.raises(data.DatasetNotPreparedError) as error:
        data.load("cifar100", "train", data_dir=str(tmp_path))
    assert (f"pip install -e '.[prepare]' && tfds build cifar100 --file_format=array_record "
            f"--data_dir={tmp_path}") in str(error.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(name="mnist", split="train"), r"data\.load\.name must be one of \['digits'"),
    (dict(name="digits", split="valid"), r"data\.load\.split must be one of \['train'"),
    (dict(name="digits", split="train", val_fraction=1.0), r"val_fraction must be a number in"),
    (dict(name="digits", split="search_val", val_fraction=1e-5), r"leaves an empty search split"),
])
def test_bad_arguments_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


def test_batch_size_larger_than_split_rejected():
    with pytest.raises(ValueError, match=r"batch_size=400 is larger than the 360 examples"):
        data.load("digits", "test").train_batch(0, 400, seed=0)


def test_prefetch_keeps_order_and_reraises():
    assert list(data.prefetch(iter(range(10)), size=3)) == list(range(10))

    def failing():
        yield 1
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(data.prefetch(failing()))


def test_imagenet100_keeps_100_sampled_classes_relabelled_in_order(tmp_path):
    info = data.DATASETS["imagenet100"]
    classes = data.sampled_classes(info)
    assert len(set(classes)) == 100 and (np.diff(classes) > 0).all() and classes.max() < 1000
    with tfds.testing.mock_data(num_examples=600, policy=tfds.testing.MockPolicy.USE_CODE):
        full = data.load("imagenet2012", "train")
        subset = data.load("imagenet100", "train", decoded_cache=tmp_path)
        search = [data.load("imagenet100", split, val_fraction=0.25, decoded_cache=tmp_path)
                  for split in ("search_train", "search_val")]
        labels = np.array([full.source.source[int(i)]["label"] for i in range(600)])
        batch = subset.train_batch(0, len(subset), seed=0)
    kept = np.flatnonzero(np.isin(labels, classes))
    np.testing.assert_array_equal(subset.indices, kept)   # every record of a kept class, no other
    np.testing.assert_array_equal(np.sort(batch["label"]),
                                  np.sort(np.searchsorted(classes, labels[kept])))
    assert len(list(tmp_path.rglob("train-*.labels.npy"))) == 1     # labels read once, cached
    assert sorted(np.concatenate([s.indices for s in search])) == list(kept)
    assert len(search[1]) == round(0.25 * len(kept))
