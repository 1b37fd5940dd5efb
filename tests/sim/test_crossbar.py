"""The crossbar template: hand-worked NeuroSim-style counts, ISAAC's figures, validation, JSON,
dispatch and network totals."""

import dataclasses
import json

import pytest

import sim
from sim import (
    CrossbarAccelerator,
    CrossbarEnergyTable,
    CrossbarMapping,
    CrossbarNetworkReport,
    EnergyTable,
    Layer,
    Mapping,
    crossbar_counts,
    simulate_layer,
    simulate_network,
)
from sim.crossbar import lossless_adc_bits

# -- hand-worked layers ---------------------------------------------------------------------------


def test_conv_3x3x64_to_64_on_128_crossbars():
    layer = Layer.conv("c", C=64, M=64, H=8, W=8, kernel=3)
    acc = CrossbarAccelerator(crossbar_size=128, cell_bits=2, weight_bits=8, input_bits=8,
                              dac_bits=1, columns_per_adc=128, crossbars_per_tile=8)
    counts = crossbar_counts(layer, acc)
    # weight matrix: rows = 3*3*64 = 576 inputs of the window; a weight is 8/2 = 4 cells wide,
    # so columns = 64 filters * 4 = 256.
    # rows: 576 / 128 -> 5 row tiles (4 full, the last holds 576 - 512 = 64 rows);
    # columns: 128 / 4 = 32 whole filters per crossbar -> 64 / 32 = 2 column tiles, all full.
    assert (counts.row_tiles, counts.filters_per_crossbar, counts.column_tiles) == (5, 32, 2)
    assert counts.crossbars == 10 and counts.tiles == 2          # ceil(10 / 8) tiles
    assert counts.used_cells == 576 * 256 == 147456
    # utilisation: rows 576 / (5 * 128) = 0.9, columns 256 / (2 * 128) = 1, cells 147456 / 163840
    assert counts.row_utilization == pytest.approx(0.9)
    assert counts.column_utilization == 1.0
    assert counts.cell_utilization == pytest.approx(0.9)
    # 8x8 output pixels (same padding) = 64 input vectors, each streamed in 8 / 1 = 8 bit cycles:
    # 512 steps, each a read of all 10 crossbars -> 5120 MVMs; every MVM converts 128 rows (DACs)
    # and 128 columns (ADCs).
    assert counts.input_vectors == 64
    assert counts.mvm_operations == 5120
    assert counts.dac_conversions == counts.adc_conversions == 5120 * 128 == 655360
    # cells on driven rows: 2 column tiles x 576 used rows x 128 columns x 512 steps
    assert counts.cell_reads == 2 * 576 * 128 * 512 == 75497472
    # shift-adds: every used column (5 row tiles x 256) at every step
    assert counts.shift_add_operations == 5 * 256 * 512 == 655360
    # partial sums: 64 vectors x 64 filters x (5 - 1) row tiles added in the buffer
    assert counts.psum_additions == counts.psum_buffer_reads == counts.psum_buffer_writes == 16384
    assert counts.input_buffer_reads == 64 * 576 and counts.output_buffer_writes == 64 * 64
    # latency: read 120 cycles, ADC sweep 128 columns -> 512 * 128 + 120
    assert counts.total_cycles == 65656
    # ISAAC's crossbar (128 rows, 1-bit DAC, 2-bit cells): column sums up to 128 * 1 * 3 = 384,
    # 385 values -> 9 lossless bits; partial sums 8 + 8 + ceil(log2 576) = 26 bits
    assert lossless_adc_bits(128, 1, 2) == 9
    report = simulate_layer(layer, dataclasses.replace(acc, adc_bits="lossless"))
    assert (report.adc_bits, report.psum_bits) == (9, 26)
    assert report.latency_s == pytest.approx(65656 / 1.2e9)


