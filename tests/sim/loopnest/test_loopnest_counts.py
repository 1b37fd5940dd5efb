"""Access counts of the loop-nest template on hand-worked convolutions (every figure below is
worked out by hand in the comments), and the closed form against the brute-force walker."""

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.loopnest import (
    ComputeLevel,
    LevelMapping,
    LoopNestAccelerator,
    LoopNestEnergyTable,
    LoopNestMapping,
    Problem,
    StorageLevel,
    access_counts,
    evaluate,
)
from sim.loopnest.walker import walk

RULES = ("stationary_resets", "stationary_keeps")


def _arch(*levels, macs=1, mesh_x=None):
    return LoopNestAccelerator("t", levels, ComputeLevel(instances=macs, mesh_x=mesh_x))


DRAM = StorageLevel("DRAM", "DRAM", None)


def _rf(instances=1, keeps=("Weights", "Inputs", "Outputs"), name="RF", mesh_x=None, links=True):
    return StorageLevel(name, "regfile", 1000, instances=instances, mesh_x=mesh_x, keeps=keeps,
                        links=links)


def _counts(problem, arch, levels, rule="stationary_resets"):
    mapping = LoopNestMapping(tuple(levels))
    closed = access_counts(problem, arch, mapping, rule)
    assert walk(problem, arch, mapping, rule) == closed
    return {(a.level, a.dataspace): (a.reads, a.fills, a.updates) for a in closed.accesses}


def test_one_level_every_mac_reads_its_operands():
    # 1-D conv P=4, R=3 on DRAM alone: 12 MACs, each reads a weight and an input and updates an
    # output; an output's first update reads nothing: 12 - 4 output reads.
    counts = _counts(Problem("p", C=1, M=1, P=4, R=3), _arch(DRAM),
                     [LevelMapping(temporal=(("P", 4), ("R", 3)))])
    assert counts == {("DRAM", "Weights"): (12, 0, 0), ("DRAM", "Inputs"): (12, 0, 0),
                      ("DRAM", "Outputs"): (8, 0, 12)}


def test_two_levels_stationary_weights_and_sliding_inputs():
    # 1-D conv P=8, R=3, M=2; DRAM loops M2 (outer) P4, RF loops P2 R3.
    # RF tiles: Weights R3 (3 words), Inputs P2+R3-1 = 4 words, Outputs P2 (2 words).
    # Weights: the P steps leave the tile in place (0), each M step brings 3 new: 2 * 3 = 6.
    # Inputs: per M, 4 + 3 slides of 2 = 10; the M step jumps back by -6 (not +2): whole 4.
    # Outputs: 8 distinct 2-word tiles = 16 delivered; all first touches: RF fills 0, DRAM reads 0.
    # RF serves 2*8*3 = 48 MACs: 48 weight and input reads, 48 output updates, 48 - 16 reads.
    counts = _counts(Problem("p", C=1, M=2, P=8, R=3), _arch(DRAM, _rf()),
                     [LevelMapping(temporal=(("M", 2), ("P", 4))),
                      LevelMapping(temporal=(("P", 2), ("R", 3)))])
    assert counts == {("DRAM", "Weights"): (6, 0, 0), ("DRAM", "Inputs"): (20, 0, 0),
                      ("DRAM", "Outputs"): (0, 0, 16), ("RF", "Weights"): (48, 6, 0),
                      ("RF", "Inputs"): (48, 20, 0), ("RF", "Outputs"): (32, 0, 48)}


@pytest.mark.parametrize(("rule", "input_fills"), [("stationary_resets", 16),
                                                   ("stationary_keeps", 10)])
def test_a_stationary_step_resets_the_window_only_under_the_older_rule(rule, input_fills):
    # As above with the DRAM loops swapped (P4 outer, M2 inner). Inputs: per P, the M step is
    # stationary (translation 0). Older rule: the next P step (+2) differs from 0 -> whole 4,
    # every P: 4 * 4 = 16. 2025 rule: stationary steps are skipped, P slides: 4 + 3 * 2 = 10.
    # Weights: M +1 (disjoint: whole 3), P jumps back -1 (whole 3): 8 * 3 = 24 either way.
    counts = _counts(Problem("p", C=1, M=2, P=8, R=3), _arch(DRAM, _rf()),
                     [LevelMapping(temporal=(("P", 4), ("M", 2))),
                      LevelMapping(temporal=(("P", 2), ("R", 3)))], rule)
    assert counts[("RF", "Inputs")][1] == counts[("DRAM", "Inputs")][0] == input_fills
    assert counts[("RF", "Weights")][1] == 24


