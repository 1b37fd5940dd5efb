"""Timeloop YAML interop: the fixtures in tests/data/timeloop/ (written for these tests in
Timeloop's v0.3 / v0.4 formats) read level by level against hand-checked values, round trips
through dump and load, and the error messages for bad input."""

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from sim.loopnest.mapping import LevelMapping, LoopNestMapping, validate
from sim.loopnest.problem import Problem
from sim.loopnest.timeloop_yaml import (
    dump_mapping,
    dump_problem,
    load_architecture,
    load_mapping,
    load_problem,
    save_mapping,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
ARCH_V03 = DATA / "eyeriss_like_v03.arch.yaml"
CONSTRAINTS_V03 = DATA / "eyeriss_like_v03.constraints.yaml"
ARCH_V04 = DATA / "eyeriss_like_v04.arch.yaml"
PROBLEM = DATA / "conv_small.problem.yaml"
MAPPING = DATA / "conv_small_eyeriss_v03.map.yaml"


@pytest.fixture(scope="module")
def eyeriss():
    return load_architecture(ARCH_V03, CONSTRAINTS_V03)


@pytest.fixture(scope="module")
def problem():
    return load_problem(PROBLEM)


def _yaml(path):
    return yaml.safe_load(path.read_text())


# -- problem ----------------------------------------------------------------------------------
def test_problem_file_reads_k_as_m_and_defaults_the_rest(problem):
    assert problem == Problem(name="conv_small", C=4, M=8, P=14, Q=14, R=3, S=3, N=1)


@pytest.mark.parametrize("channels", ["M", "K"])
def test_problem_round_trip(channels):
    problem = Problem("p", C=3, M=5, P=7, Q=6, R=3, S=2, N=2, Wstride=2, Hstride=1, Wdilation=1,
                      Hdilation=2)
    document = dump_problem(problem, channels=channels)
    assert channels in document["problem"]["instance"]
    assert load_problem(document) == dataclasses.replace(problem, name="timeloop")


def test_problem_by_shape_name_with_m():
    document = {"problem": {"shape": {"name": "cnn-layer"},
                            "instance": {"C": 2, "M": 4, "P": 3, "W": 99, "Wpad": 1}}}
    assert load_problem(document) == Problem("timeloop", C=2, M=4, P=3)


@pytest.mark.parametrize(("instance", "shape", "match"), [
    ({"C": 2, "K": 4, "X": 1}, "cnn-layer", r"problem\.instance\.X is not a CNN-layer key"),
    ({"C": 2, "K": 4, "M": 4}, "cnn-layer", "output channels twice"),
    ({"C": 2, "K": 0}, "cnn-layer", r"problem\.instance\.K must be a positive integer"),
    ({"C": 2}, "cnn-layer", r"problem\.instance\.K is missing"),
    ({"C": 2, "K": 4}, "gemm", r"problem\.shape\.name='gemm' is not supported"),
])
def test_problem_errors_name_the_key(instance, shape, match):
    with pytest.raises(ValueError, match=match):
        load_problem({"problem": {"shape": shape, "instance": instance}})


def test_problem_with_other_projections_is_refused():
    document = _yaml(PROBLEM)
    document["problem"]["shape"]["data-spaces"][0]["projection"] = [[["C"]], [["K"]]]
    with pytest.raises(ValueError, match=r"problem\.shape\.data-spaces: not the CNN layer's"):
        load_problem(document)


def test_dump_problem_refuses_groups():
    with pytest.raises(ValueError, match="no groups; allowed: G=1"):
        dump_problem(Problem("dw", C=1, M=1, G=8))


# -- architecture -----------------------------------------------------------------------------
def test_v03_architecture_levels(eyeriss):
    assert eyeriss.name == "system"
    levels = {level.name: level for level in eyeriss.levels}
    assert list(levels) == ["DRAM", "shared_glb", "PE_column", "ifmap_spad", "weights_spad",
                            "psum_spad"]
    dram, glb, column = levels["DRAM"], levels["shared_glb"], levels["PE_column"]
    assert (dram.component, dram.depth_words, dram.block_size, dram.word_bits) == \
        ("DRAM", None, 4, 16)
    assert dram.read_bandwidth_words_per_cycle == 4
    # depth 16384 rows x block-size 4 words; word-bits inherited from the 'eyeriss' subtree
    assert (glb.component, glb.depth_words, glb.block_size, glb.word_bits) == \
        ("SRAM", 65536, 4, 16)
    assert glb.keeps == ("Inputs", "Outputs")
    assert (column.component, column.instances, column.mesh_x, column.keeps) == \
        ("container", 14, 14, ())
    # PE[0..167]: 168 instances, meshX 14 -> 14 x 12; width 16 / 16-bit words -> 1-word blocks
    for name, words, keeps in (("ifmap_spad", 12, ("Inputs",)),
                               ("weights_spad", 192, ("Weights",)),
                               ("psum_spad", 16, ("Outputs",))):
        level = levels[name]
        assert (level.component, level.depth_words, level.block_size) == ("regfile", words, 1)
        assert (level.instances, level.mesh_x, level.mesh_y, level.keeps) == (168, 14, 12, keeps)
        assert level.read_bandwidth_words_per_cycle == 2
    assert (eyeriss.compute.name, eyeriss.compute.instances, eyeriss.compute.mesh_x,
            eyeriss.compute.word_bits) == ("mac", 168, 14, 16)
    assert eyeriss.fanout(1) == (14, 1) and eyeriss.fanout(2) == (1, 12)


def test_v03_constraints_in_the_document_equal_a_separate_file(eyeriss):
    document = {**_yaml(ARCH_V03), **_yaml(CONSTRAINTS_V03)}
    assert load_architecture(document) == eyeriss
    assert all(level.keeps in ((), ("Weights", "Inputs", "Outputs"))
               for level in load_architecture(ARCH_V03).levels)


def test_v04_architecture_levels():
    arch = load_architecture(ARCH_V04)
    assert arch.name == "system"
    shape = [(lv.name, lv.component, lv.depth_words, lv.block_size, lv.instances, lv.mesh_x)
             for lv in arch.levels]
    assert shape == [
        ("DRAM", "DRAM", None, 4, 1, 1),                 # width 64 / inherited datawidth 16
        ("shared_glb", "SRAM", 65536, 4, 1, 1),
        ("inter_PE_column_spatial", "container", 0, 1, 1, 1),    # above the 14-wide X fan-out
        ("inter_PE_spatial", "container", 0, 1, 14, 14),         # above the 12-high Y fan-out
        ("ifmap_spad", "regfile", 12, 1, 168, 14),
        ("weights_spad", "regfile", 192, 1, 168, 14),
        ("psum_spad", "regfile", 16, 1, 168, 14),
    ]
    keeps = {lv.name: lv.keeps for lv in arch.levels}
    assert keeps["shared_glb"] == ("Inputs", "Outputs")
    assert keeps["ifmap_spad"] == ("Weights", "Inputs", "Outputs")   # keep without bypass: free
    assert keeps["weights_spad"] == ("Weights",)
    assert keeps["psum_spad"] == ("Outputs",)
    assert (arch.compute.instances, arch.compute.mesh_x, arch.compute.mesh_y) == (168, 14, 12)


def test_flattened_local_list_and_block_from_width():
    document = {"architecture": {"version": 0.4, "local": [
        {"name": "top.DRAM[1..1]", "class": "DRAM", "attributes": {"datawidth": 8, "width": 64}},
        {"name": "top.buf[1..4]", "class": "SRAM",
         "attributes": {"datawidth": 8, "width": 32, "depth": 100, "meshX": 2, "meshY": 2,
                        "multiple_buffering": 2, "bandwidth": 8}},
        {"name": "top.mac[1..16]", "class": "fpmac", "attributes": {"meshX": 4}}]}}
    arch = load_architecture(document)
    dram, buf = arch.levels
    assert (dram.block_size, dram.word_bits) == (8, 8)
    # 100 rows x 4-word blocks, double-buffered; deprecated bandwidth: half each way
    assert (buf.depth_words, buf.block_size, buf.instances, buf.mesh_x) == (200, 4, 4, 2)
    assert buf.read_bandwidth_words_per_cycle == buf.write_bandwidth_words_per_cycle == 4
    assert (arch.compute.instances, arch.compute.mesh_x) == (16, 4)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda a: a["subtree"][0]["local"][0].update({"class": "foo_widget"}),
     (r"architecture\.subtree\[0\]\.local\[0\]\.class='foo_widget' is not a known class; "
      "allowed: a class naming DRAM")),
    (lambda a: a["subtree"][0]["subtree"][0]["local"][1]["attributes"].update({"meshX": 5}),
     r"subtree\[0\]\.local\[1\]\.attributes\.meshX=5 does not divide the 14 instances"),
    (lambda a: a["subtree"][0]["subtree"][0]["local"][0]["attributes"].pop("depth"),
     r"local\[0\]\.attributes: a 'SRAM' component needs a size"),
    (lambda a: a["subtree"][0]["subtree"][0]["subtree"][0]["local"].pop(),
     "no compute component"),
    (lambda a: a["subtree"][0]["subtree"][0]["subtree"][0]["local"].append(
        {"name": "late", "class": "regfile", "attributes": {"depth": 4}}),
     r"local\[4\]: a component after the compute level 'mac'"),
])
def test_architecture_errors_name_the_key(edit, match):
    document = _yaml(ARCH_V03)
    edit(document["architecture"])
    with pytest.raises(ValueError, match=match):
        load_architecture(document)