def test_depthwise_gets_a_crossbar_per_group():
    layer = Layer.depthwise("dw", C=32, H=16, W=16, kernel=3)
    acc = CrossbarAccelerator(crossbar_size=64, cell_bits=4, weight_bits=8, input_bits=8,
                              dac_bits=2, columns_per_adc=16, crossbars_per_tile=8)
    counts = crossbar_counts(layer, acc)
    # per group: a 9 x (1 filter * 8/4 = 2 columns) matrix -> one 64 x 64 crossbar each
    assert (counts.row_tiles, counts.column_tiles, counts.crossbars, counts.tiles) == (1, 1, 32, 4)
    assert counts.used_cells == 32 * 9 * 2
    assert counts.row_utilization == pytest.approx(9 / 64)
    assert counts.column_utilization == pytest.approx(2 / 64)
    assert counts.cell_utilization == pytest.approx(576 / (32 * 64 * 64))
    # 16x16 = 256 vectors, 8 / 2 = 4 input cycles -> 1024 steps x 32 crossbars
    assert counts.mvm_operations == 32768
    assert counts.adc_conversions == 32768 * 64
    assert counts.cell_reads == 32 * 9 * 64 * 1024
    assert counts.shift_add_operations == 32 * 2 * 1024
    assert counts.psum_additions == 0
    assert counts.input_buffer_reads == 256 * 32 * 9 and counts.output_buffer_writes == 256 * 32
    # 4 ADCs per crossbar sweep 16 columns each, shorter than the 120-cycle read
    assert counts.total_cycles == 1024 * 120 + 16
    # lossless: 64 rows * (2^2 - 1) * (2^4 - 1) = 2880 -> 12 bits
    assert lossless_adc_bits(64, 2, 4) == 12


def test_fc_with_slices_that_do_not_fill_a_crossbar():
    layer = Layer.fc("fc", 100, 10, N=2)
    acc = CrossbarAccelerator(crossbar_size=16, cell_bits=2, weight_bits=6, input_bits=4,
                              dac_bits=1, columns_per_adc=128)
    counts = crossbar_counts(layer, acc)
    # 6/2 = 3 slices; floor(16 / 3) = 5 filters (15 columns, 1 idle) per crossbar -> 2 column
    # tiles; 100 rows -> 7 row tiles (6 full + 4 rows): 14 crossbars
    assert (counts.row_tiles, counts.filters_per_crossbar, counts.column_tiles) == (7, 5, 2)
    assert counts.crossbars == 14 and counts.tiles == 2
    assert counts.used_cells == 3000
    assert counts.row_utilization == pytest.approx(100 / 112)
    assert counts.column_utilization == pytest.approx(30 / 32)
    # 2 vectors x 4 input cycles = 8 steps
    assert counts.mvm_operations == 14 * 8
    assert counts.adc_conversions == 14 * 8 * 16
    assert counts.cell_reads == 2 * 100 * 16 * 8
    assert counts.shift_add_operations == 7 * 30 * 8
    assert counts.psum_additions == 2 * 10 * 6
    # one ADC per 16-column crossbar (never shared by two): sweep 16 < read 120
    assert counts.total_cycles == 8 * 120 + 16
    assert lossless_adc_bits(16, 1, 2) == 6


def test_the_mapping_picks_the_crossbar_size_of_a_layer():
    layer = Layer.conv("c", C=64, M=64, H=8, W=8, kernel=3)
    acc = CrossbarAccelerator(weight_bits=8, adc_bits="lossless")
    small = simulate_layer(layer, acc, CrossbarMapping(crossbar_size=32))
    # 576 / 32 = 18 row tiles; 8-bit weights in 2-bit cells = 4 slices, 32 / 4 = 8 filters per
    # crossbar -> 64 / 8 = 8 column tiles
    assert (small.crossbar_size, small.row_tiles, small.column_tiles) == (32, 18, 8)
    assert small.adc_bits == lossless_adc_bits(32, 1, 2) == 7
    assert simulate_layer(layer, acc).crossbar_size == 128


