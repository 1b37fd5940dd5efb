"""The device memory a compiled search step needs, the memory its device has, and a check of one
against the other before any training runs.

XLA sizes every buffer of a compiled program ahead of time; ``jax.stages.Compiled.memory_analysis()``
returns them per device as a ``CompiledMemoryStats`` (jax 0.10.2), all in bytes:

- ``argument_size_in_bytes``: the inputs (search state, batches, key), resident before the call;
- ``output_size_in_bytes``: the results (the new state and the metrics);
- ``alias_size_in_bytes``: the part of the outputs written into input buffers (donated arguments),
  counted in both of the above;
- ``temp_size_in_bytes``: the scratch space of the intermediates (the activations kept for the
  backward pass, gradients), allocated as one block per call: the block a too-large step fails
  to get ("RESOURCE_EXHAUSTED: Out of memory allocating ... bytes");
- ``generated_code_size_in_bytes``: the program itself where it lives in device memory (0 on CPU);
- ``host_*``: the same five for arrays placed in host memory (memory kind ``pinned_host``), which
  the search does not use;
- ``peak_memory_in_bytes``: measured on CPU to be arguments + outputs - aliased, without the scratch
  space, so not used here.

The estimate checked is ``peak = arguments + outputs + temporaries - aliased``: every buffer the
call holds at once, as the runtime allocates them (the program's code is left out; it is 0 on CPU).
The limit is the device allocator's ``bytes_limit`` on GPU/TPU, the host's available physical
memory shared by its CPU devices on CPU, or ``config.search.max_step_memory_gib`` when set (to size
a run for another device, e.g. a 16 GB GPU from a laptop).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import jax
import ml_collections

GIB = 2**30
MIB = 2**20


def format_bytes(size: int) -> str:
    """``size`` in GiB from 1 GiB up, else in MiB."""
    return f"{size / GIB:.2f} GiB" if size >= GIB else f"{size / MIB:.1f} MiB"


@dataclasses.dataclass(frozen=True)
class StepMemory:
    """The per-device buffers of a compiled step, in bytes (module docstring)."""

    argument_bytes: int
    output_bytes: int
    temp_bytes: int
    alias_bytes: int
    generated_code_bytes: int

    @classmethod
    def of(cls, compiled: jax.stages.Compiled) -> StepMemory | None:
        """The buffers of ``compiled``; None where the backend does not report them."""
        stats = compiled.memory_analysis()
        if stats is None:
            return None
        return cls(argument_bytes=stats.argument_size_in_bytes,
                   output_bytes=stats.output_size_in_bytes,
                   temp_bytes=stats.temp_size_in_bytes, alias_bytes=stats.alias_size_in_bytes,
                   generated_code_bytes=stats.generated_code_size_in_bytes)

    @property
    def peak_bytes(self) -> int:
        """Arguments + outputs + temporaries - aliased: what one call holds at once."""
        return self.argument_bytes + self.output_bytes + self.temp_bytes - self.alias_bytes

    def summary(self) -> str:
        """One line: the peak, then its parts."""
        return (f"{format_bytes(self.peak_bytes)} peak (arguments "
                f"{format_bytes(self.argument_bytes)} + outputs {format_bytes(self.output_bytes)} "
                f"+ temporaries {format_bytes(self.temp_bytes)} - aliased "
                f"{format_bytes(self.alias_bytes)}; code {format_bytes(self.generated_code_bytes)})")

    def to_dict(self) -> dict[str, int]:
        """The fields and the peak, for JSON."""
        return {**dataclasses.asdict(self), "peak_bytes": self.peak_bytes}


def _host_available_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The host's available physical memory: Linux's MemAvailable, else the free pages."""
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def device_limit_bytes(device: jax.Device) -> int | None:
    """The memory a step may use on ``device``: the allocator's ``bytes_limit`` on GPU/TPU, the
    host's available memory split evenly over its CPU devices on CPU; None if unknown."""
    if device.platform == "cpu":
        available = _host_available_bytes()
        return None if available is None else available // len(jax.local_devices(backend="cpu"))
    return (device.memory_stats() or {}).get("bytes_limit")


def limit_bytes(config: ml_collections.ConfigDict, device: jax.Device) -> tuple[int | None, str]:
    """``(limit, where it comes from)``: ``config.search.max_step_memory_gib`` when set (> 0),
    else the device's own limit (:func:`device_limit_bytes`)."""
    gib = config.search.max_step_memory_gib
    if gib > 0:
        return round(gib * GIB), f"config.search.max_step_memory_gib={gib}"
    what = "available host memory" if device.platform == "cpu" else "allocator bytes_limit"
    return device_limit_bytes(device), f"{what} of {device} ({device.device_kind})"


class StepMemoryError(MemoryError):
    """A compiled step needs more memory than its device has (or than the config allows)."""


def remedies(config: ml_collections.ConfigDict, num_devices: int) -> list[str]:
    """The config flags that shrink a search step, each with what it costs (those not set yet)."""
    options = []
    if not config.search.remat:
        options.append("--config.search.remat=True (recompute each supernet layer in the backward "
                       "pass: about one more forward pass of time, same values)")
    if not config.search.hard:
        options.append("--config.search.hard=True (single path: one op per layer runs instead of "
                       "the soft mixture of all ops)")
    half = config.data.batch_size // 2 // num_devices * num_devices
    if half > 0:
        options.append(f"--config.data.batch_size={half} (half the batch: activations scale "
                       "with it; the same steps then see half the images)")
    options.append("--config.search.max_step_memory_gib=<GiB> (check against another limit)")
    return options


def check_fits(memory: StepMemory, limit: int | None, source: str,
               config: ml_collections.ConfigDict, step_name: str, num_devices: int = 1) -> None:
    """Raises :class:`StepMemoryError` when ``memory``'s peak exceeds ``limit`` (None: unknown,
    not checked), naming both figures, where the limit comes from and the flags that help."""
    if limit is None or memory.peak_bytes <= limit:
        return
    options = "\n  ".join(remedies(config, num_devices))
    raise StepMemoryError(
        f"the {step_name} step needs {format_bytes(memory.peak_bytes)} per device "
        f"({memory.summary()}) but the limit is {format_bytes(limit)} ({source}): it would run out "
        f"of memory. Options:\n  {options}")