def test_architecture_error_names_the_file(tmp_path):
    document = _yaml(ARCH_V03)
    document["architecture"]["subtree"][0]["local"][0]["class"] = "widget"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ValueError, match=rf"^{path}: architecture\.subtree\[0\]"):
        load_architecture(path)


def test_constraints_on_unknown_target():
    with pytest.raises(ValueError, match=r"constraints target \['glb'\]"):
        load_architecture(ARCH_V03, {"architecture_constraints": {"targets": [
            {"target": "glb", "type": "bypass", "bypass": ["Weights"]}]}})


# -- mapping ----------------------------------------------------------------------------------
def test_mapping_file_levels(eyeriss, problem):
    mapping = load_mapping(MAPPING, eyeriss)
    dram, glb, column, ifmap, weights, psum = mapping.levels
    assert dram == LevelMapping(temporal=(("M", 2),))                      # K is our M
    # permutation QP..., innermost first -> P outer, Q inner; spatial QK split 2 -> both on X
    assert glb == LevelMapping(temporal=(("P", 14), ("Q", 2)),
                               spatial=(("M", 2, "X"), ("Q", 7, "X")),
                               keep=("Inputs", "Outputs"))
    assert column == LevelMapping(spatial=(("C", 2, "Y"), ("S", 3, "Y")), keep=())  # split 0
    assert ifmap == LevelMapping()                                          # no directive
    assert weights == LevelMapping(temporal=(("C", 2), ("R", 3)))
    assert psum == LevelMapping(temporal=(("M", 2),))
    validate(problem, eyeriss, mapping)