# -- ISAAC's figures ------------------------------------------------------------------------------


def test_the_default_table_reproduces_isaac_table_6():
    t = CrossbarEnergyTable()
    # powers of one IMA at ISAAC's rates: 8 ADCs at 1.2 GS/s, 1024 DACs / S+Hs and 8 128x128
    # arrays every 100 ns, 4 S+A units at the ADCs' 9.6 GS/s
    assert 8 * t.adc_energy_pj * 1.2e9 * 1e-12 == pytest.approx(16e-3)
    assert 1024 * t.dac_energy_pj / 100e-9 * 1e-12 == pytest.approx(4e-3)
    assert 1024 * t.sample_hold_energy_pj / 100e-9 * 1e-12 == pytest.approx(10e-6)
    assert 8 * 128 * 128 * t.cell_read_energy_pj / 100e-9 * 1e-12 == pytest.approx(2.4e-3)
    assert t.shift_add_energy_pj * 9.6e9 * 1e-12 == pytest.approx(0.2e-3)
    # areas of one IMA's components, mm^2
    assert 8 * t.adc_area_um2 * 1e-6 == pytest.approx(0.0096)
    assert 1024 * t.dac_area_um2 * 1e-6 == pytest.approx(0.00017)
    assert 1024 * t.sample_hold_area_um2 * 1e-6 == pytest.approx(0.00004)
    assert 8 * 128 * 128 * t.cell_area_um2 * 1e-6 == pytest.approx(0.0002)
    assert 4 * t.shift_add_area_um2 * 1e-6 == pytest.approx(0.00024)
    assert 64 * t.buffer_area_mm2_per_kb == pytest.approx(0.083)
    # the default tile is an IMA (its ADCs, DACs, S+Hs, arrays; one S+A per ADC, ISAAC has one
    # per two) with its share of the tile's eDRAM
    acc = CrossbarAccelerator()
    tile = t.tile_area_mm2(128, acc.adcs_per_crossbar(), 1, 8, acc.crossbars_per_tile,
                           acc.tile_buffer_kb)
    assert tile == pytest.approx(0.0096 + 0.00017 + 0.00004 + 0.0002 + 2 * 0.00024 + 0.083 / 12)


def test_resolution_scaling_is_the_stated_model():
    t = CrossbarEnergyTable()
    assert t.adc_conversion_energy_pj(9) == pytest.approx(2 * t.adc_energy_pj)
    assert t.adc_conversion_energy_pj(6) == pytest.approx(t.adc_energy_pj / 4)
    assert t.dac_conversion_energy_pj(2) == pytest.approx(2 * t.dac_energy_pj)
    flat = dataclasses.replace(t, adc_growth_per_bit=1.0)
    assert flat.adc_conversion_energy_pj(12) == pytest.approx(t.adc_energy_pj)
    layer = Layer.conv("c", C=16, M=16, H=8, W=8, kernel=3)
    eight = simulate_layer(layer, CrossbarAccelerator(adc_bits=8))
    nine = simulate_layer(layer, CrossbarAccelerator(adc_bits="lossless"))
    assert nine.energy.adc_pj == pytest.approx(2 * eight.energy.adc_pj)
    assert nine.area_mm2 > eight.area_mm2


