"""Image classification data: the embedded digits set and tensorflow-datasets via ``tfds.data_source``.

Every data set is read by random access (no TensorFlow at training time) and batched in numpy. A batch
is ``{"image": float32[B, H, W, C] (NHWC, normalized per channel), "label": int32[B]}``; evaluation
batches add ``"mask": bool[B]`` (False on the padding of the last batch). A *raw* batch
(:meth:`Dataset.raw_batch`, what :mod:`dianjax.input_pipeline` moves between processes and to the
devices) keeps fixed-size images uint8; :func:`normalize` turns it into the batch.

Determinism: a training batch is a pure function of ``(seed, step)``: epoch ``e = step //
steps_per_epoch`` visits the examples in the order of a permutation drawn from ``(seed, e)``, and the
augmentation of step ``s`` draws from ``(seed, s)`` for the whole batch. A resumed run therefore
continues at step ``k`` bit-exactly without replaying steps ``0..k-1``, and a host that builds only
its share of the batch's rows (``part``) gets exactly those rows.

Decoded cache: a tfds record is parsed and decoded (PNG for CIFAR) every time it is read; data sets
of fixed image size can be decoded once into a memory-mapped ``.npy`` (``load(...,
decoded_cache=folder)``, by default ``~/.cache/dianjax/decoded``), keyed by a fingerprint of the
prepared split.

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
import hashlib
import math
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import tqdm

from sim import checks

SPLITS = ("train", "test", "search_train", "search_val")

DIGITS_NUM_TEST = 360  # held-out digits images, drawn with DIGITS_SPLIT_SEED
DIGITS_SPLIT_SEED = 0
DECODE_CHUNK = 1024  # records decoded per read when a split is decoded into the cache
CLASS_SAMPLE_SEED = 0  # the classes of a class-sampled data set (FBNet's ImageNet-100)


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
    sampled_from: int = 0       # > 0: num_classes classes drawn (CLASS_SAMPLE_SEED) from the
                                # tfds set's sampled_from, relabelled 0..num_classes-1 in order


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
    # FBNet's search set (Wu et al. 2019, Sec. 4.1): 100 classes sampled from ImageNet's 1000.
    "imagenet100": DatasetInfo("imagenet100", 224, 3, 100, (0.485, 0.456, 0.406),
                               (0.229, 0.224, 0.225), crop_padding=0, flip=True,
                               tfds_name="imagenet2012", tfds_test_split="validation",
                               resized_crop=True, sampled_from=1000),
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

    def read(self, indices: np.ndarray) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
        """Images (one array [B, H, W, C], or a list where sizes vary) and labels of ``indices``."""


@dataclasses.dataclass(frozen=True, eq=False)
class _ArraySource:
    """In-memory uint8 images [N, H, W, C] and integer labels [N]."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, indices):
        return self.images[indices], self.labels[indices]


@dataclasses.dataclass(frozen=True, eq=False)
class _MemmapSource:
    """Decoded uint8 images [N, H, W, C] in a ``.npy`` file, memory-mapped; labels in memory.

    Pickles as its path (input workers map the file themselves instead of receiving a copy).
    """

    path: Path
    labels: np.ndarray

    @functools.cached_property
    def images(self) -> np.ndarray:
        return np.load(self.path, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.labels)

    def __getstate__(self):
        return {"path": self.path, "labels": self.labels}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def read(self, indices):
        return self.images[indices], self.labels[indices]


@dataclasses.dataclass(frozen=True, eq=False)
class _TfdsSource:
    """A ``tfds.data_source`` (records ``{"image": uint8[H, W, C], "label": int}``).

    Pickles as its name, split and data dir and reopens the source where it is unpickled (input
    worker processes), so no open file handle crosses a process boundary.
    """

    tfds_name: str
    tfds_split: str
    data_dir: str | None

    @functools.cached_property
    def source(self):
        import tensorflow_datasets as tfds

        return tfds.data_source(self.tfds_name, split=self.tfds_split, data_dir=self.data_dir,
                                download=False)

    def __getstate__(self):
        return {key: getattr(self, key) for key in ("tfds_name", "tfds_split", "data_dir")}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def __len__(self) -> int:
        return len(self.source)

    def labels(self) -> np.ndarray:
        """Every record's label, reading records without decoding their images where tfds can."""
        import tensorflow_datasets as tfds

        try:
            source = tfds.data_source(self.tfds_name, split=self.tfds_split, data_dir=self.data_dir,
                                      download=False,
                                      decoders={"image": tfds.decode.SkipDecoding()})
            source[0]  # noqa: B018  (skipping a decoder needs TensorFlow in some tfds setups)
        except ImportError:
            source = self.source
        return np.array([source[i]["label"] for i in tqdm.trange(
            len(source), desc=f"labels of {self.tfds_name}/{self.tfds_split}", disable=None)],
            np.int64)

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
    source = _TfdsSource(info.tfds_name, info.tfds_test_split if split == "test" else "train",
                         data_dir)
    try:
        source.source  # noqa: B018  (opens it: a missing data set fails here, not mid-run)
    except (NotImplementedError, FileNotFoundError, AssertionError, KeyError) as error:
        where = data_dir or "the default tfds data dir (TFDS_DATA_DIR or ~/tensorflow_datasets)"
        raise DatasetNotPreparedError(
            f"data set {info.name!r} is not prepared in array_record format in {where}; prepare it "
            f"once with:\n  {prepare_command(info.tfds_name, data_dir)}\n(tfds said: {error})"
        ) from None
    return source


