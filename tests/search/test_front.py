"""The one-shot front of a joint search, against a brute force: every network re-scored on the
restored supernet, priced by the benchmark's own pricing, non-dominance by pairwise comparison."""

import json

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from dianjax import data, parallel
from dianjax.bench.networks import enumerate_networks
from dianjax.bench.prices import price_networks
from dianjax.bench.table import load
from dianjax.checkpoints import restore_latest
from dianjax.config import load_config
from dianjax.nas import gumbel
from dianjax.search.config import make_setup
from dianjax.search.front import (
    FRONT_FILE,
    front_networks,
    one_shot_front,
    space_size,
)
from dianjax.search.loop import run_search
from dianjax.search.paths import EvalSet, PathEvaluator
from dianjax.search.result import summary_table
from dianjax.search.steps import init_state, make_optimizers


def _config(*overrides):
    """A tiny search on a 192-accelerator space (brute-force pricing stays quick)."""
    return load_config("quickstart", [
        "search.warmup_steps=24", "search.steps=8", "data.batch_size=32", "log_every_steps=8",
        "checkpoint_every_steps=32", "hardware.rows=(8, 16)", "hardware.cols=(8, 16)",
        "hardware.ifmap_sram_kb=(1, 16)", "hardware.filter_sram_kb=(1, 16)",
        "hardware.ofmap_sram_kb=(1, 16)", "hardware.dram_bandwidth_words_per_cycle=(2.0, 16.0)",
        *overrides])


@pytest.fixture(scope="module")
def front_run(tmp_path_factory):
    """A tiny joint search with its front, and its final state restored from the checkpoint."""
    workdir = tmp_path_factory.mktemp("front")
    config = _config()
    result = run_search(config, workdir)
    setup = make_setup(config)
    state = init_state(setup, make_optimizers(setup), jax.random.split(jax.random.key(0))[0])
    with ocp.CheckpointManager(workdir / "checkpoints") as manager:
        state, step = restore_latest(manager, state)
    assert step == setup.total_steps
    return workdir, setup, state, result


def test_front_is_the_non_dominated_set_of_every_network(front_run):
    _, setup, state, result = front_run
    front = result["front"]
    networks = enumerate_networks(setup.space)
    assert front["networks_scored"] == front["space_networks"] == len(networks) == 500
    # brute force: every network re-scored, priced by the benchmark's pricing (its own code path)
    dcfg = setup.config.data
    splits = dict(val_fraction=dcfg.val_fraction, split_seed=dcfg.split_seed)
    mesh = parallel.make_mesh()
    evaluator = PathEvaluator(setup, state, data.load("digits", "search_train", **splits), mesh)
    examples = EvalSet(setup, data.load("digits", "search_val", **splits), mesh)
    proxy = np.array([evaluator.accuracy(ops, examples) for ops in networks])
    edp = price_networks(setup.space, setup.hardware, networks, progress=False).edp_pj_s.min(1)
    dominated = [bool(np.any((proxy >= proxy[i]) & (edp <= edp[i] * (1 - 1e-6))
                             & ((proxy > proxy[i]) | (edp < edp[i] * (1 - 1e-6)))))
                 for i in range(len(networks))]
    expected = {tuple(networks[i]) for i in range(len(networks)) if not dominated[i]}
    pairs = front["pairs"]
    assert {tuple(pair["op_indices"]) for pair in pairs} == expected
    assert len(pairs) >= 2
    index = {tuple(ops): i for i, ops in enumerate(networks.tolist())}
    table = load("quickstart_digits")
    for pair in pairs:
        i = index[tuple(pair["op_indices"])]
        assert pair["supernet_val"] == pytest.approx(proxy[i], abs=1e-9)
        assert pair["predicted"]["edp_pj_s"] == pytest.approx(edp[i], rel=1e-5)
        assert pair["retrained"]["val_accuracy"] == table.val_mean[table.index(pair["ops"])]
    derived = index[tuple(result["network"]["op_indices"])]   # scored like every network
    assert result["accuracy"]["supernet_val"] == pytest.approx(proxy[derived], abs=1e-9)
    np.testing.assert_allclose(front["networks"]["supernet_val"], proxy, atol=1e-9)
    # cheapest first; along a 2-D front accuracy rises with cost
    assert np.all(np.diff([pair["predicted"]["edp_pj_s"] for pair in pairs]) > 0)
    assert np.all(np.diff([pair["supernet_val"] for pair in pairs]) > 0)


def test_front_is_saved_plotted_and_summarized(front_run):
    workdir, _, _, result = front_run
    saved = json.loads((workdir / "result.json").read_text())
    assert saved["front"]["pairs"] == result["front"]["pairs"]
    assert (workdir / FRONT_FILE).stat().st_size > 0
    text = summary_table(result)
    assert f"front        {len(result['front']['pairs'])} pairs" in text
    assert " ".join(result["front"]["pairs"][0]["ops"]) in text


def test_a_large_space_scores_its_most_probable_networks(front_run):
    _, setup, state, _ = front_run
    networks = enumerate_networks(setup.space)
    layers = np.arange(setup.space.num_layers)
    log_probs = np.asarray(jax.nn.log_softmax(
        gumbel.mask_logits(state.arch_logits, setup.space.op_mask()), axis=-1))
    picked = front_networks(setup, state, 7)
    assert picked.shape == (7, len(layers)) and len({tuple(row) for row in picked}) == 7
    all_scores = np.sort(log_probs[layers, networks].sum(axis=1))[::-1]
    np.testing.assert_allclose(log_probs[layers, picked].sum(axis=1), all_scores[:7], rtol=1e-6)
    np.testing.assert_array_equal(front_networks(setup, state, space_size(setup)), networks)


def test_front_is_skipped_with_the_reason_on_a_space_too_large_to_enumerate():
    large = repr(tuple(range(1, 400)))
    setup = make_setup(_config(f"hardware.rows={large}", f"hardware.cols={large}"))
    front = one_shot_front(setup, None, None, None, None)
    assert "over the exact limit" in front["skipped"]


def test_bad_front_networks_fails_before_any_work():
    with pytest.raises(ValueError, match=r"config\.search\.front_networks"):
        make_setup(_config("search.front_networks=-1"))
