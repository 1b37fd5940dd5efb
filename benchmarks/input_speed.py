"""Input pipeline speed: images/s of the grain pipeline against the synchronous loader, per worker count.

Data, both made here (no download):

- CIFAR-shaped: tfds mock data for ``cifar10`` (``tfds.testing.mock_data``: 32x32x3 uint8 records
  read through ``tfds.data_source`` as a prepared cifar10 is), ``--records`` of them;
- ImageNet-shaped: ``imagenet2012``'s policy (Inception crop + bilinear resize to 224, flip) on
  synthetic uint8 images with sides of 300-500 pixels, one per record, drawn from its index (what a
  JPEG decoder hands over; the decode itself is not timed).

Loaders (the batch of a step is the same in all of them, bit for bit), each timed up to a batch
ready on the default device (float32 images, normalized, sharded as the step takes them):

- ``sync``: what the search loop did before the grain pipeline: ``Dataset.train_batch`` of each
  step in the main thread, records read one by one from the tfds source, then
  ``parallel.shard_batch``;
- ``grain w=0``: :func:`dianjax.input_pipeline.device_batches` preparing batches in one background
  thread; ``grain w=N``: in N grain worker processes (raw uint8 batches between processes,
  normalized on the device);
- ``+cache``: reading the decoded copy of the split (``data.load(..., decoded_cache=...)``, built
  once before timing; its build time is printed). tfds's mock lives in this process only, so the
  worker processes read CIFAR through the cache (what the search does by default).

images/s is measured after ``--skip`` batches (worker start-up, printed separately as ``first
batch``) over ``--batches`` batches, the consumer doing nothing but take them.

    python benchmarks/input_speed.py                       # both shapes, workers 0 1 2
    python benchmarks/input_speed.py --workers 0 1 2 4 8 --shape cifar
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

import jax
import numpy as np
import tensorflow_datasets as tfds

from dianjax import data, input_pipeline, parallel


@dataclasses.dataclass(frozen=True)
class RandomSizeImages:
    """Synthetic decoded ImageNet records: uint8 images of 300-500 px sides, a pure function of index."""

    size: int

    def __len__(self) -> int:
        return self.size

    def read(self, indices):
        images = []
        for index in indices:
            rng = np.random.default_rng(int(index))
            height, width = rng.integers(300, 501, size=2)
            images.append(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))
        return images, np.asarray(indices, np.int64) % 1000


def _time(make_batches, skip: int, count: int, batch_size: int) -> tuple[float, float]:
    """(seconds to the first batch, images/s over ``count`` batches after ``skip``)."""
    start = time.perf_counter()
    with make_batches(skip + count) as batches:
        jax.block_until_ready(next(batches))
        first = time.perf_counter() - start
        for _ in range(skip - 1):
            jax.block_until_ready(next(batches))
        timed = time.perf_counter()
        for _ in range(count):
            jax.block_until_ready(next(batches))
        return first, count * batch_size / (time.perf_counter() - timed)


class _Sync:
    """The synchronous loader as a context manager, to time it like the pipeline."""

    def __init__(self, dataset, batch_size, steps, mesh):
        self.batches = (parallel.shard_batch(dataset.train_batch(s, batch_size, 0), mesh)
                        for s in range(steps))

    def __enter__(self):
        return self.batches

    def __exit__(self, *exc):
        return False


def _rows(name, dataset, cached, batch_size, workers, args):
    rows = []
    mesh = parallel.make_mesh()
    sync_count = max(4, args.batches // 8)
    first, rate = _time(lambda n: _Sync(dataset, batch_size, n, mesh), 1, sync_count, batch_size)
    rows.append(("sync", first, rate))
    for w in workers:
        for label, source in (("", dataset), ("+cache", cached)):
            if source is None or (w > 0 and source is dataset and cached is not None):
                continue
            first, rate = _time(lambda n, s=source, w=w: input_pipeline.device_batches(
                s, batch_size, 0, 0, n, mesh, workers=w), args.skip, args.batches, batch_size)
            rows.append((f"grain w={w}{label}", first, rate))
    base = rows[0][2]
    print(f"\n{name}: batch {batch_size}, {len(dataset)} records")
    print(f"{'loader':18s} {'first batch s':>13s} {'images/s':>10s} {'x sync':>7s}")
    for label, first, rate in rows:
        print(f"{label:18s} {first:13.2f} {rate:10.0f} {rate / base:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("cifar", "imagenet", "both"), default="both")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--skip", type=int, default=10)
    args = parser.parse_args()
    print(f"cores usable: {len(os.sched_getaffinity(0))}")
    if args.shape in ("cifar", "both"):
        with tfds.testing.mock_data(num_examples=args.records,
                                    policy=tfds.testing.MockPolicy.USE_CODE), \
                tempfile.TemporaryDirectory() as cache:
            dataset = data.load("cifar10", "train")
            start = time.perf_counter()
            cached = data.load("cifar10", "train", decoded_cache=cache)
            print(f"decoded cache built in {time.perf_counter() - start:.1f} s")
            batch = dataset.train_batch(3, 128, 0)["image"]
            assert np.array_equal(batch, cached.train_batch(3, 128, 0)["image"])
            _rows("CIFAR-shaped (tfds mock cifar10)", dataset, cached, 128, args.workers, args)
    if args.shape in ("imagenet", "both"):
        info = data.DATASETS["imagenet2012"]
        dataset = data.Dataset(info, "train", RandomSizeImages(args.records),
                               np.arange(args.records))
        small = argparse.Namespace(**{**vars(args), "batches": max(8, args.batches // 10),
                                      "skip": max(2, args.skip // 2)})
        _rows("ImageNet-shaped (synthetic 300-500 px, crop + resize to 224)", dataset, None, 64,
              args.workers, small)


if __name__ == "__main__":
    main()
