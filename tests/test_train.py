"""Final training: optimizer, loss, pure steps, and a tiny run on digits that resumes exactly."""

import functools
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dianjax import data, train
from dianjax.config import load_config
from dianjax.nas.search_space import SearchSpace
from dianjax.nas.supernet import DerivedNetwork

SPACE = SearchSpace(image_size=8, in_channels=1, num_classes=10, stem_channels=4,
                    stages=((4, 1, 1), (8, 1, 2)), op_names=("mb_k3_e3", "skip"),
                    head_channels=16)


def _state(total_steps=10, weight_decay=5e-4):
    tx, schedule = train.make_optimizer(0.1, 0.9, True, weight_decay, total_steps)
    model = DerivedNetwork.from_op_names(SPACE, ("skip", "mb_k3_e3")).model
    return train.create_train_state(jax.random.key(0), model, (8, 8, 1), tx), schedule


def test_weight_decay_only_on_kernels_and_cosine_schedule():
    state, schedule = _state(total_steps=10, weight_decay=0.1)
    zero_grads = jax.tree.map(jnp.zeros_like, state.params)
    updates, _ = state.tx.update(zero_grads, state.opt_state, state.params)
    for path, update in jax.tree_util.tree_leaves_with_path(updates):
        param = state.params
        for key in path:
            param = param[key.key]
        if path[-1].key == "kernel":
            # first Nesterov step from zero momentum: -lr * (1 + momentum) * weight_decay * param
            np.testing.assert_allclose(update, -0.1 * 1.9 * 0.1 * param, rtol=1e-5, atol=1e-8)
        else:
            assert not np.any(update), path
    assert [float(schedule(s)) for s in (0, 5, 10)] == pytest.approx([0.1, 0.05, 0.0], abs=1e-7)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_label_smoothing(smoothing):
    logits = jnp.array([[2.0, 0.0, -1.0]])
    log_p = jax.nn.log_softmax(logits)[0]
    expected = -((1 - smoothing) * log_p[0] + smoothing / 3 * log_p.sum())
    assert float(train.cross_entropy(logits, jnp.array([0]), smoothing)[0]) == pytest.approx(
        float(expected), rel=1e-6)


def test_train_step_is_pure_and_lowers_the_loss():
    state, _ = _state(total_steps=30)
    images = jax.random.normal(jax.random.key(1), (16, 8, 8, 1))
    batch = {"image": images, "label": jnp.arange(16) % 10}
    step = jax.jit(functools.partial(train.train_step, label_smoothing=0.0))
    first, metrics0 = step(state, batch)
    again, _ = step(state, batch)
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(again.params)):
        np.testing.assert_array_equal(a, b)
    for _ in range(20):
        first, metrics = step(first, batch)
    assert int(first.step) == 21 and float(metrics["loss"]) < 0.8 * float(metrics0["loss"])
    logits = np.asarray(first.apply_fn({"params": first.params, "batch_stats": first.batch_stats},
                                       images, train=False), np.float64)
    predicted, mask = logits.argmax(-1), np.arange(16) < 10
    # The masked-out examples are labelled as predicted: counting them would add 6 correct.
    labels = np.where(mask, np.arange(16) % 10, predicted)
    sums = jax.jit(train.eval_step)(first, {"image": images, "label": jnp.asarray(labels),
                                            "mask": jnp.asarray(mask)})
    assert float(sums["count"]) == 10
    assert float(sums["correct"]) == np.sum(predicted[mask] == labels[mask])
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    expected_loss = -log_p[mask, labels[mask]].sum()
    assert float(sums["loss_sum"]) == pytest.approx(expected_loss, rel=1e-5)


def _config(**overrides):
    config = load_config("train_derived")
    config.update({**dict(num_epochs=2, batch_size=64, log_every_steps=5, eval_every_epochs=1,
                          checkpoint_every_steps=22), **overrides})
    return config


def test_train_and_evaluate_resumes_from_a_checkpoint_exactly(tmp_path):
    config = _config()
    full = train.train_and_evaluate(config, tmp_path / "full")
    assert full["steps"] == 44 and full["resumed_from_step"] == 0
    assert 0.3 < full["test_accuracy"] <= 1.0  # 2 epochs on digits: well above chance (0.1)
    saved = json.loads((tmp_path / "full" / train.RESULT_FILE).read_text())
    assert saved["test_accuracy"] == full["test_accuracy"] and saved["ops"] == list(config.ops)
    # An interrupted run: the same directory as it was after step 22.
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "44")
    resumed = train.train_and_evaluate(config, tmp_path / "cut")
    assert resumed["resumed_from_step"] == 22
    for key in ("test_accuracy", "test_loss", "final_train_loss"):
        assert resumed[key] == full[key], key
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "metrics.jsonl").open()]
    assert steps == sorted(set(steps)) and steps[-1] == 44


