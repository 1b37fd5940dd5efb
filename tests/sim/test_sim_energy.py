"""The energy/area table and the systolic array's pricing: sources, width scaling, hand-worked
leakage, DRAM interface, read-modify-write and accumulator terms, monotonicity, validation."""

import dataclasses
import math

import pytest

from sim import Accelerator, EnergyTable, Layer, simulate_layer
from sim.systolic.energy import accelerator_area_mm2, layer_energy, ofmap_sram_reads

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


@pytest.mark.parametrize("bits, mult_pj, accumulator_bits", [(32, 3.1, 80), (8, 3.1 / 16, 32)])
def test_mac_is_a_word_multiply_and_an_accumulator_wide_add(bits, mult_pj, accumulator_bits):
    # Horowitz's 32-bit multiply scales with the square of the width; the add is 2 * bits + 16 wide
    assert TABLE.accumulator_bits(bits) == accumulator_bits
    assert TABLE.mac_energy_pj(bits) == pytest.approx(mult_pj + 0.1 * accumulator_bits / 32)


def test_linear_width_scaling_of_register_dram_and_interface():
    assert TABLE.register_energy_pj(16) == pytest.approx(0.5)
    assert TABLE.dram_energy_pj(64) == pytest.approx(1300.0)
    assert TABLE.dram_energy_pj(16) == pytest.approx(325.0)
    assert TABLE.dram_interface_energy_pj(16) == pytest.approx(16 * 0.868)


def test_area_by_hand():
    acc = Accelerator(rows=2, cols=3, word_bits=32, ifmap_sram_kb=4, filter_sram_kb=2,
                      ofmap_sram_kb=1, dram_bandwidth_words_per_cycle=16, clock_mhz=500)
    pe_um2 = 3495 + 137 * 80 / 32 + 3 * 32 * 7.57        # multiplier, 80-bit adder, 3 registers
    interface_gbps = 16 * 32 * 500 / 8000                  # 16 words of 32 bits at 500 MHz: 32 GB/s
    assert TABLE.pe_area_mm2(32) == pytest.approx(pe_um2 / 1e6)
    assert accelerator_area_mm2(acc, TABLE) == pytest.approx(
        6 * pe_um2 / 1e6 + 7 * 0.00567 + interface_gbps * 0.0201)


def test_layer_energy_by_component():
    # 2 x 2 PEs, 16-bit words, SRAMs of 16, 64 and 2 KiB, 250 MHz
    accelerator = (4, 16, (16, 64, 2), 250.0)
    energy = layer_energy(100, (10, 20, 30), 40, 5, 1000, accelerator, TABLE)
    assert energy.mac_pj == pytest.approx(100 * (3.1 / 4 + 0.1 * 48 / 32))
    assert energy.register_pj == pytest.approx(100 * 3 * 0.5)
    assert energy.ifmap_sram_pj == pytest.approx(10 * TABLE.sram_energy_pj(8, 16))
    assert energy.filter_sram_pj == pytest.approx(20 * TABLE.sram_energy_pj(32, 16))
    # 30 word accesses (DRAM side) and 40 accumulator-wide (48-bit) ones by the array
    assert energy.ofmap_sram_pj == pytest.approx(30 * TABLE.sram_energy_pj(1, 16)
                                                 + 40 * TABLE.sram_energy_pj(1, 48))
    assert energy.dram_pj == pytest.approx(5 * 325.0)
    assert energy.dram_interface_pj == pytest.approx(5 * 16 * 0.868)
    pe_uw = 90.0 / 4 + 2.7 * 48 / 32
    assert energy.leakage_pj == pytest.approx(1000 * (4 * pe_uw + 82 * 221.0) / 250.0)
    assert energy.total_pj == pytest.approx(sum(energy))


# -- the terms on a simulated layer, worked by hand ---------------------------------------------------

LAYER = Layer.conv("c", C=8, M=4, H=4, W=4, kernel=3)   # 3x3 'same': 16 pixels, window 72
SMALL = Accelerator(rows=32, cols=4, ifmap_sram_kb=8, filter_sram_kb=8, ofmap_sram_kb=4,
                    word_bits=16, clock_mhz=250, dram_bandwidth_words_per_cycle=4)


def test_leakage_by_hand_runs_for_every_cycle():
    report = simulate_layer(LAYER, SMALL)
    pe_uw = 90.0 * (16 / 32) ** 2 + 2.7 * 48 / 32         # 22.5 + 4.05 uW
    per_cycle_pj = (128 * pe_uw + 20 * 221.0) / 250        # uW / MHz = pJ per cycle
    assert report.energy.leakage_pj == pytest.approx(report.total_cycles * per_cycle_pj)


def test_stall_cycles_cost_leakage():
    fast = simulate_layer(LAYER, dataclasses.replace(SMALL, dram_bandwidth_words_per_cycle=64))
    slow = simulate_layer(LAYER, dataclasses.replace(SMALL, dram_bandwidth_words_per_cycle=0.5))
    assert slow.stall_cycles > fast.stall_cycles
    assert slow.energy.leakage_pj > fast.energy.leakage_pj
    per_cycle_pj = fast.energy.leakage_pj / fast.total_cycles
    assert slow.energy.leakage_pj - fast.energy.leakage_pj == pytest.approx(
        (slow.total_cycles - fast.total_cycles) * per_cycle_pj)
    assert slow.energy_pj > fast.energy_pj


