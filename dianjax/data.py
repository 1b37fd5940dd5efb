"""Image classification data: the embedded digits set and tensorflow-datasets via ``tfds.data_source``.

Every data set is read by random access (no TensorFlow at training time) and batched in numpy. A batch
is ``{"image": float32[B, H, W, C] (NHWC, normalized per channel), "label": int32[B]}``; evaluation
batches add ``"mask": bool[B]`` (False on the padding of the last batch).

Determinism: a training batch is a pure function of ``(seed, step)``: epoch ``e = step //
steps_per_epoch`` visits the examples in the order of a permutation drawn from ``(seed, e)``, and the
augmentation of step ``s`` draws from ``(seed, s)``. A resumed run therefore continues at step ``k``
bit-exactly without replaying steps ``0..k-1``.

Splits: ``"train"`` and ``"test"`` are the data set's own (``"test"`` is ImageNet's validation set);
``"search_train"`` and ``"search_val"`` partition ``"train"`` (a fraction ``val_fraction`` held out,
drawn from ``split_seed``) for the bilevel search: weights on one, architecture on the other.

Augmentation (training batches only): pad-``crop_padding`` random crop (zero padding) and, where the
data set allows it, horizontal flip (never for digits); ImageNet at 224x224 uses Inception-style random
resized crops for training and a central crop (87.5% of the shorter side) for evaluation, resized
bilinearly in numpy. Pixel values are scaled to [0, 1] and normalized with the data set's channel mean
and standard deviation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from sim import checks

SPLITS = ("train", "test", "search_train", "search_val")

DIGITS_NUM_TEST = 360  # held-out digits images, drawn with DIGITS_SPLIT_SEED
DIGITS_SPLIT_SEED = 0


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts of a data set: shapes, classes, normalization and augmentation policy."""

    name: str
    image_size: int
    channels: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int
    flip: bool
    tfds_name: str | None  # None: embedded, no tfds
    tfds_test_split: str = "test"
    resized_crop: bool = False  # variable-size source images: Inception crop + bilinear resize


DATASETS: dict[str, DatasetInfo] = {
    # sklearn's 8x8 handwritten digits; mean/std of the fixed train split (tests check them).
    "digits": DatasetInfo("digits", 8, 1, 10, (0.3049,), (0.3757,), crop_padding=1, flip=False,
                          tfds_name=None),
    "cifar10": DatasetInfo("cifar10", 32, 3, 10, (0.4914, 0.4822, 0.4465),
                           (0.2470, 0.2435, 0.2616), crop_padding=4, flip=True,
                           tfds_name="cifar10"),
    "cifar100": DatasetInfo("cifar100", 32, 3, 100, (0.5071, 0.4865, 0.4409),
                            (0.2673, 0.2564, 0.2762), crop_padding=4, flip=True,
                            tfds_name="cifar100"),
    "imagenet2012": DatasetInfo("imagenet2012", 224, 3, 1000, (0.485, 0.456, 0.406),
                                (0.229, 0.224, 0.225), crop_padding=0, flip=True,
                                tfds_name="imagenet2012", tfds_test_split="validation",
                                resized_crop=True),
    **{f"imagenet_resized/{size}x{size}": DatasetInfo(
        f"imagenet_resized/{size}x{size}", size, 3, 1000, (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225), crop_padding=size // 8, flip=True,
        tfds_name=f"imagenet_resized/{size}x{size}", tfds_test_split="validation")
       for size in (32, 64)},
}


class DatasetNotPreparedError(FileNotFoundError):
    """A tensorflow-datasets data set is not prepared (in array_record format) in the data dir."""


class _Source(Protocol):
    def __len__(self) -> int: ...

    def read(self, indices: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]: ...


