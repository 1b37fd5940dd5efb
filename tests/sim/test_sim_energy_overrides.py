"""Overriding the energy table: JSON round trip and Accelergy ERT_summary loading, with errors."""

import dataclasses
import json
from pathlib import Path

import pytest

from sim import Accelerator, EnergyTable, Layer, simulate_layer

TABLE = EnergyTable()
ERT = Path(__file__).parent.parent / "data" / "accelergy_ERT_summary.yaml"
BUFFER = "system.chip.GlobalBuffer[1..1]"
NOC = "system.chip.ifmap_NoC"


def _load_fixture(**overrides):
    kwargs = {"word_bits": 16, "sram_kb": {BUFFER: 64}, "clock_mhz": 1000.0, "ignore": (NOC,)}
    return EnergyTable.from_accelergy_ert(ERT, **{**kwargs, **overrides})


# -- JSON ----------------------------------------------------------------------------------------

def test_json_round_trip(tmp_path):
    table = dataclasses.replace(TABLE, node_nm=28, mult_energy_pj=1.5, sram_leakage_uw_per_kb=40.0)
    table.save(tmp_path / "table.json")
    assert EnergyTable.load(tmp_path / "table.json") == table
    assert EnergyTable.from_dict(table.to_dict()) == table


def test_a_partial_json_keeps_the_other_defaults(tmp_path):
    (tmp_path / "partial.json").write_text(json.dumps({"dram_interface_pj_per_bit": 2.0}))
    assert EnergyTable.load(tmp_path / "partial.json") == dataclasses.replace(
        TABLE, dram_interface_pj_per_bit=2.0)


def test_json_errors_name_the_file_and_field(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"EnergyTable.load\('.*list.json'\) needs a JSON object"):
        EnergyTable.load(tmp_path / "list.json")
    (tmp_path / "typo.json").write_text(json.dumps({"mac_pj": 1.0}))
    with pytest.raises(ValueError, match=r"EnergyTable got unknown field\(s\) \['mac_pj'\]"):
        EnergyTable.load(tmp_path / "typo.json")


# -- Accelergy ERT ---------------------------------------------------------------------------------

def test_loads_the_ert_fixture_by_hand():
    table = _load_fixture()
    # DRAM: 512 pJ per 16-bit word
    assert table.dram_energy_pj_per_64bit == pytest.approx(512 * 4)
    assert table.dram_energy_pj(16) == pytest.approx(512)
    # register file: mean of read 0.3 and write 0.5 pJ per 16-bit word
    assert table.register_energy_pj(16) == pytest.approx(0.4)
    # SRAM: mean of read 9 and write 11 pJ per 16-bit word of a 64 KiB bank; leak 0.5 pJ/cycle at
    # 1000 MHz = 500 uW over 64 KiB
    assert table.sram_energy_pj(64, 16) == pytest.approx(10.0)
    assert table.sram_energy_size_exponent == TABLE.sram_energy_size_exponent
    assert table.sram_leakage_uw_per_kb == pytest.approx(500 / 64)
    # MAC: 2 pJ per 16-bit MAC, 0.01 pJ/cycle leak = 10 uW, the mult/add split kept
    assert table.mac_energy_pj(16) == pytest.approx(2.0)
    assert table.mult_energy_pj / table.add_energy_pj == pytest.approx(31.0)
    assert table.pe_leakage_uw(16) == pytest.approx(10.0)
    # untouched fields stay the base's
    assert table.mult_area_um2 == TABLE.mult_area_um2
    assert table.dram_interface_pj_per_bit == TABLE.dram_interface_pj_per_bit


def test_an_ert_table_prices_a_simulation():
    layer = Layer.conv("c", C=16, M=16, H=8, W=8, kernel=3)
    acc = Accelerator(rows=8, cols=8)
    report = simulate_layer(layer, acc, energy_table=_load_fixture())
    assert report.energy.dram_pj == pytest.approx(report.dram_words * 512)
    assert report.energy.mac_pj == pytest.approx(report.macs * 2.0)


def test_the_base_table_supplies_what_the_ert_leaves_out():
    base = dataclasses.replace(TABLE, mult_area_um2=1000.0, sram_energy_size_exponent=0.5)
    table = _load_fixture(base=base)
    assert table.mult_area_um2 == 1000.0
    assert table.sram_energy_pj(64, 16) == pytest.approx(10.0)     # the prefactor refits


def test_multiplier_and_adder_components(tmp_path):
    path = tmp_path / "ERT_summary.yaml"
    path.write_text("""ERT_summary:
  version: '0.4'
  table_summary:
  - name: top.PE[0..3].multiplier
    actions: [{name: multiply, energy: 1.0}, {name: leak, energy: 0.002}]
  - name: top.PE[0..3].adder
    actions: [{name: add, energy: 0.06}]
""")
    table = EnergyTable.from_accelergy_ert(path, word_bits=8, clock_mhz=500)
    assert table.mult_energy_pj == pytest.approx(1.0 * 16)            # (32 / 8) ** 2
    assert table.add_energy_pj == pytest.approx(0.06 * 32 / 32)       # 32-bit accumulator
    assert table.mult_leakage_uw == pytest.approx(0.002 * 500 * 16)
    assert table.add_leakage_uw == TABLE.add_leakage_uw               # no leak action: kept


@pytest.mark.parametrize("overrides, message", [
    ({"ignore": ()}, (r"unrecognised component\(s\) \['system.chip.ifmap_NoC'\]; allowed: a last "
                      r"name segment containing one of \['dram', ")),
    ({"sram_kb": {}}, (r"SRAM component\(s\) \['system.chip.GlobalBuffer\[1..1\]'\] need their "
                       "bank size")),
    ({"clock_mhz": None}, r"leak; pass clock_mhz"),
    ({"word_bits": 0}, "EnergyTable.from_accelergy_ert.word_bits must be a positive integer"),
    ({"sram_kb": {BUFFER: -1}}, r"sram_kb\['system.chip.GlobalBuffer\[1..1\]'\] must be a number"),
])
def test_ert_errors_name_the_entry(overrides, message):
    with pytest.raises(ValueError, match=message):
        _load_fixture(**overrides)


@pytest.mark.parametrize("text, message", [
    ("just: a mapping\n", "not an Accelergy ERT summary; allowed: a YAML mapping 'ERT_summary'"),
    ("ERT_summary:\n  table_summary:\n  - name: x.DRAM\n    actions: [{name: idle, energy: 0}]\n",
     r"component 'x.DRAM' \(dram\) has none of the actions \['read', 'write'\]; found \['idle'\]"),
    (("ERT_summary:\n  table_summary:\n  - name: x.mac\n    actions: [{name: mac, energy: 1}]\n"
      "  - name: x.multiplier\n    actions: [{name: multiply, energy: 1}]\n"),
     r"mix a 'mac' with a 'multiplier' or 'adder'"),
    (("ERT_summary:\n  table_summary:\n  - name: x.DRAM\n    actions: [{name: read, energy: 1}, "
      "{name: leak, energy: 3}]\n"), r"\['x.DRAM'\] leak, but the table has no leakage field"),
    ("ERT_summary:\n  table_summary:\n  - name: x.DRAM\n    actions: [{name: read, energy: -1}]\n",
     r"action 'read' needs an 'energy' or 'average_energy' >= 0"),
    ("ERT_summary:\n  table_summary:\n  - actions: []\n", "needs a 'name' and an 'actions' list"),
])
def test_malformed_erts_raise_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "ERT_summary.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        EnergyTable.from_accelergy_ert(path, word_bits=16, clock_mhz=1000)