def test_dram_interface_energy_by_hand():
    report = simulate_layer(LAYER, SMALL)
    assert report.dram_words > 0
    assert report.energy.dram_interface_pj == pytest.approx(report.dram_words * 16 * 0.868)


def test_wider_interface_costs_more_area_and_unbounded_is_infinite():
    areas = [accelerator_area_mm2(dataclasses.replace(SMALL, dram_bandwidth_words_per_cycle=bw),
                                  TABLE) for bw in (1, 4, 16, 64)]
    assert areas == sorted(areas) and len(set(areas)) == 4
    # each added word per cycle: 16 bits at 250 MHz = 0.5 GB/s of PHY
    assert areas[1] - areas[0] == pytest.approx(3 * 0.5 * 0.0201)
    unbounded = dataclasses.replace(SMALL, dram_bandwidth_words_per_cycle=math.inf)
    assert accelerator_area_mm2(unbounded, TABLE) == math.inf
    report = simulate_layer(LAYER, unbounded)
    assert report.area_mm2 == math.inf and report.stall_cycles == 0
    assert math.isfinite(report.energy_pj) and report.energy.dram_interface_pj > 0


@pytest.mark.parametrize("dataflow, reads", [("ws", 128), ("is", 128), ("os", 0)])
def test_read_modify_write_reads_by_hand(dataflow, reads):
    # ws: S_r = window 72 over 32 rows = 3 row folds, each writing 16 pixels x 4 filters = 64
    # partial sums: 192 writes of 64 outputs, so 128 reads of an old partial sum. is: the same
    # (S_r = 72, T x S_c = 4 filters x 16 pixels). os accumulates in the PE: none.
    report = simulate_layer(LAYER, dataclasses.replace(SMALL, dataflow=dataflow))
    assert report.ofmap_sram_reads == reads
    if dataflow != "os":
        assert report.ofmap_sram_writes == 192
    assert report.ofmap_sram_reads == ofmap_sram_reads(report.ofmap_sram_writes, 64,
                                                       int(dataflow != "os"))


def test_read_modify_write_reads_of_a_grouped_layer_scale_with_groups():
    depthwise = Layer.depthwise("dw", C=8, H=4, W=4, kernel=3)    # window 9: one row fold
    assert simulate_layer(depthwise, SMALL).ofmap_sram_reads == 0
    deep = Layer.conv("g", C=8 * 40, M=8, H=4, W=4, kernel=1, groups=8)  # window 40: 2 row folds
    report = simulate_layer(deep, SMALL)
    assert report.ofmap_sram_reads == 8 * (2 * 16 * 1 - 16)


def test_partial_sums_are_priced_accumulator_wide():
    report = simulate_layer(LAYER, SMALL)
    word = TABLE.sram_energy_pj(2, 16)          # a 16-bit access of the 2 KiB ofmap bank
    psum = TABLE.sram_energy_pj(2, 48)          # a 48-bit partial sum, 3 words' worth
    assert psum == pytest.approx(3 * word)
    array_side = report.ofmap_sram_writes + report.ofmap_sram_reads
    dram_side = report.ofmap_dram_reads + report.ofmap_dram_writes
    assert report.energy.ofmap_sram_pj == pytest.approx(array_side * psum + dram_side * word)


def test_overriding_the_table_changes_the_simulation():
    layer = Layer.conv("c", C=16, M=16, H=8, W=8, kernel=3)
    acc = Accelerator(rows=8, cols=8)
    base = simulate_layer(layer, acc)
    cheap_dram = simulate_layer(layer, acc, energy_table=dataclasses.replace(
        TABLE, dram_energy_pj_per_64bit=130.0))
    assert cheap_dram.energy.dram_pj == pytest.approx(base.energy.dram_pj / 10)
    assert cheap_dram.energy.mac_pj == base.energy.mac_pj
    assert cheap_dram.total_cycles == base.total_cycles
    no_leakage = dataclasses.replace(TABLE, mult_leakage_uw=0.0, add_leakage_uw=0.0,
                                     sram_leakage_uw_per_kb=0.0)
    assert simulate_layer(layer, acc, energy_table=no_leakage).energy.leakage_pj == 0


@pytest.mark.parametrize("changes, message", [
    ({"mult_energy_pj": 0}, "EnergyTable.mult_energy_pj must be a number > 0, got 0"),
    ({"sram_area_mm2_per_kb": -1.0}, "EnergyTable.sram_area_mm2_per_kb must be a number > 0"),
    ({"pe_register_words": 1.5}, "EnergyTable.pe_register_words must be a positive integer"),
    ({"sram_energy_size_exponent": 1.5},
     r"EnergyTable.sram_energy_size_exponent must be a number in \[0, 1\], got 1.5"),
    ({"accumulator_guard_bits": -1},
     "EnergyTable.accumulator_guard_bits must be an integer >= 0, got -1"),
    ({"sram_leakage_uw_per_kb": -2.0},
     r"EnergyTable.sram_leakage_uw_per_kb must be a number in \[0, inf\), got -2.0"),
    ({"dram_interface_mm2_per_gbps": 0.0},
     "EnergyTable.dram_interface_mm2_per_gbps must be a number > 0, got 0.0"),
])
def test_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TABLE, **changes)