def test_two_d_halo_fills_the_new_slab():
    # 2-D conv P=Q=2, R=S=2; RF holds P1 Q2 R2 S2: an input box of 2 x 3. The DRAM loop P2 moves
    # it one row: the new slab is 1 x 3. Fills 6 + 3 = 9 = the whole 3 x 3 input, read once.
    counts = _counts(Problem("p", C=1, M=1, P=2, Q=2, R=2, S=2), _arch(DRAM, _rf()),
                     [LevelMapping(temporal=(("P", 2),)),
                      LevelMapping(temporal=(("Q", 2), ("R", 2), ("S", 2)))])
    assert counts[("RF", "Inputs")][1] == counts[("DRAM", "Inputs")][0] == 9


def test_bypassed_level_sends_its_traffic_to_the_next_level_out():
    # C=M=P=2; DRAM M2, GLB P2 (keeps Inputs, Outputs only), RF C2.
    # Weights (GLB bypassed): RF tile C2; P steps stationary, the M step new: 2 * 2 = 4 fills,
    # all read from DRAM. Inputs: GLB tile P2 C2 (4), M is stationary: 4 fills once; RF tile C2
    # (one p): every step moves it (P +1, then M jumps back): 4 * 2 = 8 reads at the GLB.
    glb = StorageLevel("GLB", "SRAM", 1000, keeps=("Inputs", "Outputs"))
    counts = _counts(Problem("p", C=2, M=2, P=2), _arch(DRAM, glb, _rf()),
                     [LevelMapping(temporal=(("M", 2),)), LevelMapping(temporal=(("P", 2),)),
                      LevelMapping(temporal=(("C", 2),))])
    assert ("GLB", "Weights") not in counts
    assert counts[("DRAM", "Weights")][0] == counts[("RF", "Weights")][1] == 4
    assert counts[("DRAM", "Inputs")][0] == counts[("GLB", "Inputs")][1] == 4
    assert counts[("GLB", "Inputs")][0] == counts[("RF", "Inputs")][1] == 8


def test_multicast_and_spatial_reduction():
    # C=M=P=2 on 4 PEs: DRAM loops P2 and spatially M2 x C2; each PE's tile is one point.
    # Weights: one per PE, stationary over P: 4 fills, 4 DRAM reads.
    # Inputs (c, p): the two PEs of one c get the same word: per step 2 reads for 4 fills;
    # over P: 4 DRAM reads, 8 PE fills.
    # Outputs (m, p): the two PEs of one m (c = 0, 1) are reduced: 2 updates per step, 4 in all,
    # all first touches: DRAM reads 0; each PE holds 2 distinct outputs: fills 2 - 2 = 0;
    # each PE does 2 MACs: 2 updates, 0 reads (both first touches).
    counts = _counts(Problem("p", C=2, M=2, P=2), _arch(DRAM, _rf(4), macs=4),
                     [LevelMapping(temporal=(("P", 2),), spatial=(("M", 2, "X"), ("C", 2, "X"))),
                      LevelMapping()])
    assert counts == {("DRAM", "Weights"): (4, 0, 0), ("DRAM", "Inputs"): (4, 0, 0),
                      ("DRAM", "Outputs"): (0, 0, 4), ("RF", "Weights"): (8, 4, 0),
                      ("RF", "Inputs"): (8, 8, 0), ("RF", "Outputs"): (0, 0, 8)}


def test_psum_refetch_with_first_read_elision():
    # C=8, P=4; GLB loops C2 (outer) P4, RF C4, RF holds one output. The RF tile visits each p
    # twice: 8 deliveries -> GLB updates 8, reads 8 - 4 = 4; the RF fills its 4 second visits.
    # The RF sees 32 MACs: 32 updates, reads 32 - 4 first touches = 28.
    glb = StorageLevel("GLB", "SRAM", 1000)
    counts = _counts(Problem("p", C=8, M=1, P=4), _arch(DRAM, glb, _rf()),
                     [LevelMapping(), LevelMapping(temporal=(("C", 2), ("P", 4))),
                      LevelMapping(temporal=(("C", 4),))])
    assert counts[("RF", "Outputs")] == (28, 4, 32)
    assert counts[("GLB", "Outputs")] == (4, 0, 8)
    assert counts[("DRAM", "Outputs")] == (0, 0, 4)


