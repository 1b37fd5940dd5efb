"""The one-shot front of a joint search, against a brute force: every network re-scored on the
restored supernet, priced by the benchmark's own pricing, non-dominance by pairwise comparison."""

import json

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from dianjax import cost, data, parallel
from dianjax.bench.networks import enumerate_networks
from dianjax.bench.prices import price_networks
from dianjax.bench.table import load
from dianjax.checkpoints import restore_latest
from dianjax.config import load_config
from dianjax.nas import gumbel
from dianjax.nas.supernet import DerivedNetwork
from dianjax.search.config import make_setup
from dianjax.search.front import (
    FRONT_FILE,
    front_networks,
    one_shot_front,
    space_size,
)
from dianjax.search.loop import run_search
from dianjax.search.paths import EvalSet, PathEvaluator
from dianjax.search.result import network_under_targets, summary_table
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


def test_path_batch_norm_is_the_mean_of_its_batch_statistics(front_run):
    """By hand: the stem's statistics are the mean over the re-estimation batches of its conv
    output's per-batch channel mean and variance; the ops off the path keep the search's."""
    _, setup, state, _ = front_run
    dcfg = setup.config.data
    train = data.load("digits", "search_train", val_fraction=dcfg.val_fraction,
                      split_seed=dcfg.split_seed)
    evaluator = PathEvaluator(setup, state, train, parallel.make_mesh(), num_batches=3)
    path = (0, 4, 2, 1)
    stats = evaluator.batch_stats(path)
    kernel = state.params["stem"]["conv"]["kernel"]
    stride, pad = setup.space.stem_stride, kernel.shape[0] // 2
    means, variances = [], []
    for step in range(3):
        images = train.train_batch(step, dcfg.batch_size, setup.config.seed + 2)["image"]
        out = jax.lax.conv_general_dilated(images, kernel, (stride, stride), [(pad, pad)] * 2,
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
        means.append(np.mean(out, axis=(0, 1, 2)))
        variances.append(np.var(out, axis=(0, 1, 2)))
    np.testing.assert_allclose(stats["stem"]["bn"]["mean"], np.mean(means, 0), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(stats["stem"]["bn"]["var"], np.mean(variances, 0), rtol=1e-3)
    assert not np.allclose(state.batch_stats["stem"]["bn"]["mean"], np.mean(means, 0), rtol=1e-2)
    off_path = [name for k, name in enumerate(setup.space.op_names[:4]) if k != path[0]]
    for name in off_path:
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                     stats["layer0"][f"ops_{name}"], state.batch_stats["layer0"][f"ops_{name}"])


def test_path_accuracy_by_hand_and_streamed_in_chunks(front_run):
    """A path's scores equal its derived network's (supernet variables, re-estimated statistics)
    counted example by example, whether the val set is kept on the device or streamed in chunks."""
    _, setup, state, _ = front_run
    dcfg = setup.config.data
    splits = dict(val_fraction=dcfg.val_fraction, split_seed=dcfg.split_seed)
    val = data.load("digits", "search_val", **splits)
    mesh = parallel.make_mesh()
    evaluator = PathEvaluator(setup, state, data.load("digits", "search_train", **splits), mesh)
    path = (3, 0, 1, 4)
    kept = EvalSet(setup, val, mesh)
    batch_bytes = dcfg.eval_batch_size * 8 * 8 * 4
    streamed = EvalSet(setup, val, mesh, chunk_bytes=2 * batch_bytes)
    assert kept.chunk_batches == -(-len(val) // dcfg.eval_batch_size) > 2
    assert streamed.chunk_batches == 2
    derived = DerivedNetwork(setup.space, path)
    variables = derived.variables_from_supernet({"params": state.params,
                                                 "batch_stats": evaluator.batch_stats(path)})
    images, labels = val.source.read(val.indices)
    logits = derived.model.apply(variables, data.normalize(images, val.info), train=False)
    log_probs = jax.nn.log_softmax(logits)
    accuracy = float(np.mean(np.argmax(logits, -1) == labels))
    loss = -float(np.mean(np.take_along_axis(np.asarray(log_probs), labels[:, None], 1)))
    for examples in (kept, streamed):
        np.testing.assert_allclose(evaluator.scores(path, examples), (accuracy, loss), rtol=1e-5)


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


def test_front_under_a_target_prices_only_the_accelerators_that_meet_it(front_run):
    _, setup, state, _ = front_run
    networks = enumerate_networks(setup.space)
    edp = price_networks(setup.space, setup.hardware, networks, progress=False).edp_pj_s
    target = float(np.median(edp.min(1)))
    targeted = make_setup(_config(f"cost.target_edp={target!r}"))
    dcfg = setup.config.data
    splits = dict(val_fraction=dcfg.val_fraction, split_seed=dcfg.split_seed)
    mesh = parallel.make_mesh()
    evaluator = PathEvaluator(targeted, state, data.load("digits", "search_train", **splits), mesh)
    examples = EvalSet(targeted, data.load("digits", "search_val", **splits), mesh)
    reference = cost.reference_metrics(targeted.table, targeted.hardware, targeted.energy_table)
    front = one_shot_front(targeted, state, evaluator, examples, reference)
    meets = edp.min(1) <= target * (1 + 1e-6)
    assert 0 < meets.sum() < len(networks)
    np.testing.assert_array_equal(front["networks"]["feasible"], meets)
    assert front["feasible_networks"] == meets.sum()
    for pair in front["pairs"]:
        assert pair["predicted"]["edp_pj_s"] <= target * (1 + 1e-6)
        assert meets[networks.tolist().index(pair["op_indices"])]
    # the search's pick under the target: the most accurate network by the proxy that meets it
    proxy = np.array(front["networks"]["supernet_val"])
    derived, verdict = network_under_targets(targeted, state, reference, front)
    assert verdict["met"] and "one-shot front" in verdict["picked_by"]
    assert proxy[networks.tolist().index(list(derived.op_indices))] == proxy[meets].max()
    derived, verdict = network_under_targets(targeted, state, reference)   # without a front
    assert verdict["met"] and "most probable" in verdict["picked_by"]
    assert meets[networks.tolist().index(list(derived.op_indices))]


def test_front_is_skipped_with_the_reason_on_crossbars():
    front = one_shot_front(make_setup(load_config("nax_quickstart")), None, None, None, None)
    assert "crossbar-aware" in front["skipped"]


def test_front_is_skipped_with_the_reason_on_a_space_too_large_to_enumerate():
    large = repr(tuple(range(1, 400)))
    setup = make_setup(_config(f"hardware.rows={large}", f"hardware.cols={large}"))
    front = one_shot_front(setup, None, None, None, None)
    assert "over the exact limit" in front["skipped"]


def test_bad_front_networks_fails_before_any_work():
    with pytest.raises(ValueError, match=r"config\.search\.front_networks"):
        make_setup(_config("search.front_networks=-1"))
