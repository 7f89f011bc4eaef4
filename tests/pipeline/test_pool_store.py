"""The solution pool in the pipeline: what joins it, what it offers, and test versions."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from database import make_database
from hint_actors import pool_store
from hint_core.ai_config import PoolConfig
from hint_core.pool import dedup_key
from hint_core.problems import ProblemBank
from hint_core.problems import TestCase as Case
from migrations import migrate
from models import EnhancedProgram, ProgramEnhancementPhase, SolutionPoolEntry, db
from tests.helpers import SANDBOX, join, require_service
from tests.production import postgres_database

BANK = ProblemBank()
FACTORIAL = BANK.get("factorial")
# Correct, and closer to the buggy programs below than any reference solution.
WHILE_FACTORIAL = (
    "def factorial(n):\n    result = 1\n    i = 2\n    while i <= n:\n"
    "        result *= i\n        i += 1\n    return result\n"
)
BUGGY_WHILE = WHILE_FACTORIAL.replace("result *= i", "result += i")
WRONG_FACTORIAL = "def factorial(n):\n    return n\n"


run_program = SANDBOX.run


@pytest.fixture(autouse=True)
def bound(runtime):
    """Every test here has the runtime's database bound."""


def ask(client, request_id, program, hint_type="debug", problem_id="factorial"):
    reply = client.post("/ai_hint/add_request/", json={
        "request_id": request_id,
        "data": {"problem_id": problem_id, "student_program": program, "hint_type": hint_type},
    })
    assert reply.status_code == 200, reply.get_json()
    reply = client.post("/ai_hint/add_reflection/", json={
        "request_id": request_id,
        "data": {"reflection_question": "What is wrong?", "reflection_answer": "I am not sure where it goes wrong."},
    })
    assert reply.status_code == 200, reply.get_json()


def trace(client, request_id):
    return client.get(f"/ai_hint/trace/?request_id={request_id}").get_json()


def pool_rows(problem_id="factorial"):
    return list(SolutionPoolEntry.select().where(SolutionPoolEntry.problem_id == problem_id))


def verified_add(problem, program, source="student"):
    return pool_store.add_to_pool(problem, [(program, run_program(problem, program), source)], run_program) == 1


def test_a_correct_student_program_joins_the_pool_once(client, runtime, worker):
    ask(client, 1, WHILE_FACTORIAL, hint_type="plan")
    renamed = WHILE_FACTORIAL.replace("result", "product").replace("    i", "    k").replace("i <=", "k <=")
    ask(client, 2, "# my solution\n" + renamed.replace("k += 1", "k += 1  # next"), hint_type="plan")
    join(runtime)
    rows = [r for r in pool_rows() if r.source == "student"]  # the references join too
    expected = [(FACTORIAL.tests_version, dedup_key(WHILE_FACTORIAL))]
    assert [(r.tests_version, r.normalized_hash) for r in rows] == expected
    assert rows[0].run_time > 0


def test_verified_candidates_join_the_pool_and_failing_programs_do_not(client, runtime, worker):
    ask(client, 1, BUGGY_WHILE)
    join(runtime)
    rows = pool_rows()
    assert sorted(r.program for r in rows) == sorted(FACTORIAL.solutions)
    assert {r.source for r in rows} == {"reference"}
    wrong = [(WRONG_FACTORIAL, run_program(FACTORIAL, WRONG_FACTORIAL), "llm")]
    assert pool_store.add_to_pool(FACTORIAL, wrong, run_program) == 0
    assert len(pool_rows()) == len(FACTORIAL.solutions)


def test_the_nearest_pool_program_is_offered_and_chosen_for_the_hint(client, runtime, worker):
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    ask(client, 1, BUGGY_WHILE)
    join(runtime)
    data = trace(client, 1)
    pool_programs = [p for p in data["enhanced_programs"] if p["source"] == "pool"]
    assert [p["program"] for p in pool_programs] == [WHILE_FACTORIAL]
    assert pool_programs[0]["correct"] is True
    assert data["hint_generation_phase"]["selected_program"] == pool_programs[0]["id"]


