"""Multi-host: the quickstart search as 2 processes on localhost (one CPU device each, one JAX cluster
through the standard environment variables) equals 1 process with 2 devices."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

STEPS = ["--config.search.warmup_steps=0", "--config.search.steps=3",
         "--config.log_every_steps=1", "--config.checkpoint_every_steps=2"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _launch(workdir, devices: int, extra_env: dict) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "DIANJAX_COMPILATION_CACHE": "off",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", **extra_env}
    return subprocess.Popen(
        [sys.executable, "-m", "dianjax.cli", "search", "--workdir", str(workdir), *STEPS],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(processes) -> list[str]:
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0, out[-3000:]
        outputs.append(out)
    return outputs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("multihost")
    cluster = {"JAX_COORDINATOR_ADDRESS": f"localhost:{_free_port()}", "JAX_NUM_PROCESSES": "2"}
    two_hosts = [_launch(root / "hosts", 1, {**cluster, "JAX_PROCESS_ID": str(i)})
                 for i in range(2)]
    outputs = _wait(two_hosts)
    _wait([_launch(root / "devices", 2, {})])
    return root, outputs


def _metrics(workdir):
    return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_equal_one_process_with_two_devices(runs):
    root, _ = runs
    hosts = json.loads((root / "hosts" / "result.json").read_text())
    devices = json.loads((root / "devices" / "result.json").read_text())
    assert hosts["network"] == devices["network"]
    assert hosts["hardware"] == devices["hardware"]
    assert hosts["simulated"] == devices["simulated"]
    for split in ("supernet_val", "supernet_test"):
        assert hosts["accuracy"][split] == pytest.approx(devices["accuracy"][split], abs=1e-9)
    host_metrics, device_metrics = _metrics(root / "hosts"), _metrics(root / "devices")
    assert [r["step"] for r in host_metrics] == [r["step"] for r in device_metrics] == [1, 2, 3]
    for a, b in zip(host_metrics, device_metrics):
        for key in ("train_loss", "train_accuracy", "val_loss", "hw_cost", "arch_entropy"):
            if key in b:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-5, err_msg=key)
        np.testing.assert_allclose(a["op_probs"], b["op_probs"], rtol=1e-5)


def test_only_process_zero_writes_and_both_see_the_whole_cluster(runs):
    root, outputs = runs
    run_info = json.loads((root / "hosts" / "run_info.json").read_text())
    assert len(run_info["devices"]) == 2
    assert sum("->" in out for out in outputs) == 2     # both finish and print the summary
    assert len(_metrics(root / "hosts")) == 3           # one writer: no duplicated records