def decoded_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where decoded copies of fixed-size tfds splits go: ``$XDG_CACHE_HOME/dianjax/decoded``."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dianjax" / "decoded"


def resolve_decoded_cache(value: str) -> Path | None:
    """The ``decoded_cache`` folder a config value names: "" the default, "off" none, else a path."""
    if value.strip().lower() == "off":
        return None
    return Path(value).expanduser() if value else decoded_cache_dir()


def _fingerprint(source: _TfdsSource) -> str:
    """Identifies a prepared split: name, version, data dir, size and three records' bytes."""
    size = len(source)
    images, labels = source.read(np.array(sorted({0, size // 2, size - 1})))
    digest = hashlib.sha256(repr((source.tfds_name, source.tfds_split,
                                  str(source.source.dataset_info.version),
                                  str(source.source.dataset_info.data_dir), size)).encode())
    for image in images:
        digest.update(np.ascontiguousarray(image).tobytes())
    digest.update(labels.tobytes())
    return digest.hexdigest()[:16]


def _decoded(source: _TfdsSource, info: DatasetInfo, cache_dir: Path) -> _MemmapSource:
    """``source`` decoded once into uint8 ``.npy`` files under ``cache_dir``, memory-mapped.

    Reading a record of a tfds array_record source parses and decodes it (PNG for CIFAR) every
    time it is read, once per epoch; the decoded copy is read by one memory-mapped gather per
    batch. Written to a temporary name and renamed, so concurrent processes (several hosts' or
    workers' first runs) never see a partial file.
    """
    stem = cache_dir / info.tfds_name / f"{source.tfds_split}-{_fingerprint(source)}"
    images_path, labels_path = stem.with_suffix(".images.npy"), stem.with_suffix(".labels.npy")
    if not (images_path.exists() and labels_path.exists()):
        size = len(source)
        shape = (size, info.image_size, info.image_size, info.channels)
        stem.parent.mkdir(parents=True, exist_ok=True)
        print(f"decoding {info.name}/{source.tfds_split} once into {images_path} "
              f"({math.prod(shape) / 2**20:.0f} MiB; later runs read it back)")
        temporary = stem.with_suffix(f".{os.getpid()}.tmp.npy")
        images = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
        labels = np.empty(size, np.int64)
        for start in tqdm.trange(0, size, DECODE_CHUNK, desc=f"decode {info.name}",
                                 disable=None):
            chunk = np.arange(start, min(start + DECODE_CHUNK, size))
            read, labels[chunk] = source.read(chunk)
            images[chunk] = np.stack(read)
        images.flush()
        del images
        np.save(stem.with_suffix(f".{os.getpid()}.labels.tmp.npy"), labels)
        os.replace(stem.with_suffix(f".{os.getpid()}.labels.tmp.npy"), labels_path)
        os.replace(temporary, images_path)
    return _MemmapSource(images_path, np.load(labels_path))


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


def _pad_crop_flip(images: np.ndarray, padding: int, flip: bool, rng: np.random.Generator,
                   rows: np.ndarray, batch_size: int) -> np.ndarray:
    """Random pad-and-crop and horizontal flip of a batch (zero padding).

    ``images`` are the rows ``rows`` of a batch of ``batch_size``; the draws are made for the whole
    batch (in a fixed order: tops, lefts, flips) and those of ``rows`` applied.
    """
    count, height, width, _ = images.shape
    tops = lefts = np.zeros(count, np.int64)
    if padding:
        images = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
        tops = rng.integers(0, 2 * padding + 1, size=batch_size)[rows]
        lefts = rng.integers(0, 2 * padding + 1, size=batch_size)[rows]
    flips = (rng.random(batch_size) < 0.5)[rows] if flip else np.zeros(count, bool)
    out = np.empty((count, height, width, images.shape[-1]), images.dtype)
    for i, (top, left, flipped) in enumerate(zip(tops, lefts, flips)):  # slices: faster than
        window = images[i, top:top + height, left:left + width]          # one fancy gather
        out[i] = window[:, ::-1] if flipped else window
    return out


def _normalized(images: np.ndarray, info: DatasetInfo) -> np.ndarray:
    """float32 ``(images / 255 - mean) / std`` per channel."""
    mean = np.asarray(info.mean, np.float32)
    std = np.asarray(info.std, np.float32)
    return (images.astype(np.float32) / 255.0 - mean) / std


@functools.cache
def normalization_table(info: DatasetInfo) -> np.ndarray:
    """float32[256, C]: the normalized value of every uint8 pixel value per channel.

    Looking a pixel up in it gives bit for bit what :func:`normalize` computes, on the host or (a
    gather) on a device, where compilers may reorder the arithmetic.
    """
    values = np.repeat(np.arange(256, dtype=np.uint8)[:, None], info.channels, axis=1)
    return _normalized(values, info)


def normalize(images: np.ndarray, info: DatasetInfo) -> np.ndarray:
    """Raw images of :meth:`Dataset.raw_batch` normalized (uint8 by table lookup; float as is)."""
    if images.dtype != np.uint8:
        return images
    return normalization_table(info)[images, np.arange(info.channels)]


def _part_rows(owner: str, batch_size: int, part: tuple[int, int]) -> np.ndarray:
    """The rows of a batch that ``part = (index, count)`` names: the index-th of count equal blocks."""
    index, count = part
    checks.positive_int(owner, "part[1]", count)
    if not 0 <= index < count or batch_size % count:
        raise ValueError(f"part={part} must be (index, count) with 0 <= index < count and "
                         f"batch_size={batch_size} divisible by count")
    share = batch_size // count
    return np.arange(index * share, (index + 1) * share)


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a data set, read by random access; batches are pure functions of their inputs."""

    info: DatasetInfo
    split: str
    source: _Source
    indices: np.ndarray  # positions in ``source`` that belong to this split
    label_map: np.ndarray | None = None  # source label -> label (class-sampled data sets)

    def __len__(self) -> int:
        return len(self.indices)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Full batches per epoch (the remainder is dropped; next epoch reshuffles)."""
        checks.positive_int("Dataset", "batch_size", batch_size)
        if batch_size > len(self):
            raise ValueError(f"batch_size={batch_size} is larger than the {len(self)} examples of "
                             f"{self.info.name}/{self.split}; allowed: batch_size <= {len(self)}")
        return len(self) // batch_size

    def _images(self, positions: np.ndarray, key: tuple[int, int] | None,
                rows: np.ndarray | None = None) -> dict:
        """The raw batch of ``positions``, augmented from ``key = (seed, step)`` (None: not).

        Raw: fixed-size images stay uint8 (:func:`normalize` finishes them, on the host or on a
        device); resized crops come normalized (float32).

        ``rows`` picks rows of that batch (default: all). Random draws are made for the whole
        batch and then picked, so the parts of one batch built on different hosts are exactly the
        rows of the batch one host would build.
        """
        rows = np.arange(len(positions)) if rows is None else rows
        images, labels = self.source.read(self.indices[positions[rows]])
        if self.label_map is not None:
            labels = self.label_map[labels]
        size = self.info.image_size
        rng = None if key is None else np.random.default_rng([*key, 1])
        if self.info.resized_crop:
            if key is None:
                batch = np.stack([_central_crop(image, size) for image in images])
            else:   # one generator per image of the whole batch: rows crop alike on any host
                batch = np.stack([
                    _random_resized_crop(image, size, np.random.default_rng([*key, 2, row]))
                    for image, row in zip(images, rows)])
                if self.info.flip:
                    batch = _pad_crop_flip(batch, 0, True, rng, rows, len(positions))
        else:
            batch = images if isinstance(images, np.ndarray) else np.stack(images)
            if batch.shape[1:] != (size, size, self.info.channels):
                raise ValueError(f"{self.info.name}/{self.split} images have shape "
                                 f"{batch.shape[1:]}, expected {(size, size, self.info.channels)}")
            if rng is not None:
                batch = _pad_crop_flip(batch, self.info.crop_padding, self.info.flip, rng, rows,
                                       len(positions))
        if batch.dtype != np.uint8:   # resized crops: normalized here, no longer 8-bit
            batch = _normalized(batch, self.info)
        return {"image": batch, "label": labels.astype(np.int32)}

    def raw_batch(self, step: int, batch_size: int, seed: int,
                  part: tuple[int, int] = (0, 1)) -> dict:
        """The shuffled, augmented batch of training step ``step``, raw (a pure function of its args).

        ``part = (index, count)``: only the ``index``-th of ``count`` equal consecutive row blocks
        of that batch (one host's share of a global batch); the blocks concatenate to the batch.
        Raw: :meth:`_images`; ``normalize`` of it is :meth:`train_batch`.
        """
        checks.non_negative_int("Dataset.train_batch", "step", step)
        rows = _part_rows("Dataset.train_batch", batch_size, part)
        steps = self.steps_per_epoch(batch_size)
        epoch, offset = divmod(step, steps)
        order = _permutation(len(self), seed, epoch)
        positions = order[offset * batch_size:(offset + 1) * batch_size]
        return self._images(positions, (seed, step), rows)

    def train_batch(self, step: int, batch_size: int, seed: int,
                    part: tuple[int, int] = (0, 1)) -> dict:
        """:meth:`raw_batch`, normalized: float32 images."""
        batch = self.raw_batch(step, batch_size, seed, part)
        return {**batch, "image": normalize(batch["image"], self.info)}

    def eval_batches(self, batch_size: int, part: tuple[int, int] = (0, 1)) -> Iterator[dict]:
        """Every example once, in order, unaugmented; the last batch is padded and masked.

        ``part = (index, count)``: the ``index``-th of ``count`` consecutive row blocks of each
        batch (one host's share), as in :meth:`train_batch`.
        """
        checks.positive_int("Dataset.eval_batches", "batch_size", batch_size)
        rows = _part_rows("Dataset.eval_batches", batch_size, part)
        for start in range(0, len(self), batch_size):
            positions = np.arange(start, min(start + batch_size, len(self)))
            valid = len(positions)
            positions = np.pad(positions, (0, batch_size - valid), mode="edge")
            batch = self._images(positions, None, rows)
            yield {**batch, "image": normalize(batch["image"], self.info), "mask": rows < valid}


def sampled_classes(info: DatasetInfo) -> np.ndarray:
    """The source labels a class-sampled data set keeps, ascending (label ``i`` is the i-th)."""
    rng = np.random.default_rng(CLASS_SAMPLE_SEED)
    return np.sort(rng.choice(info.sampled_from, info.num_classes, replace=False))


def _source_labels(source: _Source, cache_dir: Path | None) -> np.ndarray:
    """Every label of ``source``; a tfds source's are read once into ``cache_dir`` if given."""
    if not isinstance(source, _TfdsSource):
        return np.asarray(source.labels)
    if cache_dir is None:
        return source.labels()
    path = cache_dir / source.tfds_name / f"{source.tfds_split}-{_fingerprint(source)}.labels.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(temporary, source.labels())
        os.replace(temporary, path)
    return np.load(path)


def load(name: str, split: str, data_dir: str | None = None, val_fraction: float = 0.2,
         split_seed: int = 0, decoded_cache: str | Path | None = None) -> Dataset:
    """One split of data set ``name`` (one of :data:`DATASETS`).

    Args:
      name: ``"digits"`` (embedded, no download) or a tfds name in :data:`DATASETS`.
      split: one of :data:`SPLITS`.
      data_dir: tfds data directory (default: tfds's own, ``TFDS_DATA_DIR`` or
        ``~/tensorflow_datasets``); unused for digits.
      val_fraction: fraction of ``"train"`` that forms ``"search_val"``.
      split_seed: seed of the search_train/search_val partition.
      decoded_cache: a folder (e.g. :func:`decoded_cache_dir`) where a tfds data set of fixed
        image size is decoded once and memory-mapped from then on; None reads (and decodes) the
        tfds records at every access. Unused for digits (in memory) and ImageNet (sizes vary).

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
    cache = None if decoded_cache is None else Path(decoded_cache)
    if cache is not None and isinstance(source, _TfdsSource) and not info.resized_crop:
        source = _decoded(source, info, cache)
    members, label_map = np.arange(len(source)), None
    if info.sampled_from:
        classes = sampled_classes(info)
        members = np.flatnonzero(np.isin(_source_labels(source, cache), classes))
        label_map = np.full(info.sampled_from, -1, np.int64)
        label_map[classes] = np.arange(len(classes))
    if split in ("search_train", "search_val"):
        members = members[_search_indices(len(members), split, val_fraction, split_seed)]
    return Dataset(info, split, source, members, label_map)


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
