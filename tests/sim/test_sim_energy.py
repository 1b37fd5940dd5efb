"""The energy/area table: its sources, width scaling, overrides and validation."""

import dataclasses

import pytest

from sim import Accelerator, EnergyTable, Layer, simulate_layer
from sim.systolic.energy import accelerator_area_mm2, layer_energy

TABLE = EnergyTable()


@pytest.mark.parametrize("kb, horowitz_pj", [(8, 10.0), (32, 20.0), (1024, 100.0)])
def test_sram_power_law_fits_horowitz_points(kb, horowitz_pj):
    # Horowitz ISSCC 2014: 64-bit cache accesses at 45 nm
    assert TABLE.sram_energy_pj(kb, 64) == pytest.approx(horowitz_pj, rel=0.03)


def test_sram_energy_grows_with_size_and_width():
    sizes = [0.5, 1, 4, 16, 64, 256]
    energies = [TABLE.sram_energy_pj(kb, 16) for kb in sizes]
    assert energies == sorted(energies)
    assert TABLE.sram_energy_pj(16, 32) == pytest.approx(2 * TABLE.sram_energy_pj(16, 16))


@pytest.mark.parametrize("bits, mult_pj, add_pj", [(32, 3.1, 0.1), (8, 0.2, 0.03)])
def test_mac_energy_matches_horowitz_integer_ops(bits, mult_pj, add_pj):
    # 32-bit entries are the table; 8-bit ones follow from quadratic / linear width scaling
    assert TABLE.mac_energy_pj(bits) == pytest.approx(mult_pj + add_pj, rel=0.1)


def test_linear_width_scaling_of_register_and_dram():
    assert TABLE.register_energy_pj(16) == pytest.approx(0.5)
    assert TABLE.dram_energy_pj(64) == pytest.approx(1300.0)
    assert TABLE.dram_energy_pj(16) == pytest.approx(325.0)


def test_area_by_hand():
    acc = Accelerator(rows=2, cols=3, word_bits=32, ifmap_sram_kb=4, filter_sram_kb=2,
                      ofmap_sram_kb=1)
    pe_um2 = 3495 + 137 + 3 * 32 * 7.57
    assert TABLE.pe_area_mm2(32) == pytest.approx(pe_um2 / 1e6)
    assert accelerator_area_mm2(acc, TABLE) == pytest.approx(6 * pe_um2 / 1e6 + 7 * 0.00567)


def test_layer_energy_by_component():
    acc = Accelerator(word_bits=32, ifmap_sram_kb=16, filter_sram_kb=64, ofmap_sram_kb=2)
    energy = layer_energy(100, (10, 20, 30), 5, acc.word_bits,
                          (acc.ifmap_sram_kb, acc.filter_sram_kb, acc.ofmap_sram_kb), TABLE)
    assert energy.mac_pj == pytest.approx(100 * 3.2)
    assert energy.register_pj == pytest.approx(100 * 3 * 1.0)
    assert energy.ifmap_sram_pj == pytest.approx(10 * TABLE.sram_energy_pj(8, 32))
    assert energy.filter_sram_pj == pytest.approx(20 * TABLE.sram_energy_pj(32, 32))
    assert energy.ofmap_sram_pj == pytest.approx(30 * TABLE.sram_energy_pj(1, 32))
    assert energy.dram_pj == pytest.approx(5 * 650.0)
    assert energy.total_pj == pytest.approx(energy.mac_pj + energy.register_pj + energy.sram_pj
                                            + energy.dram_pj)


def test_overriding_the_table_changes_the_simulation():
    layer = Layer.conv("c", C=16, M=16, H=8, W=8, kernel=3)
    acc = Accelerator(rows=8, cols=8)
    base = simulate_layer(layer, acc)
    cheap_dram = simulate_layer(layer, acc, energy_table=dataclasses.replace(
        TABLE, dram_energy_pj_per_64bit=130.0))
    assert cheap_dram.energy.dram_pj == pytest.approx(base.energy.dram_pj / 10)
    assert cheap_dram.energy.mac_pj == base.energy.mac_pj
    assert cheap_dram.total_cycles == base.total_cycles


def test_round_trips_through_dict():
    table = dataclasses.replace(TABLE, node_nm=28, mult_energy_pj=1.5)
    assert EnergyTable.from_dict(table.to_dict()) == table


@pytest.mark.parametrize("changes, message", [
    ({"mult_energy_pj": 0}, "EnergyTable.mult_energy_pj must be a number > 0, got 0"),
    ({"sram_area_mm2_per_kb": -1.0}, "EnergyTable.sram_area_mm2_per_kb must be a number > 0"),
    ({"pe_register_words": 1.5}, "EnergyTable.pe_register_words must be a positive integer"),
    ({"sram_energy_size_exponent": 1.5},
     r"EnergyTable.sram_energy_size_exponent must be a number in \[0, 1\], got 1.5"),
])
def test_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TABLE, **changes)


def test_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"EnergyTable got unknown field\(s\) \['mac_pj'\]"):
        EnergyTable.from_dict({"mac_pj": 1.0})
