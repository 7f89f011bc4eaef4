"""The importer of the original problem handler's tasks, on a folder in its layout
(tests/fixtures/ctl_tasks): several tasks, a glob of several test files, assets, a
check it cannot convert; then the imported bank is checked and judges programs."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from hint_core.problems import Compare, ProblemBank, load_problem_dir
from hint_core.sandbox.results import values_equal
from scripts import check_problems, check_program, ctl_checks, import_problems

CTL = Path(__file__).resolve().parents[1] / "fixtures" / "ctl_tasks"


def same(a: object, b: object) -> bool:
    return values_equal(a, b, Compare()) and values_equal(b, a, Compare())


@pytest.fixture
def imported(tmp_path, capsys) -> tuple[Path, str, int]:
    bank = tmp_path / "bank"
    status = import_problems.main(["--from-ctl", str(CTL), "--to", str(bank)])
    return bank, capsys.readouterr().out, status


# --- the whole folder ------------------------------------------------------------------------------


def test_every_convertible_task_is_imported_and_the_other_refused_by_file_and_line(imported) -> None:
    bank, out, status = imported
    assert status == 1  # one task refused
    assert sorted(ProblemBank(bank).ids()) == ["birthday", "count_vowels", "factorial", "read_file", "shapes"]
    assert "REFUSED is_sorted: test_cases/is_sorted/is_sorted_2.py, line 3: a condition this importer " \
           "does not recognise: `if not is_sorted([]):`" in out
    assert out.strip().endswith("5 of 6 tasks imported; 1 refused")
    assert "ok      factorial: 6 tests (new)" in out
    assert out.count("no reference solution") == 5
    assert not (bank / "is_sorted").exists()


def test_imported_tests_say_what_the_scripts_checked(imported) -> None:
    bank = ProblemBank(imported[0])
    factorial = bank.get("factorial")
    # Files in natural order (1, 2, 10), checks in line order, the loop unrolled.
    assert [(t.args, t.expected) for t in factorial.tests] == [
        ((0,), 1), ((5,), 120), ((1,), 1), ((3,), 6), ((10,), 3628800), ((12,), 479001600)]
    assert factorial.tests[0].name == "factorial(0) (factorial_1.py)"
    assert factorial.limits.cpu_seconds == 3.0  # timeout 1 for each of three scripts
    assert factorial.assets == {"assets/known.txt": b"1 1 2 6 24\n"}
    assert factorial.description.startswith("Write a function factorial(n)")
    assert "def factorial(n):" in factorial.template

    vowels = bank.get("count_vowels")
    assert [(t.args, t.expected) for t in vowels.tests] == [
        (("Python and Anaconda",), 6), (("",), 0), (("AEIOU xyz",), 5), (("rhythm",), 0)]

    birthday = bank.get("birthday")
    assert [same(t.expected, e) for t, e in zip(birthday.tests, [(), (5, 15), ()], strict=True)] == [True] * 3
    assert same(birthday.tests[1].args, ((5, 15), [(5, 15), (5, 16), (6, 17)]))

    read_file = bank.get("read_file")
    assert [(t.args, t.transform, t.expected) for t in read_file.tests] == [((), ("strip",),
                                                                             "This is the data to read.")]
    assert read_file.assets == {"assets/data.txt": b"This is the data to read.\n"}

    shapes = bank.get("shapes")
    assert shapes.functions == ("area", "perimeter") and shapes.function == "area"
    assert [(shapes.test_function(t), t.args, t.kwargs) for t in shapes.tests] == [
        ("area", (2, 3), {}), ("perimeter", (2, 3), {}), ("perimeter", (), {"w": 1, "h": 1})]
    assert type(shapes.tests[2].expected) is float and shapes.tests[2].instance_of == ("float",)
    assert [t.instance_of for t in vowels.tests] == [("int",), (), (), ()]
    assert [t.instance_of for t in read_file.tests] == [("str",)]
    assert all(p.compare.float_tolerance == 0.0 and p.compare.bool_as_int for p in (factorial, vowels,
                                                                                    shapes))


def test_check_problems_passes_on_the_imported_bank_with_warnings(imported, capsys) -> None:
    bank = imported[0]
    assert check_problems.main(["--bank", str(bank)]) == 0
    out = capsys.readouterr().out
    assert out.count("warn ") == 5 and "holds no reference solution" in out
    assert "5 of 5 problems sound" in out


@pytest.mark.parametrize("problem_id, program, correct, first_failure", [
    ("birthday",
     "def birthday(month_day, possible):\n    return month_day if month_day in possible else ()\n",
     True, None),
    ("birthday",
     "def birthday(month_day, possible):\n    return month_day if month_day in possible else []\n",
     False, "birthday((5, 15), []) returned [], expected ()"),
    ("read_file", "def read_file():\n    with open('assets/data.txt') as f:\n        return f.read()\n",
     True, None),
    ("read_file", "def read_file(path):\n    return open(path).read()\n", False,
     "read_file().strip() raised TypeError: read_file() missing 1 required positional argument: 'path', "
     "expected 'This is the data to read.'"),
    # The course's scripts compare with ==: 10.0 is right for `perimeter(2, 3) != 10` ...
    ("shapes", "def area(w, h):\n    return w * h\n\ndef perimeter(w, h):\n    return 2.0 * (w + h)\n", True,
     None),
    # ... but where they check isinstance(..., float), an int is wrong.
    ("shapes", "def area(w, h):\n    return w * h\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n", False,
     "perimeter(w=1, h=1) returned 4 (of type int), expected 4.0 (of type float)"),
    ("count_vowels", "def count_vowels(text):\n    return float(sum(c in 'aeiouAEIOU' for c in text))\n",
     False,
     "count_vowels('Python and Anaconda') returned 6.0 (of type float), expected 6 (of type int)"),
])
def test_check_program_judges_programs_against_the_imported_problems(imported, tmp_path, capsys, problem_id,
                                                                    program, correct, first_failure) -> None:
    bank = imported[0]
    capsys.readouterr()
    file = tmp_path / "attempt.py"
    file.write_text(program)
    assert check_program.main(["--bank", str(bank), problem_id, str(file)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["correct"] is correct
    assert verdict["first_failure"] == first_failure


# --- importing again ---------------------------------------------------------------------------------


def test_importing_again_updates_the_problem_and_its_tests_version(tmp_path, capsys) -> None:
    source = tmp_path / "ctl"
    shutil.copytree(CTL, source)
    bank = tmp_path / "bank"
    assert import_problems.main(["--from-ctl", str(source), "--to", str(bank), "factorial"]) == 0
    first = load_problem_dir(bank / "factorial")
    (bank / "factorial" / "solutions" / "loop.py").write_text(
        "def factorial(n):\n    r = 1\n    for i in range(2, n + 1):\n        r *= i\n    return r\n")
    capsys.readouterr()

    assert import_problems.main(["--from-ctl", str(source), "--to", str(bank), "factorial"]) == 0
    assert "factorial: 6 tests (unchanged)" in capsys.readouterr().out
    assert load_problem_dir(bank / "factorial").tests_version == first.tests_version

    description = source / "task_descriptions" / "factorial.txt"
    description.write_text(description.read_text() + "Use a loop.\n")
    assert import_problems.main(["--from-ctl", str(source), "--to", str(bank), "factorial"]) == 0
    assert "(updated, tests unchanged)" in capsys.readouterr().out
    again = load_problem_dir(bank / "factorial")
    assert again.description.endswith("Use a loop.") and again.tests_version == first.tests_version

    (source / "test_cases" / "factorial" / "factorial_3.py").write_text(
        "if factorial(4) != 24:\n    exit(1)\n")
    assert import_problems.main(["--from-ctl", str(source), "--to", str(bank), "factorial"]) == 0
    out = capsys.readouterr().out
    assert f"(updated, tests changed (version {first.tests_version} -> " in out
    updated = load_problem_dir(bank / "factorial")
    assert len(updated.tests) == 7 and updated.tests_version != first.tests_version
    assert [p.name for p in (bank / "factorial" / "solutions").iterdir()] == ["loop.py"]  # kept
    assert not [p for p in bank.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert check_problems.main(["--bank", str(bank)]) == 0  # the kept solution passes the new tests


def test_a_refused_task_leaves_the_problem_already_in_the_bank_alone(tmp_path, capsys) -> None:
    source = tmp_path / "ctl"
    shutil.copytree(CTL, source)
    bank = tmp_path / "bank"
    assert import_problems.main(["--from-ctl", str(source), "--to", str(bank), "factorial"]) == 0
    before = (bank / "factorial" / "problem.yaml").read_text()
    (source / "test_cases" / "factorial" / "factorial_1.py").write_text(
        "try:\n    factorial(-1)\nexcept ValueError:\n    pass\n")
    assert import_problems.main(["--from-ctl", str(source), "--to", str(bank), "factorial"]) == 1
    assert "factorial_1.py, line 1: a statement this importer does not recognise" in capsys.readouterr().out
    assert (bank / "factorial" / "problem.yaml").read_text() == before


# --- the folder's own problems -------------------------------------------------------------------------


def make_task(tmp_path: Path, tests: dict[str, str], box: dict[str, str] | None = None,
              template: str = "def f(x):\n    pass\n", test_template: str | None = None) -> Path:
    root = tmp_path / "ctl"
    for folder in ("task_descriptions", "template_code", "test_templates", "test_cases/t"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "task_descriptions" / "t.txt").write_text("Do it.\n")
    (root / "template_code" / "t.py").write_text(template)
    (root / "test_templates" / "tt.py").write_text(
        test_template or "###{{{ INPUT_PROGRAM }}}###\n###{{{ TEST_CASES }}}###\n")
    for name, text in tests.items():
        (root / "test_cases" / "t" / name).write_text(textwrap.dedent(text))
    for rel, text in (box or {}).items():
        (root / "execution_boxes" / "t" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "execution_boxes" / "t" / rel).write_text(text)
    (root / "task_metadata.yaml").write_text(textwrap.dedent("""
        version: 1
        tasks:
          t:
            name: T
            task_description_file: t.txt
            template_code_file: t.py
            test_template_file: tt.py
            test_case_files: t/*.py
            execution_dir: t
            timeout: 1
    """))
    return root


def import_one(tmp_path: Path, capsys, **task: object) -> tuple[int, str]:
    root = make_task(tmp_path, **task)  # type: ignore[arg-type]
    status = import_problems.main(["--from-ctl", str(root), "--to", str(tmp_path / "bank")])
    return status, capsys.readouterr().out


def test_box_files_outside_assets_are_refused(tmp_path, capsys) -> None:
    status, out = import_one(tmp_path, capsys, tests={"a.py": "if f(1) != 1:\n    exit(1)\n"},
                             box={"data.txt": "x"})
    assert status == 1 and "execution_boxes/t/data.txt: only files under assets/" in out


def test_a_test_template_without_the_markers_is_refused(tmp_path, capsys) -> None:
    status, out = import_one(tmp_path, capsys, tests={"a.py": "if f(1) != 1:\n    exit(1)\n"},
                             test_template="exec(open('tests.py').read())\n")
    assert status == 1 and "test_templates/tt.py: expected the markers" in out


def test_usage_errors(tmp_path, capsys) -> None:
    assert import_problems.main(["--from-ctl", str(tmp_path), "--to", str(tmp_path / "b")]) == 2
    assert "holds no task_metadata.yaml" in capsys.readouterr().err
    assert import_problems.main(["--from-ctl", str(CTL), "--to", str(tmp_path / "b"), "nope"]) == 2
    assert "not in" in capsys.readouterr().err and not (tmp_path / "b" / "nope").exists()


# --- test scripts, check by check ------------------------------------------------------------------------


def read(source: str, functions: tuple[str, ...] = ("f",)) -> list[tuple]:
    checks = ctl_checks.TestScript(textwrap.dedent(source), "t.py", functions).read()
    return [(t.function, t.args, t.kwargs, t.transform,
             t.expected) + ((t.instance_of,) if t.instance_of else ())
            for t in ctl_checks.tests_from(checks, {"t.py": "t.py"})]


@pytest.mark.parametrize("source, tests", [
    ("if f(1) != 2:\n    exit(1)\n", [("f", (1,), {}, (), 2)]),
    ("if 2 != f(1):\n    print('no', file=sys.stderr)\n", [("f", (1,), {}, (), 2)]),
    ("r = f([1, 2])\nif r != (1, 2):\n    sys.exit('wrong')\n", [("f", ([1, 2],), {}, (), (1, 2))]),
    ("x = 'a b'\ny = {1, 2}\nif f(x, k=y) != frozenset():\n    raise SystemExit(1)\n",
     [("f", ("a b",), {"k": {1, 2}}, (), frozenset())]),
    ("if not (f(1) == 2):\n    exit(1)\n", [("f", (1,), {}, (), 2)]),
    ("if f(1) is not None:\n    exit(1)\n", [("f", (1,), {}, (), None)]),
    ("assert f(1) == 2\nassert f(2) == 4, 'message'\n", [("f", (1,), {}, (), 2), ("f", (2,), {}, (), 4)]),
    ("if f(1) != 1 or f(2) != 2:\n    exit(1)\n", [("f", (1,), {}, (), 1), ("f", (2,), {}, (), 2)]),
    ("if f(1) != 1:\n    exit(1)\nelif f(2) != 2:\n    exit(1)\n", [("f", (1,), {}, (), 1), ("f", (2,), {},
                                                                                             (), 2)]),
    ("for a, b in [(1, 1), (2, 4)]:\n    if f(a) != b:\n        exit(1)\n",
     [("f", (1,), {}, (), 1), ("f", (2,), {}, (), 4)]),
    ("if sorted(f('b a').split()) != ['a', 'b']:\n    exit(1)\n", [("f", ("b a",), {}, ("split", "sorted"),
                                                                    ["a", "b"])]),
    ("r = f(1)\nif len(r) != 3:\n    exit(1)\n", [("f", (1,), {}, ("len",), 3)]),
    ("if not isinstance(f(1), float):\n    exit(1)\nif f(1) != 3:\n    exit(1)\n",
     [("f", (1,), {}, (), 3, ("float",))]),
    ("if isinstance(f(1), (int, bool)) == False:\n    exit(1)\nif f(1) != 3:\n    exit(1)\n",
     [("f", (1,), {}, (), 3, ("int", "bool"))]),
    ("if not isinstance(f(1), list):\n    exit(1)\nif sorted(f(1)) != [1]:\n    exit(1)\n",
     [("f", (1,), {}, ("sorted",), [1], ("list",))]),
    ("if f(1) != 3:\n    exit(1)\nif f(1) != 3:\n    exit(1)\n", [("f", (1,), {}, (),
                                                                   3)]),  # said twice, one test
    ("'''A docstring.'''\nimport sys\nprint('running')\nif f(1) != 3:\n    exit(1)\nprint('all passed')\n",
     [("f", (1,), {}, (), 3)]),
])
def test_recognised_checks(source: str, tests: list[tuple]) -> None:
    got = read(source)
    assert len(got) == len(tests)
    for one, other in zip(got, tests, strict=True):
        assert all(same(a, b) for a, b in zip(one, other, strict=True)), (one, other)


@pytest.mark.parametrize("source, line, why", [
    ("f(1)\n", 1, "a statement this importer does not recognise"),
    ("try:\n    f(1)\nexcept Exception:\n    exit(1)\n", 1, "a statement this importer does not recognise"),
    ("if not f([]):\n    exit(1)\n", 1, "a condition this importer does not recognise"),
    ("if f(1) < 3:\n    exit(1)\n", 1, "a failure condition this importer does not recognise"),
    ("if f(1) != 2:\n    print('only a message')\n", 1,
     "an `if` whose body does not simply report a failure"),
    ("if f(1) != 2:\n    exit(0)\n", 1, "an `if` whose body does not simply report a failure"),
    ("if f(1) != f(2):\n    exit(1)\n", 1, "an expected value that is not a plain value"),
    ("import math\nif f(1) != math.pi:\n    exit(1)\n", 2, "an expected value that is not a plain value"),
    ("x = [1]\nx.append(2)\nif f(x) != 2:\n    exit(1)\n", 2, "a statement this importer does not recognise"),
    ("if g(1) != 2:\n    exit(1)\n", 1, "a comparison without a call of f"),
    ("if f(1) != 2:\n    exit(1)\nelse:\n    print('ok')\n", 4, "an `else` branch"),
    ("while True:\n    break\n", 1, "a statement this importer does not recognise"),
    ("if f(1) != 2 and f(2) != 3:\n    exit(1)\n", 1, "a failure condition this importer does not recognise"),
])
def test_unrecognised_checks_are_refused_with_file_and_line(source: str, line: int, why: str) -> None:
    with pytest.raises(ctl_checks.Refused, match=rf"^t\.py, line {line}: {why}"):
        read(source)


@pytest.mark.parametrize("source, why", [
    ("if not isinstance(f(1), list):\n    exit(1)\n",
     "an isinstance check with no value check of the same call"),
    ("if not isinstance(f(1), str):\n    exit(1)\nif f(1) != 3:\n    exit(1)\n", "contradict each other"),
    ("if not isinstance(f(1).strip(), str):\n    exit(1)\nif f(1).strip() != 'a':\n    exit(1)\n",
     "an isinstance check of a transformed value"),
    ("if not isinstance(f(1), int):\n    exit(1)\nif not isinstance(f(1), str):\n    exit(1)\nif f(1) != 1:\n"
     "    exit(1)\n", "a second, different isinstance check"),
])
def test_isinstance_checks_go_with_a_value_check_or_are_refused(source: str, why: str) -> None:
    with pytest.raises(ctl_checks.Refused, match=why):
        read(source)