def test_val_split_trains_on_search_train_and_evaluates_on_search_val(tmp_path):
    config = _config(eval_split="val", val_fraction=0.25, split_seed=3)
    result = train.train_and_evaluate(config, tmp_path)
    search_train = data.load("digits", "search_train", val_fraction=0.25, split_seed=3)
    assert result["eval_split"] == "val" and "test_accuracy" not in result
    assert result["steps"] == 2 * search_train.steps_per_epoch(64) < 2 * data.load(
        "digits", "train").steps_per_epoch(64)
    assert 0.3 < result["val_accuracy"] <= 1.0  # 2 epochs on digits: well above chance (0.1)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert logged[-1]["val_accuracy"] == result["val_accuracy"]
    # The accuracy is a count over the len(search_val) = 359 held-out examples (test has 360).
    val = data.load("digits", "search_val", val_fraction=0.25, split_seed=3)
    assert len(val) + len(search_train) == len(data.load("digits", "train")) and len(val) == 359
    correct = result["val_accuracy"] * len(val)
    assert abs(correct - round(correct)) < 1e-6


@pytest.mark.parametrize("overrides,message", [
    (dict(eval_split="train"), r"config\.eval_split must be one of \['test', 'val'\]"),
    (dict(val_fraction=1.0), r"config\.val_fraction must be a number in \(0, 1\)"),
    (dict(split_seed=-1), r"config\.split_seed must be an integer >= 0"),
    (dict(dataset="svhn"), r"config\.dataset must be one of"),
    (dict(space="cifar"), r"config\.space='cifar' takes 32x32x3 images but config\.dataset='digits'"),
    (dict(ops=("mb_k3_e3",)), r"config\.ops must name one op per searchable layer .* \(4\), got 1"),
    (dict(ops=("mb_k3_e3", "mb_k3_e3", "skip", "mb_k3_e3")),
     r"op_indices\[2\]=4 is not an available op"),
    (dict(ops=("mb_k7_e6",) * 4), r"config\.ops must be one of"),
    (dict(batch_size=0), r"config\.batch_size must be a positive integer"),
    (dict(label_smoothing=1.5), r"config\.label_smoothing must be a number in \[0, 1\)"),
])
def test_bad_config_fails_before_training(overrides, message):
    config = _config()
    config.update(overrides)
    with pytest.raises(ValueError, match=message):
        train.derived_from_config(config)


def test_cli_reports_bad_override(capsys):
    assert train.main(["--config.num_epochs=zero"], prog="dianjax train") == 2
    assert "num_epochs" in capsys.readouterr().err


def test_cli_refuses_a_bad_schedule_on_stderr(capsys):
    from dianjax.cli import main as dianjax_main

    assert dianjax_main(["train", "--config.label_smoothing=1.0"]) == 2
    captured = capsys.readouterr()
    assert "error: config.label_smoothing must be a number in [0, 1)" in captured.err
    assert captured.out == ""


def test_resume_refuses_a_different_config(tmp_path):
    (tmp_path / "config.json").write_text(_config().to_json())
    with pytest.raises(ValueError, match=r"different config \(changed: \['num_epochs'\]\)"):
        train.train_and_evaluate(_config(num_epochs=3), tmp_path)


def _analog_config(*overrides):
    return load_config("train_derived", [
        "space=nax_quickstart", "ops=('skip', 'res_k3', 'res_k3', 'skip')", "analog.enabled=True",
        "num_epochs=1", "batch_size=32", "eval_batch_size=120", "analog.eval_samples=2",
        *overrides])


@pytest.mark.parametrize(("override", "message"), [
    ("analog.crossbar_sizes=(16, 32)", r"config.analog.crossbar_sizes must give one size, or one "
                                       r"per mapping slot of space 'nax_quickstart' \(14"),
    ("analog.crossbar_sizes=(48,)", r"config.analog.crossbar_sizes must be one of"),
    ("analog.adc_bits=0", r"config.analog.adc_bits must be an integer in"),
    ("analog.dac_bits=9", r"config.analog.dac_bits"),
    ("analog.eval_samples=1", r"config.analog.eval_samples must be >= 2"),
])
def test_bad_analog_training_settings_are_named(override, message):
    config = _analog_config(override)
    with pytest.raises(ValueError, match=message):
        train.analog_models(config, train.derived_from_config(config))


def test_noise_aware_training_on_crossbars_reports_accuracy_over_chips(tmp_path):
    result = train.train_and_evaluate(_analog_config("analog.crossbar_sizes=(32,)"), tmp_path)
    measured = result["test_accuracy_crossbar"]
    assert len(measured["samples"]) == 2 and 0 <= measured["mean"] <= 1
    assert measured["mean"] == pytest.approx(np.mean(measured["samples"]))
    assert result["analog"]["crossbar_sizes"] == (32,) or result["analog"]["crossbar_sizes"] == [32]
    # a digital network of the same ops has the same variables: the analog path adds none
    digital = train.derived_from_config(_analog_config()).model
    variables = digital.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), train=False)
    analog = train.analog_models(_analog_config(), train.derived_from_config(_analog_config()))
    analog_variables = analog[0].init({"params": jax.random.key(0), "crossbar": jax.random.key(1)},
                                      jnp.zeros((1, 8, 8, 1)), train=False)
    assert jax.tree.structure(variables) == jax.tree.structure(analog_variables)
