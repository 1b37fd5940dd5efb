"""Step memory: XLA's buffer sizes of a compiled step, the limit, the refusal before any training,
and the per-layer rematerialization of the supernet that shrinks it."""

import functools
import json
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dianjax import step_memory
from dianjax.config import load_config
from dianjax.nas.search_space import SearchSpace
from dianjax.nas.supernet import Supernet, init_supernet
from dianjax.search.config import MODES, make_setup
from dianjax.search.loop import RUN_INFO_FILE, run_search
from dianjax.search.steps import WARMUP, Phase, phase_at, run_phases
from dianjax.step_memory import GIB, StepMemory, StepMemoryError

F32 = jax.ShapeDtypeStruct
# two searchable layers (one with a skip), three ops: quick to compile
TINY = SearchSpace(image_size=6, in_channels=1, num_classes=3, stem_channels=4,
                   stages=((4, 1, 1), (8, 1, 2)), op_names=("mb_k3_e1", "mb_k3_e3", "skip"),
                   head_channels=8)


def _memory(fun, *args, **jit_kwargs) -> StepMemory:
    return StepMemory.of(jax.jit(fun, **jit_kwargs).lower(*args).compile())


def test_report_of_a_matmul_counts_its_arguments_and_output():
    a, b = F32((128, 256), jnp.float32), F32((256, 64), jnp.float32)
    memory = _memory(jnp.matmul, a, b)
    assert memory.argument_bytes == (128 * 256 + 256 * 64) * 4
    assert memory.output_bytes == 128 * 64 * 4
    assert memory.alias_bytes == 0


def test_a_donated_argument_is_counted_once():
    memory = _memory(lambda x: x * 2.0, F32((128, 256), jnp.float32), donate_argnums=0)
    size = 128 * 256 * 4   # one buffer, read and overwritten in place
    assert memory == StepMemory(argument_bytes=size, output_bytes=size, temp_bytes=0,
                                alias_bytes=size, generated_code_bytes=0)
    assert memory.peak_bytes == size
    assert memory.summary() == ("0.1 MiB peak (arguments 0.1 MiB + outputs 0.1 MiB + temporaries "
                                "0.0 MiB - aliased 0.1 MiB; code 0.0 MiB)")
    assert memory.to_dict()["peak_bytes"] == size


