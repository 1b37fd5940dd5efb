"""The loop-nest template of the cost model (DIAN's generic accelerator): equal to sim at discrete
points, and its per-layer mapping the least-EDP candidate (against sim, candidate by candidate)."""

import jax
import numpy as np
import pytest

from dianjax.cost import HardwareDesign, HardwareSpace, design_cost, loopnest_template
from sim import Layer, Network, simulate_network
from sim.loopnest import LoopNestEnergyTable, evaluate
from sim.loopnest.generic import DATAFLOWS, GenericAccelerator
from sim.loopnest.mapping import validate

NETWORK = Network("n", (Layer.conv("conv", C=4, M=8, H=6, W=6, kernel=3),
                        Layer.pointwise("point", C=8, M=12, H=6, W=6),
                        Layer.depthwise("depth", C=12, H=6, W=6, kernel=3, stride=2)))


def test_generic_accelerator_is_a_loop_nest_hierarchy():
    accelerator = GenericAccelerator(pe_rows=4, pe_cols=8, glb_kb=16, rf_words=32)
    assert [level.name for level in accelerator.levels] == ["DRAM", "global_buffer", "pe_regfile"]
    assert accelerator.levels[1].depth_words == 16 * 8192 // 16
    assert accelerator.fanout(1) == (8, 4) and accelerator.compute.instances == 32
    assert GenericAccelerator.from_dict(accelerator.to_dict()) == accelerator
    with pytest.raises(ValueError, match=r"glb_kb=0.001 is not a whole number of 16-bit words"):
        GenericAccelerator(glb_kb=0.001)
    with pytest.raises(ValueError, match=r"GenericAccelerator.pe_rows must be a positive integer"):
        GenericAccelerator(pe_rows=0)


def test_cost_model_equals_sim_at_discrete_points():
    space = HardwareSpace("loopnest")
    assert space.num_accelerators == 243 and space.mapping_choices == DATAFLOWS
    accelerators = list(space.accelerators())
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        for index in rng.choice(len(accelerators), 8, replace=False):
            design = HardwareDesign(accelerators[index], {
                layer.name: DATAFLOWS[rng.integers(len(DATAFLOWS))] for layer in NETWORK})
            cost = design_cost(NETWORK, design)
            report = simulate_network(NETWORK, design.accelerator, design.mappings(NETWORK))
            for key in ("latency_s", "energy_pj", "area_mm2", "edp_pj_s", "edap_pj_s_mm2"):
                assert cost[key] == pytest.approx(getattr(report, key), rel=1e-12), key


def test_each_layer_runs_its_least_edp_valid_candidate():
    accelerator = GenericAccelerator(pe_rows=4, pe_cols=8, glb_kb=4, rf_words=16)
    layer = NETWORK.layers[0]
    for dataflow in DATAFLOWS:
        chosen = loopnest_template.layer_mappings(Network("one", (layer,)), accelerator,
                                                  {layer.name: dataflow})[layer.name]
        problem = loopnest_template._shape(layer)
        best = np.inf
        for candidate in zip(*loopnest_template.candidates(problem, dataflow), strict=True):
            mapping = loopnest_template.to_mapping(
                accelerator, *candidate, {"pe_regfile": (loopnest_template.dataflow_keep(
                    dataflow))})
            try:
                validate(problem, accelerator, mapping)
            except ValueError:
                continue
            best = min(best, evaluate(problem, accelerator, mapping).edp_pj_s)
        assert evaluate(problem, accelerator, chosen).edp_pj_s == pytest.approx(best, rel=1e-12)
        assert chosen.levels[2].keep == loopnest_template.dataflow_keep(dataflow)


def test_an_ert_prices_the_levels_by_name():
    accelerator = GenericAccelerator(pe_rows=4, pe_cols=4, glb_kb=4, rf_words=16)
    table = LoopNestEnergyTable(ert={"global_buffer": {"read": 50.0, "fill": 60.0},
                                     "mac": {"compute": 1.0}})
    design = HardwareDesign(accelerator, dict.fromkeys([layer.name for layer in NETWORK],
                                                       "output_stationary"))
    with jax.enable_x64(True):
        cost = design_cost(NETWORK, design, energy_table=table)
        report = simulate_network(NETWORK, accelerator,
                                  design.mappings(NETWORK, energy_table=table), table)
    assert cost["energy_pj"] == pytest.approx(report.energy_pj, rel=1e-12)
    with pytest.raises(ValueError, match=r"energy_table.ert names \['sram'\], not levels"):
        design_cost(NETWORK, design, energy_table=LoopNestEnergyTable(ert={"sram": {"read": 1}}))
