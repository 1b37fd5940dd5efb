"""The loop-nest array model equals sim's counts and costs, and the mapping search finds the best
mapping of its space (against a brute force through sim)."""

import dataclasses
import importlib.util
import itertools
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from dianjax.cost import loopnest
from dianjax.cost.loopnest_mapper import (
    ORDERS,
    objective_value,
    search_mappings,
    to_mapping,
    top_candidates,
)
from sim.loopnest import (
    DATASPACES,
    DIMS,
    ComputeLevel,
    LevelMapping,
    LoopNestAccelerator,
    LoopNestMapping,
    Problem,
    StorageLevel,
    access_counts,
    evaluate,
    preset,
)
from sim.loopnest.mapping import validate

_spec = importlib.util.spec_from_file_location(
    "loopnest_cases", Path(__file__).parents[1] / "sim" / "loopnest" / "test_loopnest_counts.py")
_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cases)


def _without_links(arch):
    return dataclasses.replace(arch, levels=tuple(dataclasses.replace(level, links=False)
                                                  for level in arch.levels))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases.cases())
def test_array_model_equals_sim(case):
    problem, arch, mapping, _ = case
    arch = _without_links(arch)
    expected = access_counts(problem, arch, mapping)
    report = evaluate(problem, arch, mapping)
    with jax.enable_x64(True):
        count, cost = loopnest.evaluate(loopnest.problem_arrays(problem),
                                        loopnest.mapping_arrays(problem, arch, [mapping]),
                                        loopnest.level_prices(arch))
        names = [level.name for level in arch.levels]
        for row in expected.accesses:
            i, d = names.index(row.level), DATASPACES.index(row.dataspace)
            got = (count.reads[0, i, d], count.fills[0, i, d], count.updates[0, i, d])
            assert tuple(map(float, got)) == (row.reads, row.fills, row.updates)
        assert bool(cost.valid[0])
        assert float(cost.cycles[0]) == report.cycles
        assert float(cost.energy_pj[0]) == pytest.approx(report.energy_pj, rel=1e-12)
        assert float(cost.edp_pj_s[0]) == pytest.approx(report.edp_pj_s, rel=1e-12)


def test_array_model_refuses_what_it_does_not_cover():
    arch = _cases.ARCHS["three_levels"]            # RF instances linked to their neighbours
    with pytest.raises(ValueError, match=r"without neighbour links.*links at \['RF'\]"):
        loopnest.check_supported(arch)
    problem = Problem("p", C=2, M=2)
    with pytest.raises(ValueError, match=r"without neighbour links"):
        loopnest.mapping_arrays(problem, arch, [LoopNestMapping((
            LevelMapping(temporal=(("C", 2), ("M", 2))), LevelMapping(), LevelMapping()))])
    with pytest.raises(ValueError, match="'stationary_resets' rule only"):
        loopnest.check_supported(_without_links(arch), "stationary_keeps")


def test_invalid_candidates_are_marked():
    arch = preset("simple_output_stationary")      # 16-word register files
    problem = Problem("p", C=4, M=4, P=8, Q=8)
    fits = LoopNestMapping((LevelMapping(temporal=(("C", 4), ("P", 8), ("Q", 8))),
                            LevelMapping(spatial=(("M", 4, "X"),)), LevelMapping()))
    too_big = LoopNestMapping((LevelMapping(temporal=(("C", 4), ("M", 4))),
                               LevelMapping(), LevelMapping(temporal=(("P", 8), ("Q", 8)))))
    with pytest.raises(ValueError, match="more than depth_words=16"):
        validate(problem, arch, too_big)
    _, cost = loopnest.evaluate(loopnest.problem_arrays(problem),
                                loopnest.mapping_arrays(problem, arch, [fits, too_big]),
                                loopnest.level_prices(arch))
    assert np.asarray(cost.valid).tolist() == [True, False]


TINY = LoopNestAccelerator("tiny", (
    StorageLevel("DRAM", "DRAM", None, block_size=2, read_bandwidth_words_per_cycle=2,
                 write_bandwidth_words_per_cycle=2),
    StorageLevel("GLB", "SRAM", 64, block_size=2, read_bandwidth_words_per_cycle=4,
                 write_bandwidth_words_per_cycle=4),
    StorageLevel("RF", "regfile", 8, instances=2, links=False, keeps=("Weights", "Outputs"))),
    ComputeLevel(instances=2))