def test_format_bytes():
    assert step_memory.format_bytes(3 * GIB // 2) == "1.50 GiB"
    assert step_memory.format_bytes(5 * 2**20) == "5.0 MiB"


def _config(*overrides):
    return load_config("quickstart", overrides)


def test_check_refuses_a_step_over_the_limit_and_names_the_flags():
    memory = StepMemory(argument_bytes=2 * GIB, output_bytes=GIB, temp_bytes=30 * GIB,
                        alias_bytes=0, generated_code_bytes=0)
    config = _config("data.batch_size=128")
    step_memory.check_fits(memory, 33 * GIB, "test limit", config, "search")
    step_memory.check_fits(memory, None, "unknown", config, "search")
    with pytest.raises(StepMemoryError) as error:
        step_memory.check_fits(memory, 16 * GIB, "test limit", config, "search (warm-up)",
                               num_devices=2)
    message = str(error.value)
    for text in ("search (warm-up) step needs 33.00 GiB", "limit is 16.00 GiB (test limit)",
                 "--config.search.remat=True", "--config.search.hard=True",
                 "--config.data.batch_size=64", "--config.search.max_step_memory_gib="):
        assert text in message
    assert isinstance(error.value, MemoryError)
    config = _config("search.remat=True", "search.hard=True", "data.batch_size=1")
    assert step_memory.remedies(config, 1) == [
        "--config.search.max_step_memory_gib=<GiB> (check against another limit)"]


def test_limit_from_the_config_or_the_host(tmp_path):
    device = jax.devices("cpu")[0]
    assert step_memory.limit_bytes(_config("search.max_step_memory_gib=16.0"), device) == (
        16 * GIB, "config.search.max_step_memory_gib=16.0")
    limit, source = step_memory.limit_bytes(_config(), device)
    assert 0 < limit and source.startswith("available host memory of ")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    1000 kB\n")
    assert step_memory._host_available_bytes(meminfo) == 1000 * 1024


@pytest.mark.parametrize("field, value, message", [
    ("remat", 1, "config.search.remat must be True or False, got 1"),
    ("max_step_memory_gib", -1.0, "config.search.max_step_memory_gib must be a number in [0, "),
    ("max_step_memory_gib", "16", "config.search.max_step_memory_gib must be a number in [0, "),
])
def test_bad_memory_fields_fail_before_any_work(field, value, message):
    config = _config()   # a section built by hand: ConfigDict's own type checks would stop these
    config.search = ml_collections.ConfigDict({**config.search.to_dict(), field: value})
    with pytest.raises(ValueError, match=re.escape(message)):
        make_setup(config)


@pytest.mark.parametrize("hard", [False, True])
def test_remat_gives_the_same_values_gradients_and_statistics_in_less_memory(hard):
    space = TINY
    variables = init_supernet(jax.random.key(0), space)
    images = jax.random.normal(jax.random.key(1), (64, 6, 6, 1))
    logits = jax.random.normal(jax.random.key(2), (space.num_layers, space.num_ops))

    def loss(params, logits, images, remat):
        weights = jax.nn.softmax(jnp.where(space.op_mask(), logits, -1e9))
        if hard:   # straight through, as the search's hard mode
            weights = jax.nn.one_hot(jnp.argmax(weights, -1), space.num_ops) + weights - \
                jax.lax.stop_gradient(weights)
        out, updates = Supernet(space, remat=remat).apply(
            {**variables, "params": params}, images, weights, train=True, hard=hard,
            mutable=["batch_stats"])
        return jnp.sum(out ** 2), (out, updates["batch_stats"])

    grad = jax.value_and_grad(loss, (0, 1), has_aux=True)
    compiled = {remat: jax.jit(functools.partial(grad, remat=remat)).lower(
        variables["params"], logits, images).compile() for remat in (False, True)}
    plain, remat = (compiled[r](variables["params"], logits, images) for r in (False, True))
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(remat), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    memory = {r: StepMemory.of(c).temp_bytes for r, c in compiled.items()}
    assert memory[True] < (0.8 if hard else 0.7) * memory[False], memory


@pytest.mark.parametrize("mode", MODES)
def test_run_phases_are_every_phase_of_the_run_in_order(mode):
    overrides = {"fixed_net": ["search.fixed_ops=('mb_k3_e1', 'skip', 'mb_k3_e1', 'mb_k3_e1')"]}
    setup = make_setup(_config(f"search.mode={mode!r}", "search.warmup_steps=5",
                               "search.steps=10", *overrides.get(mode, [])))
    expected = tuple(dict.fromkeys(phase_at(setup, step) for step in range(setup.total_steps)))
    assert run_phases(setup) == expected and run_phases(setup)[0] == WARMUP
    assert [phase.label for phase in expected][:1] == ["warm-up"]


def _tiny(*overrides):
    return _config("search.warmup_steps=0", "search.steps=3", "data.batch_size=16",
                   "checkpoint_every_steps=1", "search.front_networks=0", *overrides)


def test_a_run_compiles_each_phase_once_and_records_its_memory(tmp_path, capsys, caplog):
    with jax.log_compiles(), caplog.at_level("WARNING"):
        assert run_search(_tiny(), tmp_path, stop_after=2) is None
    compiled = [r.getMessage() for r in caplog.records if "search_step" in r.getMessage()
                and r.getMessage().startswith("Compiling")]
    assert len(compiled) == 1, compiled
    label = Phase(True, True, True, False).label
    assert f"step memory ({label}) on " in capsys.readouterr().out
    info = json.loads((tmp_path / RUN_INFO_FILE).read_text())["step_memory"]
    assert list(info["phases"]) == [label] and info["phases"][label]["peak_bytes"] > 0


def test_a_run_over_the_limit_stops_before_training(tmp_path):
    with pytest.raises(StepMemoryError, match=r"config\.search\.max_step_memory_gib=1e-06"):
        run_search(_tiny("search.max_step_memory_gib=1e-6"), tmp_path)
    assert not (tmp_path / "checkpoints").exists()
    assert json.loads((tmp_path / RUN_INFO_FILE).read_text())["step_memory"]["limit_bytes"] == \
        round(1e-6 * GIB)


def test_a_refused_run_leaves_the_directory_free_for_the_rerun_it_suggests(tmp_path):
    with pytest.raises(StepMemoryError, match="search.hard=True"):
        run_search(_tiny("search.max_step_memory_gib=1e-6"), tmp_path)
    assert run_search(_tiny("search.hard=True"), tmp_path, stop_after=1) is None  # another config
    assert run_search(_tiny("search.hard=True", "search.max_step_memory_gib=64.0"), tmp_path,
                      stop_after=2) is None   # the limit is only a check: resuming may change it