def test_mapping_round_trip_of_the_file(eyeriss, tmp_path):
    mapping = load_mapping(MAPPING, eyeriss)
    assert load_mapping(dump_mapping(mapping, eyeriss), eyeriss) == mapping
    document = dump_mapping(mapping, eyeriss, channels="K")
    assert all("M" not in d.get("factors", "") + d.get("permutation", "")
               for d in document["mapping"])
    assert load_mapping(document, eyeriss) == mapping
    save_mapping(mapping, eyeriss, tmp_path / "m.yaml")
    assert load_mapping(tmp_path / "m.yaml", eyeriss) == mapping


def test_mapping_round_trip_drops_factor_one_loops_and_puts_y_first(eyeriss):
    mapping = LoopNestMapping((
        LevelMapping(temporal=(("N", 1), ("M", 2), ("C", 1))),
        LevelMapping(temporal=(("Q", 2), ("P", 14)),
                     spatial=(("Q", 7, "X"), ("C", 2, "Y"), ("M", 2, "X"), ("R", 1, "Y"))),
        LevelMapping(spatial=(("S", 3, "Y"),), keep=()),
        LevelMapping(keep=("Inputs",)),
        LevelMapping(temporal=(("R", 3), ("C", 2))),
        LevelMapping(temporal=(("M", 2),), keep=None),
    ))
    back = load_mapping(dump_mapping(mapping, eyeriss), eyeriss)
    assert back.levels[0] == LevelMapping(temporal=(("M", 2),))
    assert back.levels[1].temporal == (("Q", 2), ("P", 14))
    assert back.levels[1].spatial == (("C", 2, "Y"), ("Q", 7, "X"), ("M", 2, "X"))
    assert back.levels[2:] == mapping.levels[2:]


