"""The joint search on the loop-nest template (configs/loopnest_quickstart.py), validated by sim."""

import pytest

from dianjax.config import load_config
from dianjax.cost.hardware_space import HardwareDesign
from dianjax.search.config import make_setup
from dianjax.search.loop import run_search
from dianjax.search.result import summary_table
from sim import Network, simulate_network
from sim.loopnest.generic import DATAFLOWS, GenericAccelerator


def _config():
    return load_config("loopnest_quickstart", [
        "search.warmup_steps=4", "search.steps=4", "data.batch_size=32", "log_every_steps=4",
        "checkpoint_every_steps=8", "search.front_networks=0"])


@pytest.fixture(scope="module")
def loopnest_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("loopnest")
    return workdir, run_search(_config(), workdir)


def test_the_derived_pair_is_a_generic_accelerator_priced_by_sim(loopnest_run):
    _, result = loopnest_run
    setup = make_setup(_config())
    design = HardwareDesign.from_dict(result["hardware"], template="loopnest")
    assert isinstance(design.accelerator, GenericAccelerator)
    assert set(design.fold_orders.values()) <= set(DATAFLOWS)
    network = Network.from_dict(result["network"]["sim_network"])
    mappings = design.mappings(network, setup.table)
    report = simulate_network(network, design.accelerator, mappings)
    assert result["simulated"]["edp_pj_s"] == pytest.approx(report.edp_pj_s, rel=1e-12)
    for key, error in result["relative_error"].items():   # float32 cost model against sim
        assert abs(error) < 1e-5, (key, error)
    assert "PEs" in summary_table(result) and "slots per dataflow" in summary_table(result)
