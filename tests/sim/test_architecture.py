"""Accelerator description: validation errors and JSON round trips."""

import math

import pytest

from sim.systolic.architecture import Accelerator


def test_defaults_and_sram_words():
    acc = Accelerator()
    assert acc.num_pes == 32 * 32
    assert acc.sram_words("ifmap") == 64 * 1024 * 8 // 16
    assert Accelerator(word_bits=8, ofmap_sram_kb=0.5).sram_words("ofmap") == 512


@pytest.mark.parametrize("field", ["rows", "cols", "word_bits"])
@pytest.mark.parametrize("bad", [0, -4, 2.5])
def test_bad_integer_fields(field, bad):
    with pytest.raises(ValueError, match=rf"Accelerator\.{field} must be a positive integer, got"):
        Accelerator(**{field: bad})


@pytest.mark.parametrize("field", ["ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb", "clock_mhz",
                                   "dram_bandwidth_words_per_cycle"])
@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "8"])
def test_bad_positive_numbers(field, bad):
    with pytest.raises(ValueError, match=rf"Accelerator\.{field} must be a number > 0, got"):
        Accelerator(**{field: bad})


@pytest.mark.parametrize("field", ["ifmap_sram_kb", "clock_mhz"])
def test_infinite_only_for_bandwidth(field):
    with pytest.raises(ValueError, match=rf"Accelerator\.{field} must be finite"):
        Accelerator(**{field: math.inf})
    assert (Accelerator(dram_bandwidth_words_per_cycle=math.inf).dram_bandwidth_words_per_cycle
            == math.inf)


def test_unknown_dataflow():
    with pytest.raises(ValueError, match=r"dataflow must be one of \['ws', 'os', 'is'\], got 'rs'"):
        Accelerator(dataflow="rs")


def test_sram_too_small_for_double_buffer():
    with pytest.raises(ValueError, match=r"filter_sram_kb=0.001 holds fewer than 2 words"):
        Accelerator(filter_sram_kb=0.001)


@pytest.mark.parametrize("acc", [Accelerator(), Accelerator(8, 16, "os", 1.5, 2, 4, math.inf, 8, 1000)])
def test_json_round_trip(acc, tmp_path):
    acc.save(tmp_path / "acc.json")
    assert Accelerator.load(tmp_path / "acc.json") == acc


def test_json_unknown_field():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['sram_kb'\]"):
        Accelerator.from_dict({"rows": 4, "sram_kb": 3})