def test_dump_mapping_writes_every_dimension_and_split(eyeriss):
    mapping = load_mapping(MAPPING, eyeriss)
    directives = dump_mapping(mapping, eyeriss)["mapping"]
    spatial = next(d for d in directives if d["target"] == "shared_glb" and d["type"] == "spatial")
    assert spatial["factors"] == "R=1 S=1 P=1 Q=7 C=1 M=2 N=1"
    assert spatial["permutation"] == "QMRSPCN" and spatial["split"] == 2
    temporal = next(d for d in directives if d["target"] == "shared_glb"
                    and d["type"] == "temporal")
    assert temporal["permutation"].startswith("QP")
    # a spatial directive only where the level fans out (shared_glb, PE_column)
    assert sorted(d["target"] for d in directives if d["type"] == "spatial") == \
        ["PE_column", "shared_glb"]


def test_mapping_onto_the_v04_architecture_by_level_id():
    arch = load_architecture(ARCH_V04)
    mapping = load_mapping({"mapping": [
        {"target": 0, "type": "temporal", "factors": "C1 M2 R1", "permutation": "MCR"},
        {"target": "inter_PE_spatial", "type": "spatial", "factors": "C3 S3",
         "permutation": "SCMRNPQ", "split": 0},
        {"target": "inter_PE_column_spatial", "type": "spatial", "factors": "M8",
         "permutation": "MCRSNPQ", "split": 1},
    ]}, arch)
    assert mapping.levels[-1] == LevelMapping(temporal=(("M", 2),))    # id 0: psum_spad
    assert mapping.levels[3].spatial == (("C", 3, "Y"), ("S", 3, "Y"))
    assert mapping.levels[2].spatial == (("M", 8, "X"),)


def _directives():
    return copy.deepcopy(_yaml(MAPPING)["mapping"])


@pytest.mark.parametrize(("index", "field", "value", "match"), [
    (0, "factors", "C=1 K=two", r"mapping\[0\]\.factors='C=1 K=two': 'K=two' is not DIM="),
    (0, "factors", "K=2 X=3", r"mapping\[0\]\.factors\.X must be one of"),
    (0, "factors", "K=2 M=1", r"mapping\[0\]\.factors='K=2 M=1' names M twice"),
    (0, "factors", "K=5,3", "a residual"),
    (0, "factors", "K0", "factor 0"),
    (1, "permutation", "QPQ", r"mapping\[1\]\.permutation='QPQ' names Q twice"),
    (2, "split", -1, r"mapping\[2\]\.split must be an integer >= 0"),
    (3, "target", "glb", r"mapping\[3\]\.target must be one of \['DRAM', 'shared_glb'"),
    (3, "type", "skew", r"mapping\[3\]\.type must be one of"),
    (3, "keep", ["Psums"], r"mapping\[3\]\.keep\.\[0\] must be one of"),
    (6, "no_temporal_reuse", ["Inputs"], r"mapping\[6\]\.no_temporal_reuse is not supported"),
])
def test_mapping_errors_name_the_directive_and_field(eyeriss, index, field, value, match):
    directives = _directives()
    directives[index][field] = value
    with pytest.raises(ValueError, match=match):
        load_mapping(directives, eyeriss)


def test_mapping_duplicate_directive(eyeriss):
    directives = _directives()
    directives.append(dict(directives[0]))
    with pytest.raises(ValueError, match=r"mapping\[8\]: a second temporal directive for 'DRAM'"):
        load_mapping(directives, eyeriss)


def test_factors_that_do_not_multiply_to_the_bound_fail_validate(eyeriss, problem):
    directives = _directives()
    directives[0]["factors"] = "K=4"
    mapping = load_mapping(directives, eyeriss)
    with pytest.raises(ValueError, match="the factors of M multiply to 16"):
        validate(problem, eyeriss, mapping)


def test_dump_mapping_refuses_groups(eyeriss):
    levels = [LevelMapping()] * len(eyeriss.levels)
    levels[0] = LevelMapping(temporal=(("G", 2),))
    with pytest.raises(ValueError, match=r"levels\[0\] \('DRAM'\) splits G"):
        dump_mapping(LoopNestMapping(tuple(levels)), eyeriss)