def test_neighbours_forward_inputs_over_links():
    # P=6, R=3 on 3 PEs side by side over R; the GLB loop P6 above. PE r needs input p + r at
    # step p, which PE r + 1 filled at step p - 1: after the first step only PE 2 reads the GLB.
    # GLB reads 3 + 5 = 8 (each input once); PE fills 3 * 6 = 18; PE reads 10 forwarded + 18 MACs.
    arch = _arch(DRAM, StorageLevel("GLB", "SRAM", 1000), _rf(3), macs=3)
    counts = _counts(Problem("p", C=1, M=1, P=6, R=3), arch,
                     [LevelMapping(), LevelMapping(temporal=(("P", 6),), spatial=(("R", 3, "X"),)),
                      LevelMapping()])
    assert counts[("GLB", "Inputs")][0] == 8
    assert counts[("RF", "Inputs")][:2] == (28, 18)
    # without links every PE reads its 6 inputs from the GLB, and the PEs read only for MACs
    arch = _arch(DRAM, StorageLevel("GLB", "SRAM", 1000), _rf(3, links=False), macs=3)
    counts = _counts(Problem("p", C=1, M=1, P=6, R=3), arch,
                     [LevelMapping(), LevelMapping(temporal=(("P", 6),), spatial=(("R", 3, "X"),)),
                      LevelMapping()])
    assert counts[("GLB", "Inputs")][0] == 18
    assert counts[("RF", "Inputs")][:2] == (18, 18)


# -- the closed form against the walker, on random tiny problems and mappings --------------------

ARCHS = {
    "three_levels": LoopNestAccelerator("three", (
        DRAM, StorageLevel("GLB", "SRAM", 10 ** 6, instances=1),
        StorageLevel("RF", "regfile", 10 ** 6, instances=4, mesh_x=2)),
        ComputeLevel(instances=8, mesh_x=4)),
    "eyeriss_mini": LoopNestAccelerator("mini", (
        DRAM, StorageLevel("GLB", "SRAM", 10 ** 6, keeps=("Inputs", "Outputs")),
        StorageLevel("column", "container", 0, instances=2, keeps=()),
        _rf(4, ("Inputs",), "ifmap", 2, links=False), _rf(4, ("Weights",), "weights", 2),
        _rf(4, ("Outputs",), "psum", 2)), ComputeLevel(instances=4, mesh_x=2)),
}


def _prime_factors(n):
    out, d = [], 2
    while n > 1:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out


@st.composite
def cases(draw):
    arch = ARCHS[draw(st.sampled_from(sorted(ARCHS)))]
    problem = Problem("p", C=draw(st.sampled_from([1, 2, 3, 4])), M=draw(st.sampled_from([1, 2, 4])),
                      P=draw(st.sampled_from([1, 2, 3, 4, 6])), Q=draw(st.sampled_from([1, 2, 3])),
                      R=draw(st.sampled_from([1, 2, 3])), S=draw(st.sampled_from([1, 2])),
                      N=draw(st.sampled_from([1, 2])), G=draw(st.sampled_from([1, 2])),
                      Wstride=draw(st.sampled_from([1, 2])), Hstride=draw(st.sampled_from([1, 2])),
                      Wdilation=draw(st.sampled_from([1, 2])))
    n = len(arch.levels)
    temporal = [{} for _ in range(n)]
    spatial = [{} for _ in range(n)]
    room = [dict(zip("XY", arch.fanout(i), strict=True)) for i in range(n)]
    for dim, bound in problem.bounds.items():
        for prime in _prime_factors(bound):
            level = draw(st.integers(0, n - 1))
            axis = draw(st.sampled_from(["T", "X", "Y"]))
            container = arch.levels[level].component == "container"
            if axis != "T" and room[level][axis] % prime == 0 and (
                    dim not in spatial[level] or spatial[level][dim][1] == axis):
                room[level][axis] //= prime
                factor = spatial[level].get(dim, (1, axis))[0] * prime
                spatial[level][dim] = (factor, axis)
            elif container:
                temporal[0][dim] = temporal[0].get(dim, 1) * prime
            else:
                temporal[level][dim] = temporal[level].get(dim, 1) * prime
    levels = []
    for i, level in enumerate(arch.levels):
        order = draw(st.permutations(sorted(temporal[i])))
        keep = None if i == 0 or not level.keeps else tuple(
            d for d in level.keeps if draw(st.booleans()))
        levels.append(LevelMapping(temporal=tuple((d, temporal[i][d]) for d in order),
                                   spatial=tuple((d, f, a) for d, (f, a) in spatial[i].items()),
                                   keep=keep))
    return problem, arch, LoopNestMapping(tuple(levels)), draw(st.sampled_from(RULES))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_closed_form_equals_the_walker(case):
    problem, arch, mapping, rule = case
    closed = access_counts(problem, arch, mapping, rule)
    assert walk(problem, arch, mapping, rule) == closed
    assert closed.compute_cycles * closed.utilized_macs == closed.macs == problem.macs