def test_layer_report_is_consistent():
    layer = Layer.conv("c", C=24, M=40, H=10, W=10, kernel=3, stride=2, N=2)
    acc = CrossbarAccelerator(crossbar_size=32, columns_per_adc=8, crossbars_per_tile=4)
    report = simulate_layer(layer, acc)
    t = CrossbarEnergyTable()
    assert report.energy_pj == pytest.approx(sum(report.energy))
    assert report.energy.adc_pj == pytest.approx(report.adc_conversions * t.adc_energy_pj)
    assert report.energy.sample_hold_pj == pytest.approx(
        report.adc_conversions * t.sample_hold_energy_pj)
    assert report.area_mm2 == pytest.approx(report.tiles * t.tile_area_mm2(32, 4, 1, 8, 4,
                                                                           acc.tile_buffer_kb))
    assert report.macs == layer.macs
    assert (report.weight_slices, report.input_cycles) == (8, 16)
    assert json.loads(json.dumps(report.to_dict()))["energy"]["total_pj"] == pytest.approx(
        report.energy_pj)


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "message"), [
    ("crossbar_size", 100, (r"CrossbarAccelerator.crossbar_size must be one of "
                            r"\[16, 32, 64, 128, 256\], got 100")),
    ("crossbar_size", 128.0, r"crossbar_size must be one of \[16, 32, 64, 128, 256\], got 128.0"),
    ("cell_bits", 9, r"CrossbarAccelerator.cell_bits must be an integer in \[1, 8\], got 9"),
    ("weight_bits", 0, r"CrossbarAccelerator.weight_bits must be an integer in \[1, 16\], got 0"),
    ("input_bits", 17, r"CrossbarAccelerator.input_bits must be an integer in \[1, 16\]"),
    ("dac_bits", True, r"CrossbarAccelerator.dac_bits must be an integer in \[1, 8\], got True"),
    ("adc_bits", "auto", (r"CrossbarAccelerator.adc_bits must be an integer in \[1, 32\] or "
                          r"'lossless', got 'auto'")),
    ("adc_bits", 0, r"adc_bits must be an integer in \[1, 32\] or 'lossless', got 0"),
    ("columns_per_adc", 3, (r"CrossbarAccelerator.columns_per_adc must be one of \[1, 2, 4, 8, "
                            r"16, 32, 64, 128, 256\], got 3")),
    ("crossbars_per_tile", 0, r"CrossbarAccelerator.crossbars_per_tile must be a positive"),
    ("tile_buffer_kb", -1.0, r"CrossbarAccelerator.tile_buffer_kb must be a number > 0"),
    ("clock_mhz", 0, r"CrossbarAccelerator.clock_mhz must be a number > 0"),
    ("crossbar_read_cycles", 1.5, r"CrossbarAccelerator.crossbar_read_cycles must be a positive"),
])
def test_architecture_errors_name_the_field_and_the_allowed_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        CrossbarAccelerator(**{field: value})


def test_mapping_and_table_errors():
    with pytest.raises(ValueError, match=r"CrossbarMapping.crossbar_size must be one of "
                                         r"\[16, 32, 64, 128, 256\], got 48"):
        CrossbarMapping(crossbar_size=48)
    with pytest.raises(ValueError, match=r"CrossbarMapping got unknown field\(s\) \['size'\]"):
        CrossbarMapping.from_dict({"size": 32})
    with pytest.raises(ValueError, match=r"CrossbarEnergyTable.adc_energy_pj must be a number > 0"):
        CrossbarEnergyTable(adc_energy_pj=0.0)
    with pytest.raises(ValueError, match=r"CrossbarEnergyTable.adc_growth_per_bit must be a "
                                         r"number in \[1.0, 4.0\]"):
        CrossbarEnergyTable(adc_growth_per_bit=0.5)
    with pytest.raises(ValueError, match=r"CrossbarAccelerator got unknown field\(s\) \['rows'\]"):
        CrossbarAccelerator.from_dict({"rows": 128})


def test_entry_points_check_the_templates_kinds():
    layer = Layer.fc("fc", 32, 10)
    acc = CrossbarAccelerator()
    with pytest.raises(ValueError, match=r"energy_table must be a sim.CrossbarEnergyTable or "
                                         r"None, got EnergyTable \(the 'crossbar' template's"):
        simulate_layer(layer, acc, energy_table=EnergyTable())
    with pytest.raises(ValueError, match=r"energy_table must be a sim.EnergyTable or None, got "
                                         r"CrossbarEnergyTable"):
        simulate_layer(layer, sim.Accelerator(), energy_table=CrossbarEnergyTable())
    with pytest.raises(ValueError, match=r"simulate_layer.memory_model must be one of "
                                         r"\['analytical'\], got 'ours'"):
        simulate_layer(layer, acc, memory_model="ours")
    with pytest.raises(ValueError, match=r"mapping must be a sim.CrossbarMapping or None"):
        simulate_layer(layer, acc, Mapping())