@dataclasses.dataclass(frozen=True, eq=False)
class _ArraySource:
    """In-memory uint8 images [N, H, W, C] and integer labels [N]."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, indices):
        return list(self.images[indices]), self.labels[indices]


@dataclasses.dataclass(frozen=True, eq=False)
class _TfdsSource:
    """A ``tfds.data_source`` (records ``{"image": uint8[H, W, C], "label": int}``)."""

    source: object

    def __len__(self) -> int:
        return len(self.source)

    def read(self, indices):
        records = [self.source[int(i)] for i in indices]
        return ([np.asarray(r["image"]) for r in records],
                np.array([r["label"] for r in records], dtype=np.int64))


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships the data inside the package: no download

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, digits.target.astype(np.int64)


def _digits_source(split: str) -> _ArraySource:
    images, labels = _digits_arrays()
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    chosen = order[:DIGITS_NUM_TEST] if split == "test" else order[DIGITS_NUM_TEST:]
    return _ArraySource(images[chosen], labels[chosen])


def prepare_command(name: str, data_dir: str | None = None) -> str:
    """The shell command that prepares tfds data set ``name`` for ``tfds.data_source``."""
    command = f"pip install -e '.[prepare]' && tfds build {name} --file_format=array_record"
    return command + (f" --data_dir={data_dir}" if data_dir else "")


def _tfds_source(info: DatasetInfo, split: str, data_dir: str | None) -> _TfdsSource:
    import tensorflow_datasets as tfds

    tfds_split = info.tfds_test_split if split == "test" else "train"
    try:
        source = tfds.data_source(info.tfds_name, split=tfds_split, data_dir=data_dir,
                                  download=False)
    except (NotImplementedError, FileNotFoundError, AssertionError, KeyError) as error:
        where = data_dir or "the default tfds data dir (TFDS_DATA_DIR or ~/tensorflow_datasets)"
        raise DatasetNotPreparedError(
            f"data set {info.name!r} is not prepared in array_record format in {where}; prepare it "
            f"once with:\n  {prepare_command(info.tfds_name, data_dir)}\n(tfds said: {error})"
        ) from None
    return _TfdsSource(source)


@functools.lru_cache(maxsize=4)
def _permutation(size: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(size)


def _search_indices(size: int, split: str, val_fraction: float, split_seed: int) -> np.ndarray:
    order = _permutation(size, split_seed, 0x5EA2C4)  # a stream apart from any training epoch
    num_val = int(round(size * val_fraction))
    if not 0 < num_val < size:
        raise ValueError(f"val_fraction={val_fraction} leaves an empty search split of the "
                         f"{size} training examples; allowed: 0 < val_fraction < 1 with both parts "
                         "non-empty")
    return np.sort(order[:num_val] if split == "search_val" else order[num_val:])


# -- image transforms (numpy) ----------------------------------------------------------------------

def _interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
    """float32[out, in] bilinear weights with half-pixel centers (edges clamped)."""
    centers = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    centers = np.clip(centers, 0, in_size - 1)
    low = np.floor(centers).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    frac = (centers - low).astype(np.float32)
    matrix = np.zeros((out_size, in_size), np.float32)
    matrix[np.arange(out_size), low] += 1 - frac
    matrix[np.arange(out_size), high] += frac
    return matrix


def resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of an [H, W, C] image to float32 [size, size, C] (no antialiasing)."""
    rows = _interpolation_matrix(image.shape[0], size)
    cols = _interpolation_matrix(image.shape[1], size)
    return np.einsum("ph,hwc,qw->pqc", rows, image.astype(np.float32), cols, optimize=True)


