"""The simulator's command line: ``python -m sim`` and ``dianjax simulate``."""

import json
import subprocess
import sys

from dianjax.cli import main as dianjax_main
from sim import (
    Accelerator,
    CrossbarAccelerator,
    CrossbarEnergyTable,
    EnergyTable,
    mobilenetv2,
    resnet20,
    simulate_network,
)
from sim.cli import main


def test_prints_per_layer_table_and_totals(capsys):
    assert main(["--network", "resnet20"]) == 0
    out = capsys.readouterr().out
    report = simulate_network(resnet20(), Accelerator())
    for layer in resnet20():
        assert layer.name in out
    total_line = next(line for line in out.splitlines() if line.startswith("total"))
    assert f"{report.total_cycles:,d}" in total_line
    assert f"{report.stall_cycles:,d}" in total_line
    assert "energy uJ: MAC" in out and "area" in out


def test_writes_json_with_accelerator_file(tmp_path, capsys):
    acc = Accelerator(rows=16, cols=16, dataflow="os", dram_bandwidth_words_per_cycle=8)
    acc.save(tmp_path / "acc.json")
    out_path = tmp_path / "out.json"
    assert dianjax_main(["simulate", "--network", "mobilenetv2", "--accelerator",
                         str(tmp_path / "acc.json"), "--batch", "2", "--json", str(out_path)]) == 0
    data = json.loads(out_path.read_text())
    assert data["network"] == "mobilenetv2"
    assert data["accelerator"] == acc.to_dict()
    assert data["totals"]["macs"] == 2 * mobilenetv2().macs
    assert f"wrote {out_path}" in capsys.readouterr().out


def test_bad_input_fails_before_work(tmp_path, capsys):
    assert main(["--network", "resnet99"]) == 2
    assert "--network must be one of" in capsys.readouterr().err
    assert main(["--batch", "0"]) == 2
    assert "N must be a positive integer, got 0" in capsys.readouterr().err
    (tmp_path / "acc.json").write_text('{"rows": 8, "dataflow": "rs"}')
    assert main(["--accelerator", str(tmp_path / "acc.json")]) == 2
    assert "Accelerator.dataflow must be one of" in capsys.readouterr().err
    assert main(["--json", str(tmp_path / "missing" / "out.json")]) == 2
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and captured.out == ""


def test_python_dash_m_sim_runs():
    result = subprocess.run([sys.executable, "-m", "sim", "--network", "vgg11"],
                            capture_output=True, text=True, check=True)
    assert "vgg11 on a 32x32 WS array" in result.stdout
    assert result.stdout.count("\n") > 10


def test_memory_model_flag(tmp_path, capsys):
    assert main(["--network", "resnet20", "--memory-model", "scalesim"]) == 0
    report = simulate_network(resnet20(), Accelerator(), memory_model="scalesim")
    total_line = next(line for line in capsys.readouterr().out.splitlines()
                      if line.startswith("total"))
    assert f"{report.stall_cycles:,d}" in total_line
    Accelerator(dram_bandwidth_words_per_cycle=2.5).save(tmp_path / "acc.json")
    assert main(["--accelerator", str(tmp_path / "acc.json"), "--memory-model", "scalesim"]) == 2
    assert "not representable in SCALE-Sim's USER mode" in capsys.readouterr().err


def test_energy_table_flag(tmp_path, capsys):
    table = EnergyTable(dram_energy_pj_per_64bit=2600.0)
    table.save(tmp_path / "table.json")
    assert main(["--energy-table", str(tmp_path / "table.json"), "--json",
                 str(tmp_path / "out.json")]) == 0
    data = json.loads((tmp_path / "out.json").read_text())
    expected = simulate_network(resnet20(), Accelerator(), energy_table=table)
    assert data["totals"]["energy_pj"] == expected.energy_pj
    assert expected.energy_pj > simulate_network(resnet20(), Accelerator()).energy_pj
    (tmp_path / "bad.json").write_text('{"dram_pj": 1}')
    assert main(["--energy-table", str(tmp_path / "bad.json")]) == 2
    assert "unknown field(s) ['dram_pj']" in capsys.readouterr().err


def test_crossbar_template_prints_and_writes_its_report(tmp_path, capsys):
    acc = CrossbarAccelerator(crossbar_size=64, adc_bits=6)
    acc.save(tmp_path / "xbar.json")
    table = CrossbarEnergyTable(adc_energy_pj=3.0)
    table.save(tmp_path / "table.json")
    assert main(["--template", "crossbar", "--accelerator", str(tmp_path / "xbar.json"),
                 "--energy-table", str(tmp_path / "table.json"), "--json",
                 str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    report = simulate_network(resnet20(), acc, energy_table=table)
    assert out.startswith("resnet20 on 64x64 crossbars")
    total_line = next(line for line in out.splitlines() if line.startswith("total"))
    assert f"{report.crossbars:,d}" in total_line and f"{report.total_cycles:,d}" in total_line
    assert "EDAP" in out and "energy uJ: crossbar" in out
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["accelerator"] == acc.to_dict()
    assert data["totals"]["edap_pj_s_mm2"] == report.edap_pj_s_mm2


def test_crossbar_template_bad_input_names_the_allowed_values(tmp_path, capsys):
    assert main(["--template", "crossbar", "--memory-model", "scalesim"]) == 2
    assert "memory_model must be one of ['analytical']" in capsys.readouterr().err
    Accelerator().save(tmp_path / "systolic.json")
    assert main(["--template", "crossbar", "--accelerator", str(tmp_path / "systolic.json")]) == 2
    assert "unknown field(s)" in capsys.readouterr().err