def _brute_force(problem, arch, spatial, objective):
    """Every tiling of the mapper's space with every canonical order, through sim."""
    best = np.inf
    bounds = dict(problem.bounds)
    for dim, factor, _ in spatial["GLB"]:
        bounds[dim] //= factor
    splits = [[(a, b, n // (a * b)) for a in range(1, n + 1) if n % a == 0
               for b in range(1, n // a + 1) if (n // a) % b == 0] for n in bounds.values()]
    for combo in itertools.product(*splits):
        for orders in itertools.product(ORDERS.values(), repeat=3):
            levels = [LevelMapping(temporal=tuple((d, c[i]) for d in orders[i]
                                                  for dd, c in zip(DIMS, combo, strict=True)
                                                  if dd == d and c[i] > 1),
                                   spatial=spatial.get(name, ()))
                      for i, name in enumerate(("DRAM", "GLB", "RF"))]
            mapping = LoopNestMapping(tuple(levels))
            try:
                validate(problem, arch, mapping)
            except ValueError:
                continue
            best = min(best, objective_value(evaluate(problem, arch, mapping), objective))
    return best


@pytest.mark.parametrize("objective", ["edp", "energy"])
def test_exhaustive_mapper_finds_the_brute_force_best(objective):
    problem = Problem("p", C=2, M=4, P=4, R=3)
    spatial = {"GLB": (("M", 2, "X"),)}
    found = search_mappings(problem, TINY, objective=objective, spatial=spatial,
                            exhaustive_limit=10 ** 6)
    assert objective_value(found.report, objective) == pytest.approx(
        _brute_force(problem, TINY, spatial, objective), rel=1e-12)
    assert found.report == evaluate(problem, TINY, found.mapping)     # sim's own figures


def test_sampling_mapper_returns_a_valid_mapping_sim_agrees_with():
    problem = Problem("p", C=16, M=32, P=8, Q=8, R=3, S=3)
    arch = preset("simple_weight_stationary")
    found = search_mappings(problem, arch, samples=512, rounds=1, elites=8)
    validate(problem, arch, found.mapping)
    assert found.valid > 0 and found.candidates >= found.valid
    assert found.report.macs == problem.macs
    with pytest.raises(ValueError, match="objective must be one of"):
        search_mappings(problem, arch, objective="area")
    with pytest.raises(ValueError, match=r"spatial: the factors of \['M'\] do not divide"):
        search_mappings(problem, arch, spatial={"global_buffer": (("M", 3, "X"),)})
    with pytest.raises(ValueError, match=r"the X factors multiply to 32, more than the fan-out"):
        search_mappings(problem, arch, spatial={"global_buffer": (("M", 32, "X"),)})
    with pytest.raises(ValueError, match=r"keep\['pe_regfile'\] must be a tuple of dataspaces"):
        search_mappings(problem, arch, keep={"pe_regfile": "Weights"})


def test_top_candidates_are_distinct_loop_nests():
    problem = Problem("p", C=16, M=32, P=8, Q=8, R=3, S=3)
    arch = preset("simple_weight_stationary")
    found = top_candidates(problem, arch, 8, samples=512, rounds=1, elites=8)
    nests = {to_mapping(arch, *candidate) for candidate in zip(*found, strict=True)}
    assert len(nests) == len(found[0]) == 8


def test_to_mapping_drops_unit_loops_and_keeps_the_order():
    temporal = np.ones((3, 8), int)
    temporal[0, DIMS.index("P")] = 4
    temporal[0, DIMS.index("C")] = 2
    spatial = np.ones((3, 8), int)
    spatial[1, DIMS.index("M")] = 2
    order = np.tile(np.arange(8), (3, 1))
    mapping = to_mapping(TINY, temporal, order, spatial, np.zeros((3, 8), int))
    assert mapping.levels[0].temporal == (("C", 2), ("P", 4))
    assert mapping.levels[1].spatial == (("M", 2, "X"),)
