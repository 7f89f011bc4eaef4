"""The problem bank on disk and the problem text from orchestration."""

from __future__ import annotations

import pytest

from hint_core.problems import ProblemBank, ProblemError, UnknownProblem, load_problem_dir

SAMPLES = ("sum_two_numbers", "factorial", "count_vowels", "read_file")


def test_bank_holds_the_original_samples_and_more():
    bank = ProblemBank()
    assert set(SAMPLES) <= set(bank.ids())
    assert len(bank.ids()) >= 10
    assert bank.get("sum_two_numbers").function == "foo"
    assert bank.get("read_file").assets == {"assets/data.txt": b"This is the data to read.\n"}
    assert any(bank.get(i).kind == "stdio" for i in bank.ids())
    for problem_id in bank.ids():
        problem = bank.get(problem_id)
        assert problem.description and problem.template and problem.tests and problem.solutions


def test_the_samples_match_the_original_system():
    """The original's read_file() takes no argument and returns assets/data.txt's text;
    its test compares read_file().strip() with the text."""
    bank = ProblemBank()
    read_file = bank.get("read_file")
    assert "def read_file():" in read_file.template and "`read_file()`" in read_file.description
    assert [(t.args, t.kwargs, t.transform, t.expected) for t in read_file.tests] == [
        ((), {}, ("strip",), "This is the data to read.")]
    assert all("def read_file():" in s for s in read_file.solutions)
    sum_two = bank.get("sum_two_numbers")
    assert sum_two.function == "foo" and "`foo(a, b)`" in sum_two.description
    assert bank.get("factorial").function == "factorial"
    assert bank.get("count_vowels").function == "count_vowels"
    vowels = {t.args: t.expected for t in bank.get("count_vowels").tests}
    assert vowels[("Python and Anaconda",)] == 6 and vowels[("",)] == 0


def test_unknown_problem():
    with pytest.raises(UnknownProblem, match="nope"):
        ProblemBank().get("nope")


def test_tests_version_changes_with_the_tests(tmp_path):
    folder = tmp_path / "double"
    (folder / "solutions").mkdir(parents=True)
    (folder / "solutions" / "a.py").write_text("def double(x):\n    return 2 * x\n")
    spec = ("description: Double it.\ntemplate: 'def double(x): pass'\nfunction: double\n"
            "tests:\n  - {args: [1], expected: 2}\n")
    (folder / "problem.yaml").write_text(spec)
    before = load_problem_dir(folder).tests_version
    (folder / "problem.yaml").write_text(spec + "  - {args: [3], expected: 6}\n")
    assert load_problem_dir(folder).tests_version != before


@pytest.mark.parametrize("spec, message", [
    ("template: x\nfunction: f\ntests: [{args: [], expected: 1}]\n", "missing field 'description'"),
    ("description: d\ntemplate: x\nfunction: f\ntests: []\n", "'tests' is empty"),
    ("description: d\ntemplate: x\nfunction: 3\ntests: [{args: [], expected: 1}]\n", "'function'"),
    ("description: d\ntemplate: x\nfunction: f\ntests: [{args: []}]\n", "tests[0]: missing field 'expected'"),
    ("description: d\ntemplate: x\nfunction: f\nlimits: {cpu: 1}\ntests: [{args: [], expected: 1}]\n",
     "unknown field 'cpu'"),
    ("description: d\ntemplate: x\nkind: stdio\ntests: [{stdin: 1, expected: '1'}]\n", "'stdin'"),
])
def test_malformed_problem_names_problem_and_field(tmp_path, spec, message):
    folder = tmp_path / "broken"
    (folder / "solutions").mkdir(parents=True)
    (folder / "solutions" / "a.py").write_text("def f():\n    return 1\n")
    (folder / "problem.yaml").write_text(spec)
    with pytest.raises(ProblemError) as raised:
        load_problem_dir(folder)
    assert str(raised.value).startswith("broken:") and message in str(raised.value)