def test_reference_solutions_in_the_pool_are_not_offered_twice():
    for solution in FACTORIAL.solutions:
        assert verified_add(FACTORIAL, solution, "reference")
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    pick = pool_store.pick_candidates(FACTORIAL, "debug", BUGGY_WHILE, k=3)
    assert pick.offer.programs == (WHILE_FACTORIAL,)
    assert pick.offer.nearest_distance == 1


def test_optimize_is_offered_the_fastest_entries():
    for program in FACTORIAL.solutions + (WHILE_FACTORIAL,):
        verified_add(FACTORIAL, program)
    fastest = sorted(pool_rows(), key=lambda r: (r.run_time, r.id))
    pick = pool_store.pick_candidates(FACTORIAL, "optimize", WHILE_FACTORIAL, k=2)
    references = {dedup_key(s) for s in FACTORIAL.solutions}
    expected = [r.program for r in fastest if r.normalized_hash not in references][:2]
    assert list(pick.offer.programs) == expected


def test_entries_verified_against_older_tests_are_never_offered_as_correct():
    changed = dataclasses.replace(FACTORIAL, tests=FACTORIAL.tests + (Case("negative", args=(-1,), expected=1),))
    assert changed.tests_version != FACTORIAL.tests_version
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    assert pool_store.load_entries(changed) == []
    pick = pool_store.pick_candidates(changed, "debug", BUGGY_WHILE, k=3)
    assert pick.offer.nearest_distance is None  # nothing verified against the new tests
    assert pick.offer.programs == (WHILE_FACTORIAL,)  # offered again, to be run
    assert pick.offer.verified == {}  # and not taken on the pool's word
    assert len(pick.stale_ids) == 1


class CountingExecutor:
    def __init__(self, executor) -> None:
        self.executor, self.ran = executor, []

    def run(self, problem, program):
        self.ran.append(program)
        return self.executor.run(problem, program)


def test_programs_the_pool_verified_against_the_current_tests_are_not_run_again(client, runtime, worker, executor):
    runtime.executor = counting = CountingExecutor(executor)
    ran = counting.ran
    ask(client, 1, BUGGY_WHILE)  # an empty pool: the reference solutions are run, and join it
    join(runtime)
    assert sorted(ran) == sorted((BUGGY_WHILE, *FACTORIAL.solutions))
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    ran.clear()

    ask(client, 2, BUGGY_WHILE.replace("result", "total"))
    join(runtime)
    assert ran == [BUGGY_WHILE.replace("result", "total")]  # only the student's program ran
    entries = {r.program: r.id for r in pool_rows()}
    offered = [p for p in trace(client, 2)["enhanced_programs"] if p["source"] in ("reference", "pool")]
    assert sorted(p["program"] for p in offered) == sorted((*FACTORIAL.solutions, WHILE_FACTORIAL))
    for p in offered:
        assert p["correct"] is True and p["evaluated_at"]
        assert p["run_result"] == {
            "verdict_from": "solution pool", "pool_entry": entries[p["program"]],
            "tests_version": FACTORIAL.tests_version,
        }
        assert p["edit_distance"] is not None and p["run_time"] > 0
    assert trace(client, 2)["hint"]["job_finished_successfully"] is True


def test_a_reference_solution_is_vouched_for_by_an_entry_with_its_normal_form():
    solution = FACTORIAL.solutions[1]  # the loop
    renamed = "# a student's, other names\n" + (
        solution.replace("result", "product").replace("for i in", "for k in").replace("*= i", "*= k"))
    assert renamed != solution and dedup_key(renamed) == dedup_key(solution)
    assert verified_add(FACTORIAL, renamed, "student")
    pick = pool_store.pick_candidates(FACTORIAL, "debug", BUGGY_WHILE, k=3)
    entry = SolutionPoolEntry.get()
    assert pick.offer.verified[solution].entry == entry.id
    assert pick.offer.programs == ()  # the entry is the reference solution's, offered as such


