"""The joint search on the crossbar template (configs/crossbar_quickstart.py), validated by sim."""

import dataclasses

import pytest

from dianjax.config import load_config
from dianjax.cost.hardware_space import HardwareDesign
from dianjax.search.config import make_setup
from dianjax.search.loop import run_search
from dianjax.search.result import summary_table
from sim import CrossbarEnergyTable, Network, simulate_network


def _config(*overrides):
    return load_config("crossbar_quickstart", [
        "search.warmup_steps=4", "search.steps=4", "data.batch_size=32", "log_every_steps=4",
        "checkpoint_every_steps=8", "search.front_networks=0", *overrides])


@pytest.fixture(scope="module")
def crossbar_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("crossbar")
    return workdir, run_search(_config(), workdir)


def test_the_derived_pair_is_a_crossbar_design_priced_by_sim(crossbar_run):
    _, result = crossbar_run
    setup = make_setup(_config())
    design = HardwareDesign.from_dict(result["hardware"], template="crossbar")
    network = Network.from_dict(result["network"]["sim_network"])
    sizes = design.mappings(network, setup.table)
    assert {mapping.crossbar_size for mapping in sizes.values()} <= {16, 32, 64, 128}
    report = simulate_network(network, design.accelerator, sizes)
    assert result["simulated"]["edap_pj_s_mm2"] == pytest.approx(report.edap_pj_s_mm2, rel=1e-12)
    assert result["simulated"]["crossbars"] == report.crossbars
    assert result["objective"] == "edap"
    for key, error in result["relative_error"].items():   # float32 cost model against sim
        assert abs(error) < 1e-5, (key, error)
    summary = summary_table(result)
    assert "crossbars ADC" in summary and "slots per size" in summary


def test_a_crossbar_energy_table_prices_the_search(tmp_path):
    table = dataclasses.replace(CrossbarEnergyTable(), adc_energy_pj=20.0)
    table.save(tmp_path / "table.json")
    setup = make_setup(_config(f"cost.energy_table={str(tmp_path / 'table.json')!r}"))
    assert setup.energy_table == table
    (tmp_path / "systolic.json").write_text('{"dram_energy_pj_per_64bit": 1.0}')
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['dram_energy_pj_per_64bit'\]"):
        _ = make_setup(_config(f"cost.energy_table={str(tmp_path / 'systolic.json')!r}")
                       ).energy_table


def test_systolic_fields_in_a_crossbar_config_are_named():
    config = _config()
    config.hardware.rows = (8, 16)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['rows'\]"):
        make_setup(config)
