"""SCALE-Sim's USER-bandwidth memory model, re-implemented: equal to SCALE-Sim 3.0.0 on every case.

The reference figures are SCALE-Sim's own (``benchmarks/scalesim_crosscheck.py --memory
--record-memory tests/data/scalesim_user_reference.json``); SCALE-Sim is not needed here.
"""

import json
import math
from pathlib import Path

import pytest

from sim import Accelerator, Layer, Mapping
from sim.systolic.scalesim_memory import (
    ScalesimMemory,
    scalesim_memory,
    scalesim_parameters,
)

REFERENCE = Path(__file__).parents[1] / "data" / "scalesim_user_reference.json"
LAYER = Layer.conv("c", C=8, M=16, H=8, W=8, kernel=3)


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())


def test_reference_cases_stall_and_cover_every_dataflow():
    cases = _reference()["cases"]
    assert {case["accelerator"]["dataflow"] for case in cases} == {"ws", "os", "is"}
    stalling = sum(case["per_group"]["stall_cycles"] > 0 for case in cases)
    assert stalling >= len(cases) // 4


def test_reference_configs_are_what_scalesim_parameters_gives():
    """Each case was run with the SCALE-Sim values our mapping of its accelerator gives."""
    for case in _reference()["cases"]:
        params = scalesim_parameters(Accelerator.from_dict(case["accelerator"]))
        values = case["scalesim_config_values"]
        assert (values["ArrayHeight"], values["ArrayWidth"], values["Dataflow"],
                values["IfmapSramSzkB"], values["FilterSramSzkB"], values["OfmapSramSzkB"],
                values["Bandwidth"], values["IfmapSRAMBankBandwidth"],
                values["FilterSRAMBankBandwidth"]) == (
            params["rows"], params["cols"], params["dataflow"], params["ifmap_sram_kb"],
            params["filter_sram_kb"], params["ofmap_sram_kb"], params["bandwidth"],
            params["bandwidth"], params["bandwidth"])


def test_equals_scalesim_on_every_recorded_case():
    mismatches = []
    for index, case in enumerate(_reference()["cases"]):
        layer = Layer.from_dict(case["layer"])
        accelerator = Accelerator.from_dict(case["accelerator"])
        expected = ScalesimMemory(*(case["per_group"][name] * layer.groups
                                    for name in ScalesimMemory._fields))
        got = scalesim_memory(layer, accelerator)
        if got != expected:
            mismatches.append(f"case {index} {layer.name} {accelerator}: SCALE-Sim {expected}, "
                              f"ours {got}")
    assert not mismatches, f"{len(mismatches)} cases differ:\n" + "\n".join(mismatches)


def test_groups_multiply_one_group():
    grouped = Layer.conv("g", C=8, M=8, H=6, W=6, kernel=3, groups=2)
    one = Layer.conv("g1", C=4, M=4, H=6, W=6, kernel=3)
    acc = Accelerator(rows=8, cols=8, ifmap_sram_kb=1, filter_sram_kb=1, ofmap_sram_kb=1,
                      word_bits=8, dram_bandwidth_words_per_cycle=10)
    assert scalesim_memory(grouped, acc) == ScalesimMemory(
        *(2 * value for value in scalesim_memory(one, acc)))


def test_parameters_count_scalesim_kb_in_words():
    acc = Accelerator(ifmap_sram_kb=64, filter_sram_kb=2, ofmap_sram_kb=4, word_bits=16,
                      dram_bandwidth_words_per_cycle=20.0)
    assert scalesim_parameters(acc) == {"rows": 32, "cols": 32, "dataflow": "ws",
                                        "ifmap_sram_kb": 32, "filter_sram_kb": 1,
                                        "ofmap_sram_kb": 2, "bandwidth": 20}


@pytest.mark.parametrize("field, value", [("ifmap_sram_kb", 1.5), ("filter_sram_kb", 1),
                                          ("ofmap_sram_kb", 0.25)])
def test_rejects_sram_not_whole_scalesim_kb(field, value):
    acc = Accelerator(word_bits=16, **{field: value})
    with pytest.raises(ValueError, match=f"Accelerator.{field}=.*allowed"):
        scalesim_memory(LAYER, acc)


@pytest.mark.parametrize("bandwidth", [12.5, math.inf])
def test_rejects_non_integer_bandwidth(bandwidth):
    acc = Accelerator(dram_bandwidth_words_per_cycle=bandwidth)
    with pytest.raises(ValueError, match="dram_bandwidth_words_per_cycle=.*allowed: a whole"):
        scalesim_memory(LAYER, acc)


def test_rejects_other_fold_orders():
    with pytest.raises(ValueError, match="fold_order.*col_outer"):
        scalesim_memory(LAYER, Accelerator(), Mapping(fold_order="row_outer"))
    assert scalesim_memory(LAYER, Accelerator(), Mapping()) == scalesim_memory(LAYER, Accelerator())


@pytest.mark.parametrize("args", [("layer", Accelerator()), (LAYER, "accelerator"),
                                  (LAYER, Accelerator(), "col_outer")])
def test_rejects_wrong_types(args):
    with pytest.raises(TypeError, match="must be a sim"):
        scalesim_memory(*args)