def test_stale_entries_are_reverified_by_the_pipeline_or_dropped(client, runtime, worker):
    for program in (WHILE_FACTORIAL, WRONG_FACTORIAL):
        SolutionPoolEntry.create(
            problem_id="factorial", tests_version="older-tests", normalized_hash=dedup_key(program),
            program=program, tokens=[], run_time=0.01, source="student",
        )
    ask(client, 1, BUGGY_WHILE)
    join(runtime)
    offered = {p["program"]: p["correct"] for p in trace(client, 1)["enhanced_programs"] if p["source"] == "pool"}
    assert offered == {WHILE_FACTORIAL: True, WRONG_FACTORIAL: False}
    rows = pool_rows()
    assert {r.tests_version for r in rows} == {FACTORIAL.tests_version}
    assert WHILE_FACTORIAL in {r.program for r in rows}
    assert WRONG_FACTORIAL not in {r.program for r in rows}


def test_a_close_pool_program_skips_the_llm_program_call(client, runtime, worker, llm_services, fake_llm):
    runtime.services = llm_services
    llm_services.ai = dataclasses.replace(llm_services.ai, pool=PoolConfig(skip_llm_when_distance_at_most=2))
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    ask(client, 1, BUGGY_WHILE)  # one token from the pool program
    ask(client, 2, WRONG_FACTORIAL)  # far from everything
    join(runtime)
    phases = {p.request.request_id: p.engine for p in ProgramEnhancementPhase.select()}
    assert phases == {1: "pool", 2: "openai"}
    assert len(fake_llm.prompts("program")) == 1  # request 2 only
    assert all(trace(client, i)["hint"]["engine"] == "openai" for i in (1, 2))
    selected = trace(client, 1)["hint_generation_phase"]["selected_program"]
    assert EnhancedProgram.get_by_id(selected).program == WHILE_FACTORIAL


def test_without_the_option_the_llm_is_always_asked(client, runtime, worker, llm_services, fake_llm):
    runtime.services = llm_services
    assert llm_services.ai.pool.skip_llm_when_distance_at_most is None
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    ask(client, 1, BUGGY_WHILE)
    join(runtime)
    assert ProgramEnhancementPhase.get().engine == "openai"
    assert len(fake_llm.prompts("program")) == 1


def test_entries_added_after_the_pool_was_read_are_offered_next_time():
    assert pool_store.pick_candidates(FACTORIAL, "debug", BUGGY_WHILE, k=3).offer.programs == ()
    assert verified_add(FACTORIAL, WHILE_FACTORIAL)
    pick = pool_store.pick_candidates(FACTORIAL, "debug", BUGGY_WHILE, k=3)
    assert pick.offer.programs == (WHILE_FACTORIAL,) and pick.offer.nearest_distance == 1
    SolutionPoolEntry.delete().execute()  # rows that go away are not offered from memory
    assert pool_store.pick_candidates(FACTORIAL, "debug", BUGGY_WHILE, k=3).offer.programs == ()