def _random_resized_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Inception-style crop: area 8%-100%, aspect 3/4-4/3 (10 tries, else the central square)."""
    height, width = image.shape[:2]
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        crop_w = int(round(math.sqrt(target * aspect)))
        crop_h = int(round(math.sqrt(target / aspect)))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
            return resize_bilinear(image[top:top + crop_h, left:left + crop_w], size)
    return _central_crop(image, size, fraction=1.0)


def _central_crop(image: np.ndarray, size: int, fraction: float = 0.875) -> np.ndarray:
    height, width = image.shape[:2]
    side = max(1, int(round(min(height, width) * fraction)))
    top, left = (height - side) // 2, (width - side) // 2
    return resize_bilinear(image[top:top + side, left:left + side], size)


def _pad_crop_flip(images: np.ndarray, padding: int, flip: bool,
                   rng: np.random.Generator) -> np.ndarray:
    batch, height, width, _ = images.shape
    if padding:
        padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
        tops = rng.integers(0, 2 * padding + 1, size=batch)
        lefts = rng.integers(0, 2 * padding + 1, size=batch)
        images = np.stack([padded[i, t:t + height, l:l + width]
                           for i, (t, l) in enumerate(zip(tops, lefts))])
    if flip:
        flips = rng.random(batch) < 0.5
        images = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
    return images


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a data set, read by random access; batches are pure functions of their inputs."""

    info: DatasetInfo
    split: str
    source: _Source
    indices: np.ndarray  # positions in ``source`` that belong to this split

    def __len__(self) -> int:
        return len(self.indices)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Full batches per epoch (the remainder is dropped; next epoch reshuffles)."""
        checks.positive_int("Dataset", "batch_size", batch_size)
        if batch_size > len(self):
            raise ValueError(f"batch_size={batch_size} is larger than the {len(self)} examples of "
                             f"{self.info.name}/{self.split}; allowed: batch_size <= {len(self)}")
        return len(self) // batch_size

    def _images(self, positions: np.ndarray, rng: np.random.Generator | None) -> dict:
        images, labels = self.source.read(self.indices[positions])
        size = self.info.image_size
        if self.info.resized_crop:
            crop = (functools.partial(_random_resized_crop, rng=rng) if rng is not None
                    else _central_crop)
            batch = np.stack([crop(image, size) for image in images])
            if rng is not None and self.info.flip:
                batch = _pad_crop_flip(batch, 0, True, rng)
        else:
            batch = np.stack(images)
            if batch.shape[1:] != (size, size, self.info.channels):
                raise ValueError(f"{self.info.name}/{self.split} images have shape "
                                 f"{batch.shape[1:]}, expected {(size, size, self.info.channels)}")
            if rng is not None:
                batch = _pad_crop_flip(batch, self.info.crop_padding, self.info.flip, rng)
        mean = np.asarray(self.info.mean, np.float32)
        std = np.asarray(self.info.std, np.float32)
        batch = (batch.astype(np.float32) / 255.0 - mean) / std
        return {"image": batch.astype(np.float32), "label": labels.astype(np.int32)}

    def train_batch(self, step: int, batch_size: int, seed: int) -> dict:
        """The shuffled, augmented batch of training step ``step`` (a pure function of its args)."""
        checks.non_negative_int("Dataset.train_batch", "step", step)
        steps = self.steps_per_epoch(batch_size)
        epoch, offset = divmod(step, steps)
        order = _permutation(len(self), seed, epoch)
        positions = order[offset * batch_size:(offset + 1) * batch_size]
        return self._images(positions, np.random.default_rng([seed, step, 1]))

    def train_batches(self, batch_size: int, seed: int, start_step: int = 0,
                      num_steps: int | None = None) -> Iterator[dict]:
        """``train_batch(s, ...)`` for s = start_step, start_step + 1, ... (forever if no num_steps)."""
        self.steps_per_epoch(batch_size)
        step = start_step
        while num_steps is None or step < start_step + num_steps:
            yield self.train_batch(step, batch_size, seed)
            step += 1

    def eval_batches(self, batch_size: int) -> Iterator[dict]:
        """Every example once, in order, unaugmented; the last batch is padded and masked."""
        checks.positive_int("Dataset.eval_batches", "batch_size", batch_size)
        for start in range(0, len(self), batch_size):
            positions = np.arange(start, min(start + batch_size, len(self)))
            count = len(positions)
            positions = np.pad(positions, (0, batch_size - count), mode="edge")
            batch = self._images(positions, None)
            batch["mask"] = np.arange(batch_size) < count
            yield batch


def load(name: str, split: str, data_dir: str | None = None, val_fraction: float = 0.2,
         split_seed: int = 0) -> Dataset:
    """One split of data set ``name`` (one of :data:`DATASETS`).

    Args:
      name: ``"digits"`` (embedded, no download) or a tfds name in :data:`DATASETS`.
      split: one of :data:`SPLITS`.
      data_dir: tfds data directory (default: tfds's own, ``TFDS_DATA_DIR`` or
        ``~/tensorflow_datasets``); unused for digits.
      val_fraction: fraction of ``"train"`` that forms ``"search_val"``.
      split_seed: seed of the search_train/search_val partition.

    Raises:
      ValueError: unknown name or split, or a val_fraction that leaves a part empty.
      DatasetNotPreparedError: a tfds data set that is not prepared; the message gives the command.
    """
    checks.one_of("data.load", "name", name, DATASETS)
    checks.one_of("data.load", "split", split, SPLITS)
    checks.number_in("data.load", "val_fraction", val_fraction, 0, 1, low_open=True,
                      high_open=True)
    checks.non_negative_int("data.load", "split_seed", split_seed)
    info = DATASETS[name]
    source_split = "test" if split == "test" else "train"
    source = (_digits_source(source_split) if info.tfds_name is None
              else _tfds_source(info, source_split, data_dir))
    if split in ("search_train", "search_val"):
        indices = _search_indices(len(source), split, val_fraction, split_seed)
    else:
        indices = np.arange(len(source))
    return Dataset(info, split, source, indices)


def prefetch(batches: Iterable[dict], size: int = 2) -> Iterator[dict]:
    """Yields ``batches`` in order, preparing up to ``size`` ahead in a background thread."""
    checks.positive_int("prefetch", "size", size)
    buffer: queue.Queue = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def produce():
        try:
            for batch in batches:
                if stop.is_set():
                    return
                buffer.put(batch)
            buffer.put(done)
        except BaseException as error:  # re-raised in the consumer
            buffer.put(error)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.01)
