"""The refine loop: resumes after a crash to the same final state, validates logs, oracles, outputs."""

import dataclasses
import json

import pytest

from dianjax import refine
from dianjax.refine import acquisition, surrogate
from dianjax.refine.encoding import DesignSpace, Dimension

SPACE = DesignSpace((Dimension("a", tuple(range(6))), Dimension("b", (8, 16, 32, 64)),
                     Dimension("df", ("ws", "os", "is"), "nominal")),
                    is_valid=lambda d: d[0] + d[1] <= 7)
CONFIG = refine.RefineConfig(
    objectives=(refine.Objective("accuracy", 1.0), refine.Objective("edp", -0.5)),
    budget=5, seed=3, num_random_seeds=3,
    surrogate=surrogate.SurrogateConfig(hidden_sizes=(8, 8), num_members=2, num_steps=30),
    acquisition=acquisition.AcquisitionConfig(num_starts=2, num_steps=2, cg_iterations=3,
                                              move_probabilities=(0.5, 0.25, 0.25)))


class Oracle:
    """A cheap deterministic oracle that counts its calls and can crash after ``crash_after``."""

    def __init__(self, crash_after=None):
        self.calls = 0
        self.crash_after = crash_after

    def __call__(self, design):
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise RuntimeError("simulated crash")
        self.calls += 1
        a, b, df = design
        return {"accuracy": 0.9 - 0.02 * (a - 3) ** 2 + 0.01 * df, "edp": 0.1 * b + 0.05 * a,
                "latency_cycles": 1000 * (b + 1)}


def _lines(path):
    return path.read_text().splitlines()


def test_resume_after_a_crash_ends_in_the_same_state(tmp_path):
    seeds = [(0, 0, 0), (3, 1, 2)]
    uninterrupted = refine.run_refine(SPACE, Oracle(), seeds, CONFIG, tmp_path / "a", progress=False)
    assert len(uninterrupted.records) == 2 + 3 + 5
    assert [r.move for r in uninterrupted.records[:5]] == ["seed"] * 5
    assert set(r.move for r in uninterrupted.records[5:]) <= set(acquisition.MOVES)
    assert len({r.design for r in uninterrupted.records}) == 10
    assert all(SPACE.contains(r.design) for r in uninterrupted.records)

    crashing = Oracle(crash_after=7)  # dies in the second proposal round
    with pytest.raises(RuntimeError, match="simulated crash"):
        refine.run_refine(SPACE, crashing, seeds, CONFIG, tmp_path / "b", progress=False)
    assert len(_lines(tmp_path / "b" / refine.LOG_NAME)) == 1 + 7
    resumed_oracle = Oracle()
    resumed = refine.run_refine(SPACE, resumed_oracle, seeds, CONFIG, tmp_path / "b", progress=False)
    assert resumed_oracle.calls == 3  # the 7 logged queries are not repeated
    assert resumed == uninterrupted
    assert _lines(tmp_path / "a" / refine.LOG_NAME) == _lines(tmp_path / "b" / refine.LOG_NAME)
    for name in ("best.json", "pareto.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_torn_last_line_is_dropped_and_requeried(tmp_path):
    log = tmp_path / refine.LOG_NAME
    records = list(refine.iterate_refine(SPACE, Oracle(), [], CONFIG, log))
    complete = log.read_text()
    lines = complete.splitlines(keepends=True)
    log.write_text("".join(lines[:-1]) + lines[-1][:20])  # crash while writing the last query
    oracle = Oracle()
    assert list(refine.iterate_refine(SPACE, oracle, [], CONFIG, log)) == records
    assert oracle.calls == 1 and log.read_text() == complete


def test_larger_budget_continues_a_finished_run(tmp_path):
    log = tmp_path / refine.LOG_NAME
    short = list(refine.iterate_refine(SPACE, Oracle(), [], CONFIG, log))
    oracle = Oracle()
    longer_config = dataclasses.replace(CONFIG, budget=7)
    longer = list(refine.iterate_refine(SPACE, oracle, [], longer_config, log))
    assert longer[:len(short)] == short and len(longer) == len(short) + 2 and oracle.calls == 2


def test_log_of_another_run_is_refused(tmp_path):
    log = tmp_path / refine.LOG_NAME
    list(refine.iterate_refine(SPACE, Oracle(), [], CONFIG, log))
    other = dataclasses.replace(CONFIG, seed=4)
    with pytest.raises(ValueError, match=r"written by a different run: its \['config'\] differ"):
        list(refine.iterate_refine(SPACE, Oracle(), [], other, log))
    with pytest.raises(ValueError, match=r"its \['seed_designs'\] differ"):
        list(refine.iterate_refine(SPACE, Oracle(), [(1, 1, 1)], CONFIG, log))
    log.write_text(log.read_text().replace('"index": 2', '"index": 5'))
    with pytest.raises(ValueError, match=r"must be query index 2, got kind 'query' index 5"):
        refine.read_log(log)


@pytest.mark.parametrize("result, match", [
    ({"accuracy": 0.5}, r"lacks objective\(s\) \['edp'\]"),
    ({"accuracy": 0.5, "edp": float("nan")}, r"metric 'edp' for design .* must be a finite number"),
    ([0.5, 1.0], r"oracle must return a mapping"),
])
def test_bad_oracle_results(tmp_path, result, match):
    with pytest.raises(ValueError, match=match):
        list(refine.iterate_refine(SPACE, lambda design: result, [], CONFIG, tmp_path / "log"))


def test_outputs(tmp_path):
    result = refine.run_refine(SPACE, Oracle(), [(0, 0, 0)], CONFIG, tmp_path, progress=False)
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["utility"] == max(r.utility for r in result.records) == result.best.utility
    assert best["values"] == SPACE.values(result.best.design)
    pareto = json.loads((tmp_path / "pareto.json").read_text())
    assert [tuple(p["design"]) for p in pareto] == [r.design for r in result.pareto]
    assert result.best in result.pareto  # the utility's maximizer is never dominated
    assert (tmp_path / "refine.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kwargs, match", [
    ({"objectives": ()}, r"objectives must be a non-empty sequence of Objective"),
    ({"objectives": (refine.Objective("a", 1.0), refine.Objective("a", 2.0))}, r"unique names"),
    ({"budget": -1}, r"budget must be an integer >= 0"),
    ({"num_random_seeds": 1.5}, r"num_random_seeds must be an integer >= 0"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        refine.RefineConfig(**{"objectives": CONFIG.objectives, **kwargs})
    with pytest.raises(ValueError, match=r"weight must be a finite non-zero number"):
        refine.Objective("edp", 0.0)


def test_too_few_seeds_and_invalid_seed_designs(tmp_path):
    no_random = dataclasses.replace(CONFIG, num_random_seeds=0)
    with pytest.raises(ValueError, match=r"at least 2 seed designs"):
        list(refine.iterate_refine(SPACE, Oracle(), [(0, 0, 0)], no_random, tmp_path / "log"))
    with pytest.raises(ValueError, match=r"fails the space's validity predicate"):
        list(refine.iterate_refine(SPACE, Oracle(), [(5, 3, 0)], CONFIG, tmp_path / "log"))