# -- JSON -----------------------------------------------------------------------------------------


def test_json_round_trips(tmp_path):
    acc = CrossbarAccelerator(crossbar_size=64, adc_bits="lossless", tile_buffer_kb=16.0)
    acc.save(tmp_path / "acc.json")
    assert CrossbarAccelerator.load(tmp_path / "acc.json") == acc
    assert CrossbarAccelerator.from_dict(acc.to_dict()) == acc
    table = dataclasses.replace(CrossbarEnergyTable(), node_nm=22, adc_energy_pj=0.9)
    table.save(tmp_path / "table.json")
    assert CrossbarEnergyTable.load(tmp_path / "table.json") == table
    (tmp_path / "partial.json").write_text(json.dumps({"cell_read_energy_pj": 0.01}))
    assert CrossbarEnergyTable.load(tmp_path / "partial.json") == dataclasses.replace(
        CrossbarEnergyTable(), cell_read_energy_pj=0.01)
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ValueError, match=r"CrossbarEnergyTable.load\('.*list.json'\) needs a "
                                         r"JSON object of fields, got list"):
        CrossbarEnergyTable.load(tmp_path / "list.json")
    mapping = CrossbarMapping(crossbar_size=16)
    assert CrossbarMapping.from_dict(mapping.to_dict()) == mapping


# -- networks and dispatch ------------------------------------------------------------------------


def test_registry_and_dispatch():
    template = sim.get_template("crossbar")
    assert template.architecture is CrossbarAccelerator and template.mapping is CrossbarMapping
    assert template.energy_table is CrossbarEnergyTable
    assert sim.template_of(CrossbarAccelerator()) is template
    with pytest.raises(ValueError, match=r"accelerator must be a sim.Accelerator or "
                                         r"sim.CrossbarAccelerator"):
        sim.template_of(object())


def test_network_totals_are_the_sum_of_its_layers(tmp_path):
    network = sim.resnet20()
    acc = CrossbarAccelerator(adc_bits="lossless")
    mappings = {"conv1": CrossbarMapping(crossbar_size=32), "fc": CrossbarMapping(crossbar_size=64)}
    report = simulate_network(network, acc, mappings)
    assert isinstance(report, CrossbarNetworkReport) and len(report.layers) == len(network)
    assert [r.crossbar_size for r in report.layers[:2]] == [32, 128]
    assert report.layers[-1].crossbar_size == 64
    for field in ("crossbars", "tiles", "total_cycles", "macs"):
        assert getattr(report, field) == sum(getattr(r, field) for r in report.layers)
    assert report.macs == network.macs
    assert report.latency_s == pytest.approx(sum(r.latency_s for r in report.layers))
    assert report.area_mm2 == pytest.approx(sum(r.area_mm2 for r in report.layers))
    assert report.energy_pj == pytest.approx(sum(r.energy_pj for r in report.layers))
    assert report.energy.adc_pj == pytest.approx(sum(r.energy.adc_pj for r in report.layers))
    assert report.edap_pj_s_mm2 == pytest.approx(
        report.energy_pj * report.latency_s * report.area_mm2)
    totals = report.totals()
    assert totals["adc_conversions"] == sum(r.adc_conversions for r in report.layers)
    report.save_json(tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["accelerator"] == acc.to_dict()
    assert saved["totals"]["edap_pj_s_mm2"] == pytest.approx(report.edap_pj_s_mm2)
    with pytest.raises(ValueError, match="at least one CrossbarLayerReport"):
        CrossbarNetworkReport("empty", acc, ())