@pytest.fixture
def on_postgres():
    """The models bound to a fresh PostgreSQL database for one test (then SQLite again)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    previous = db.obj
    with postgres_database() as url:
        migrate(url)
        database = make_database(url)
        db.initialize(database)
        try:
            yield
        finally:
            database.close_all()
            db.initialize(previous)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_adding_a_batch_keeps_one_entry_per_normal_form_and_counts_the_new_ones(backend, request):
    if backend == "postgresql":
        request.getfixturevalue("on_postgres")
    passed = run_program(FACTORIAL, WHILE_FACTORIAL)
    renamed = WHILE_FACTORIAL.replace("result", "product")
    assert pool_store.add_to_pool(FACTORIAL, [(WHILE_FACTORIAL, passed, "llm")], run_program) == 1
    batch = [
        (renamed, passed, "llm"),  # known already, up to names
        (FACTORIAL.solutions[0], run_program(FACTORIAL, FACTORIAL.solutions[0]), "reference"),
        ("# again\n" + FACTORIAL.solutions[0], run_program(FACTORIAL, FACTORIAL.solutions[0]), "llm"),  # same batch
        (WRONG_FACTORIAL, run_program(FACTORIAL, WRONG_FACTORIAL), "llm"),  # failed: never joins
    ]
    assert pool_store.add_to_pool(FACTORIAL, batch, run_program) == 1
    assert sorted(r.program for r in pool_rows()) == sorted([WHILE_FACTORIAL, FACTORIAL.solutions[0]])
    assert pool_store.add_to_pool(FACTORIAL, batch, run_program) == 0


# --- trust: agreeing with the reference solutions beyond the tests (issue 14) ----------------

# Tests only for n >= 1: a program wrong at n = 0 passes them all.
WEAK_FACTORIAL = dataclasses.replace(FACTORIAL, tests=tuple(t for t in FACTORIAL.tests if t.args[0] >= 1))
WRONG_AT_ZERO = "def factorial(n):\n    result = n\n    for i in range(2, n):\n        result *= i\n    return result\n"


def test_a_program_that_passes_weak_tests_but_disagrees_with_the_reference_stays_out(caplog):
    assert run_program(WEAK_FACTORIAL, WRONG_AT_ZERO).correct
    caplog.set_level(logging.WARNING, logger="hint.pool")
    run = run_program(WEAK_FACTORIAL, WRONG_AT_ZERO)
    assert pool_store.add_to_pool(WEAK_FACTORIAL, [(WRONG_AT_ZERO, run, "student")], run_program, 77) == 0
    assert pool_rows() == []
    [gap] = pool_store.recorded_gaps(WEAK_FACTORIAL)
    assert (gap.input, gap.reference_output, gap.program_output) == ("factorial(0)", "1", "returned 0")
    assert (gap.problem_id, gap.tests_version, gap.program_hash, gap.source) == (
        "factorial", WEAK_FACTORIAL.tests_version, dedup_key(WRONG_AT_ZERO), "student")
    [line] = [r for r in caplog.records if r.name == "hint.pool"]
    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith("request 77: problem factorial: a student program passes every test")
    # Offered again (another request, the LLM): refused from the gap, without running it again.
    counting = CountingExecutor(SANDBOX)
    assert pool_store.add_to_pool(WEAK_FACTORIAL, [(WRONG_AT_ZERO, run, "llm")], counting.run) == 0
    assert counting.ran == [] and len(pool_store.recorded_gaps(WEAK_FACTORIAL)) == 1
    # The full tests catch it anyway; the gap belongs to the weak tests' version only.
    assert pool_store.recorded_gaps(FACTORIAL) == []


def test_a_program_that_agrees_with_the_reference_joins_and_is_not_checked_twice():
    assert verified_add(WEAK_FACTORIAL, WHILE_FACTORIAL)
    assert [r.program for r in pool_rows()] == [WHILE_FACTORIAL]
    assert pool_store.recorded_gaps(WEAK_FACTORIAL) == []
    counting = CountingExecutor(SANDBOX)
    renamed = WHILE_FACTORIAL.replace("result", "product")
    assert pool_store.add_to_pool(WEAK_FACTORIAL, [(renamed, run_program(WEAK_FACTORIAL, renamed), "llm")],
                                  counting.run) == 0
    assert counting.ran == []  # the same program up to names: already vouched for


def test_without_a_reference_solution_passing_the_tests_is_enough():
    no_reference = dataclasses.replace(WEAK_FACTORIAL, solutions=())
    assert verified_add(no_reference, WRONG_AT_ZERO)
    assert pool_store.recorded_gaps(no_reference) == []


def test_of_a_batch_of_candidates_only_those_that_agree_join():
    batch = [(p, run_program(WEAK_FACTORIAL, p), "llm") for p in (WRONG_AT_ZERO, WHILE_FACTORIAL, WRONG_FACTORIAL)]
    assert pool_store.add_to_pool(WEAK_FACTORIAL, batch, run_program, 5) == 1
    assert [r.program for r in pool_rows()] == [WHILE_FACTORIAL]
    assert [(g.source, g.program_hash) for g in pool_store.recorded_gaps(WEAK_FACTORIAL)] == [
        ("llm", dedup_key(WRONG_AT_ZERO))]