@settings(max_examples=60, deadline=None)
@given(cases())
def test_totals_are_consistent(case):
    problem, arch, mapping, rule = case
    counts = access_counts(problem, arch, mapping, rule)
    rows = {(a.level, a.dataspace): a for a in counts.accesses}
    for dataspace in ("Weights", "Inputs"):
        chain = [a for a in counts.accesses if a.dataspace == dataspace]
        outer = chain[0]
        gapless = problem.Wstride == problem.Hstride == problem.Wdilation == 1
        if dataspace == "Weights" or gapless:      # (strides and dilation leave gaps in the box)
            assert outer.reads >= problem.size_words(dataspace)   # everything read once at least
        links = {level.name: level.links for level in arch.levels}
        for parent, child in itertools.pairwise(chain):
            children = child.instances // parent.instances
            # a parent read reaches at most every child of its fan-out (multicast), unless
            # neighbours forward fills over links
            assert child.fills >= 0
            assert links[child.level] or parent.reads * children >= child.fills
    assert rows[(arch.levels[0].name, "Outputs")].updates >= problem.size_words("Outputs")


@settings(max_examples=20, deadline=None)
@given(cases(), st.floats(0.1, 10.0))
def test_counts_do_not_depend_on_the_energy_table(case, scale):
    problem, arch, mapping, rule = case
    base = LoopNestEnergyTable()
    scaled = LoopNestEnergyTable(ert={level.name: {"read": scale, "fill": 2 * scale}
                                      for level in arch.levels})
    one, two = (evaluate(problem, arch, mapping, t, rule) for t in (base, scaled))
    assert one.accesses == two.accesses and one.cycles == two.cycles
    assert math.isfinite(one.energy_pj) and one.energy_pj > 0
    reads = sum(a.reads for a in one.accesses if a.level == arch.levels[0].name)
    assert reads == 0 or two.level_energy_pj[arch.levels[0].name] != one.level_energy_pj[
        arch.levels[0].name]                                 # the prices are used


def test_bad_mappings_fail_naming_the_level_and_field():
    arch = _arch(DRAM, StorageLevel("GLB", "SRAM", 8), _rf(2), macs=2)
    problem = Problem("p", C=4, M=2, P=4)
    with pytest.raises(ValueError, match=r"needs a mapping of layer 'p'.*loopnest_mapper"):
        access_counts(problem, arch, LoopNestMapping())
    with pytest.raises(ValueError, match=r"factors of C multiply to 2 .*allowed: factors whose "
                                         r"product is 4"):
        access_counts(problem, arch, LoopNestMapping((
            LevelMapping(temporal=(("C", 2), ("M", 2), ("P", 4))), LevelMapping(),
            LevelMapping())))
    with pytest.raises(ValueError, match=r"levels\[1\] \('GLB'\).spatial: the X factors multiply "
                                         r"to 4, more than the X fan-out 2"):
        access_counts(problem, arch, LoopNestMapping((
            LevelMapping(temporal=(("C", 4), ("P", 2))),
            LevelMapping(spatial=(("M", 2, "X"), ("P", 2, "X"))), LevelMapping())))
    with pytest.raises(ValueError, match=r"levels\[1\] \('GLB'\): the kept tiles .* more than "
                                         r"depth_words=8"):
        access_counts(problem, arch, LoopNestMapping((
            LevelMapping(), LevelMapping(temporal=(("C", 4), ("M", 2), ("P", 4))),
            LevelMapping())))
    with pytest.raises(ValueError, match=r"levels\[2\] \('RF'\).keep names \['Weights'\], which "
                                         r"'RF' cannot keep"):
        access_counts(problem, arch.__class__(arch.name, (DRAM, arch.levels[1], _rf(
            2, ("Inputs",))), arch.compute), LoopNestMapping((
                LevelMapping(temporal=(("C", 4), ("M", 2), ("P", 4))), LevelMapping(),
                LevelMapping(keep=("Weights",)))))
    with pytest.raises(ValueError, match=r"rule must be one of \['stationary_resets', "
                                         r"'stationary_keeps'\], got 'x'"):
        access_counts(problem, arch, LoopNestMapping((
            LevelMapping(temporal=(("C", 4), ("M", 2), ("P", 4))), LevelMapping(),
            LevelMapping())), "x")
