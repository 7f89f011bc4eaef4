"""The LLM-free hint engine: hints from the test run and the nearest correct program.

Used when no LLM is configured (the embedded default) and as the fallback when the LLM
keeps failing. One style per hint type, each grounded in evidence:

- debug: the failing evidence in plain words (`run_evidence`: the failing test, or what
  the course's remote execution reported, with the line a crash happened on), and the
  region of the student's program to look at (`fault_location`): a line and what is there,
  as specific as the evidence allows;
- plan: the next step the student has not written yet, read from the structure of the
  nearest correct program (`program_plan`);
- optimize: the measured time against the fastest known correct program, and the
  construct that costs it (`program_cost`).

Hints never contain solution code: they name a line of the student's own program, a
construct, a variable or operator the student wrote, a test, a measured time. Every hint
ends with a question. No program makes the engine fail: a program too large or too deeply
nested to analyse, or an analysis that breaks on it, gets a hint from the failing evidence
alone.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hint_core.fault_location import Clue, Confidence, Region, locate
from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)
from hint_core.pool import work_seconds
from hint_core.problems import Problem
from hint_core.program_cost import Cost, costly_constructs
from hint_core.program_diff import Departure
from hint_core.program_plan import Step, missing_steps, plan_steps
from hint_core.run_evidence import KNOWN_STATUSES, Failure, bounded, failure_of, failure_sentence, value_kind
from hint_core.sandbox import RunResult

log = logging.getLogger(__name__)

# Programs beyond these sizes are not analysed (the syntax tree, alignments and shapes grow
# with them); their hints come from the failing evidence alone. Real exercises are far smaller.
MAX_ANALYSED_CHARS = 20_000
MAX_ANALYSED_NODES = 5_000
MAX_ANALYSED_DEPTH = 60


@dataclass(frozen=True)
class OfflineHint:
    explanation: str
    hint: str


def analysable(program: str) -> bool:
    """Whether a program is small and shallow enough for the analyses."""
    if len(program) > MAX_ANALYSED_CHARS:
        return False
    try:
        tree = parse_program(program)
    except SyntaxError:
        return True  # a syntax error is read from the exception, not from a tree
    except (ValueError, RecursionError, MemoryError):
        return False
    count, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_ANALYSED_NODES or depth > MAX_ANALYSED_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return True


# --- the region in words -------------------------------------------------------------------

_TYPE_WORDS = {
    "int": "a whole number", "float": "a decimal number", "str": "a string", "bool": "True or False",
    "list": "a list", "dict": "a dictionary", "set": "a set", "tuple": "a tuple", "NoneType": "None",
    "function": "a function",
}
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
              ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
              ast.Pow: "**", ast.And: "and", ast.Or: "or", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
              ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
              ast.IsNot: "is not", ast.UAdd: "+", ast.USub: "-", ast.Not: "not"}
_CONSTRUCT_WORDS = {
    "loop": "the loop", "loop condition": "the loop condition", "loop variable": "the loop variable",
    "condition": "the condition", "base case": "the base case", "special case": "the special case",
    "return": "the return statement", "update": "the update", "starting value": "the starting value",
    "assignment": "the assignment", "print": "the print", "call": "the call",
    "import": "the import", "statement": "the statement", "dropped value": "the statement",
}


def _type_words(name: str | None, fallback: str) -> str:
    return _TYPE_WORDS.get(name or "", fallback)


def _operator(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.AugAssign):
        symbol = _OPERATORS.get(type(node.op))
        return symbol + "=" if symbol else None
    if isinstance(node, ast.BinOp | ast.BoolOp | ast.UnaryOp):
        return _OPERATORS.get(type(node.op))
    if isinstance(node, ast.Compare):
        return _OPERATORS.get(type(node.ops[0]))
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.UnaryOp):
        return "=" + (_OPERATORS.get(type(node.value.op)) or "")
    return None


def _target_name(node: ast.AST | None) -> str | None:
    target = None
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        target = node.target
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    return target.id if isinstance(target, ast.Name) else None


def _missing_words(d: Departure) -> str:
    name = f"`{d.name}`" if d.name else None
    return {
        "condition": "checks a condition", "loop": "goes through a loop", "return": "returns its result",
        "update": f"updates {name}" if name else "updates a value",
        "call": f"changes {name}" if name else "takes one more step",
        "starting value": f"gives {name} a starting value" if name else "sets a starting value",
        "assignment": f"sets {name}" if name else "works out a value",
        "print": "prints something",
    }.get(d.construct, "has one more step")


def _missing_sentence(d: Departure) -> str:
    where = f"before line {d.next_line}" if d.next_line else f"after line {d.line}" if d.line else \
        "at the start"
    if isinstance(d.reference, ast.If) and any(isinstance(s, ast.Return) for s in d.reference.body):
        return (f"A working program handles a special case {where} that yours does not. "
                "Which input needs an answer of its own?")
    return (f"Something seems to be missing {where}: a working program {_missing_words(d)} there. "
            "What is still left to do?")


_CONDITION = ("Check the condition on line {line}: for which values should it be true, and is that what it "
              "tests?")
_BOUNDARY = ("<", "<=", ">", ">=")
# Sentences for a changed statement: the first entry whose test matches wins. The fields are
# filled by `_changed_sentence`.
_CHANGED: list[tuple[Callable[[Departure], bool], str]] = [
    (lambda d: d.aspect == "bounds",
     "Look at the range of values the loop on line {line} goes through{uses}. Is that every value it needs, "
     "and no more?"),
    (lambda d: d.aspect == "iterable",
     "Look at what the loop on line {line} goes through{treats}. What does it see for the items of this "
     "test?"),
    (lambda d: d.aspect == "operator" and isinstance(d.student_part, ast.BoolOp), _CONDITION),
    (lambda d: d.aspect == "operator",
     "Look at the operator on line {line}{symbol}. Which operation does this step need?"),
    (lambda d: d.aspect == "comparison" and _operator(d.student_part) in _BOUNDARY,
     "Look at the comparison on line {line}{symbol}. Should the boundary value itself count, or not?"),
    (lambda d: d.aspect == "comparison",
     "Look at the test on line {line}{symbol}. Does it check what you mean, or the opposite?"),
    (lambda d: d.aspect == "update",
     "Look at how {target} is updated on line {line}. Does it change the way you intend each time?"),
    (lambda d: d.aspect == "not returned",
     "Line {line} works out a value, but what happens to it afterwards?"),
    (lambda d: d.construct == "base case",
     "Check the base case on line {line}: what should the function give for the smallest input?"),
    (lambda d: d.construct == "special case",
     "Check the special case on line {line}: when should it apply, and what should it give?"),
    (lambda d: d.construct == "condition", _CONDITION),
    (lambda d: d.construct == "return",
     "Look at what line {line} returns. Is it exactly what the problem asks for?"),
    (lambda d: d.construct == "starting value",
     "Check the starting value{of_target} on line {line}. What should it be, given what the loop then does "
     "with it?"),
    (lambda d: d.aspect == "value",
     "Check the value used on line {line}. Is it the right one for this step?"),
]


def _changed_sentence(d: Departure, line: int | None, also: int | None) -> str:
    symbol, target = _operator(d.student_part), _target_name(d.student)
    fields = {
        "line": line,
        "uses": f", and at how line {also} uses each of them" if also else "",
        "treats": f" and at how line {also} treats each of them" if also else "",
        "symbol": f" (`{symbol}`)" if symbol else "",
        "target": f"`{target}`" if target else "the value",
        "of_target": f" of `{target}`" if target else "",
    }
    template = next((t for applies, t in _CHANGED if applies(d)), None)
    if template is None:
        what = _CONSTRUCT_WORDS.get(d.construct, "the code")
        return (f"Look closely at {what} on line {line}. What does it do for this input, and what should it "
                "do?")
    return template.format(**fields)


def _departure_sentence(region: Region) -> str | None:
    """What to look at where the program departs from a correct one (None: say nothing)."""
    d = region.departure
    if d is None:
        return None
    line = region.line
    if region.confidence == Confidence.LOW:
        return None  # the nearest correct program is too far: a departure could be mere style
    if region.confidence == Confidence.MEDIUM:
        # Close, but not close enough to say what is wrong (or which of two places): point, and ask.
        if d.kind in ("missing", "extra"):
            return None  # something only one of the programs has may well be a matter of style
        if region.also and region.reason.endswith("a second departure"):
            first, second = sorted((line or 0, region.also))
            return (f"Look closely at lines {first} and {second}. What does each of them do for this input, "
                    "and what should it do?")
        return f"Look closely at line {line}. What does it do for this input, and what should it do?"
    if d.kind == "order":
        return (f"Look at the order of your checks: the case on line {line} is only tried after the ones "
                "above it. Can it still be reached for the values it is meant for?")
    if d.kind == "extra":
        return f"Line {line} does something a working solution does without. What does it do for this input?"
    if d.kind == "missing":
        return _missing_sentence(d)
    if d.kind == "moved":
        return (f"Look at where line {line} sits: a working program does this step in another place. "
                "Does it run as often as it should, and at the right moment?")
    return _changed_sentence(d, line, region.also)


def _operand_types(detail: str) -> tuple[str, str] | None:
    """("int", "str") from "unsupported operand type(s) for +: 'int' and 'str'" or
    'can only concatenate str (not "int") to str'."""
    if "can only concatenate" in detail and '"' in detail:
        parts = detail.split()
        return parts[3], detail.split('"')[1]
    quoted = detail.split("'")[1::2]
    return (quoted[0], quoted[1]) if "operand" in detail and len(quoted) >= 2 else None


def _error_sentence(region: Region) -> str:
    """What a raised error says about its line, in a student's words, ending with a question.
    Without a line (a remote report that does not say), the same words for the program."""
    line, name, also, detail = region.line, region.name, region.also, region.detail or ""
    at = f"On line {line}" if line else "In your program"
    if region.construct == "name" and region.error == "UnboundLocalError":
        where = f" (it gets one only on line {also})" if also else ""
        return (f"{at} `{name}` is used before it gets a value in your function{where}. Where should it get "
                "its first value?")
    if region.construct == "name":
        if region.message and region.message.startswith("="):
            return (f"{at} Python does not know the name `{name}`: it is not one of Python's own words. "
                    "How does Python write this value?")
        if region.message:
            return (f"{at} Python does not know the name `{name}`: nothing in your program gives it a value. "
                    f"Your program does use `{region.message}`: which of the two did you mean?")
        return (f"{at} Python does not know the name `{name}`: nothing in your program gives it a value "
                "before it is used. Where should it get one, and is it spelled the same everywhere?")
    if region.construct == "none":
        maker = region.message or "it"
        does = "shows a value" if maker == "print()" else "changes its object in place"
        if name and also:
            return (f"{at} `{name}` is None: line {also} gives it what `{maker}` gives back, and `{maker}` "
                    f"{does} and gives back None. What should `{name}` hold instead?")
        return (f"{at} the value of `{maker}` is used, but `{maker}` {does} and gives back None. "
                "What did you mean to use there?")
    if region.construct == "shadowed":
        return (f"{at} `{name}(...)` is called, but line {also} gives the name `{name}` a value of your own, "
                f"so it no longer means Python's `{name}`. What else could you call your variable?")
    if region.construct == "index":
        loop = (f"When the loop on line {also} is at its last pass, which position is asked for, and which "
                "ones exist?") if also else "Which positions exist, and which one is asked for there?"
        past = f"{at} an index goes past the end: for this input it asks for a position that does not exist."
        return f"{past} {loop}"
    if region.construct == "iterable":
        if name in ("+=", "extend"):
            how = "`+=` on a list" if name == "+=" else "`.extend()`"
            return (f"{at} {how} goes through what it is given, item by item, but it gets a single value "
                    "here. How do you add one item to a list?")
        quoted = detail.split("'")[1::2]
        return (f"{at} Python needs something to go through (a list, a string, ...), but gets "
                f"{_type_words(quoted[0] if quoted else None, 'a single value')}. What did you mean to give "
                "it there?")
    if region.construct == "input":
        if name == "function":
            return (f"{at} your function waits for input(), but the tests give it the values as its "
                    "parameters: nothing is typed in. Where do the values come from?")
        return (f"{at} your program reads past the end of the input. How does it know when the input has "
                "ended?")
    return _error_type_sentence(region.error or "", detail, at)


def _error_type_sentence(kind: str, detail: str, at: str) -> str:
    """The words for an error that only its type and message explain; `at` is "On line 4"."""
    if kind == "ZeroDivisionError":
        return (f"{at} something is divided by zero for this input. Which value is zero there, and what "
                "should your function do in that case?")
    if kind == "KeyError":
        return (f"{at} the dictionary is asked for the key {bounded(detail, 40)}, which it does not have "
                "yet. What should happen the first time a key comes up?")
    operands = _operand_types(detail) if kind == "TypeError" else None
    if operands:
        return (f"{at} {_type_words(operands[0], 'a value')} and {_type_words(operands[1], 'a value')} are "
                "combined, which Python cannot do. Which of the two should be turned into the other kind?")
    quoted = detail.split("'")[1::2]
    if kind == "AttributeError" and "has no attribute" in detail and len(quoted) >= 2:
        return (f"{at} `.{quoted[1]}` is used on {_type_words(quoted[0], 'a value')}, which has no such "
                "method. Which value did you mean to use it on?")
    if kind == "ValueError" and "invalid literal for int()" in detail:
        given = detail.split(": ", 1)[-1]
        return (f"{at} `int()` is given {bounded(given, 40)}, which is not a whole number. Which pieces "
                "of the input should be turned into numbers?")
    if kind == "ValueError" and "empty" in detail:
        return (f"{at} `{detail.split('(')[0].split()[0]}` is given an empty sequence for this input: "
                "there is nothing to compare. What should happen then?")
    if kind == "ValueError" and "values to unpack" in detail:
        return (f"{at} the number of names on the left does not match the number of values on the right. "
                "How many values are there?")
    if kind == "FileNotFoundError":
        return (f"{at} the file that is opened does not exist where your program looks. Which file does "
                "the test give your function?")
    said = f"{kind}: {bounded(detail, 80)}" if detail else kind or "an error"
    where = at.replace("On line", "on line").replace("In your program", "")
    return (f"The error{' ' + where if where else ''} says {said}. What does it mean for the values used "
            "there?")


def _loop_sentence(region: Region) -> str:
    line, also = region.line, region.also
    var = f"`{region.name}`" if region.name else "the variable it tests"
    if region.construct == "update" and region.reason.endswith("away from its end"):
        return (f"The loop on line {also} stops only when {var} reaches its end, but line {line} moves {var} "
                "the other way. Which way should it go?")
    if region.construct == "update" and also and region.reason.endswith("after the loop"):
        return (f"The loop on line {also} repeats while its condition holds, but {var} only changes on line "
                f"{line}, after the loop. Does anything inside the loop bring it closer to its end?")
    if region.construct == "update":
        return (f"{var[0].upper() + var[1:]} changes on line {line} only when the condition on line {also} "
                "holds. What happens to the loop when it does not?")
    if region.construct == "exit condition":
        return (f"The loop on line {also} stops only when the condition on line {line} is true. "
                "Can that ever happen for this input?")
    return f"Nothing inside the loop on line {line} changes what its condition tests. How should it end?"


def _no_return_sentence(region: Region) -> str:
    line, also, name, maker = region.line, region.also, region.name, region.message
    return {
        "print": f"Line {line} prints the result, but the tests look at what your function returns. "
                 "What does it give back?",
        "dropped value": f"Line {line} works out a value, but nothing is done with it. Where should that "
                         "value go?",
        "none": f"Line {line} returns what `{maker}` gives back, and that is None: `{maker}` does its work "
                "in place. What should your function give back instead?",
        "unfilled": f"Line {line} returns `{name}`, but nothing in your function ever adds to it"
                    f"{f': line {also} prints instead' if maker == 'print' else ''}. Where should each "
                    "result go?",
        "loop return": f"Your function returns only inside the loop on line {also} (line {maker}). For this "
                       "input it "
                       "reaches its end without returning, so it gives None. When should it return, and "
                       "what?",
        "first pass": f"Line {line} returns inside the loop on line {also}, whatever happens, so the loop "
                      "never gets "
                      "past its first pass. Is that the moment your function should give its answer?",
        "if without else": f"When the condition on line {also} is false, your function reaches its end "
                           "without returning anything, so it gives None. What should it return then?",
        "path end": f"For this input your function reaches its end after line {line} without returning "
                    "anything, so it gives None. Which case is left without an answer?",
    }.get(region.construct, "Your function never returns its result, so the caller gets None. What should it "
                            f"give back after line {also}?")


def _syntax_sentence(region: Region, blocked: str = "") -> str:
    where = f"line {region.line}" if region.line else "your program"
    return f"Python cannot read {where} ({region.message}). {blocked}What does Python expect there?"


def region_sentence(region: Region, failure: Failure | None, problem: Problem) -> str | None:
    """Where to look, in words, ending with a question (None: the region says nothing)."""
    line = region.line
    if region.clue == Clue.SYNTAX:
        return _syntax_sentence(region)
    if region.clue == Clue.ERROR:
        return _error_sentence(region)
    if region.clue == Clue.LOOP:
        return _loop_sentence(region)
    if region.clue == Clue.RECURSION:
        if region.reason.startswith("the function calls itself and has no"):
            return ("Your function calls itself again and again. Where should it stop, and what should it "
                    "give there?")
        return (f"Each call goes on calling itself without ever reaching the base case on line {line}. "
                "Which is the smallest input, and does the base case catch it?")
    if region.clue == Clue.TYPE:
        actual = value_kind(failure.actual if failure else None)
        expected = value_kind(failure.expected if failure else None)
        got = _type_words(actual, f"a {actual}" if actual else "a value")
        want = _type_words(expected, "another kind of value")
        origin = f", and at where that value starts out on line {region.also}" if region.also else ""
        return (f"Your function gives back {got} where {want} is expected. Look at what line {line} "
                f"returns{origin}. What kind of value should come out?")
    if region.clue == Clue.PATH:
        if region.construct == "loop":
            return (f"Follow this input through the loop on line {line}: which values does it go through, "
                    "and are those all the ones it needs to check?")
        return (f"Follow this input through the condition on line {line}: should it be true here, and which "
                "branch runs?")
    if region.clue == Clue.NO_RETURN:
        return _no_return_sentence(region)
    if region.clue == Clue.RANGE:
        uses = f", and at how line {region.also} uses each of them" if region.also else ""
        return (f"Look at the range of values the loop on line {line} goes through{uses}. Does it reach "
                f"every position of `{region.name}`, from the first to the last?")
    return _departure_sentence(region)


# --- debug -------------------------------------------------------------------------------


def _trace_question(failure: Failure | None) -> str:
    if failure is not None and failure.call and failure.status == "wrong_answer":
        return ("Work through that input by hand, line by line, writing down the value of each variable: "
                "where does a value first differ from what you expect?")
    return "Trace your program by hand on that input: at which step does it stop doing what you expect?"


def _verdict_hint(failure: Failure) -> OfflineHint:
    """A verdict this engine has no words of its own for (a forbidden construct, a remote
    report it cannot read): quote it, point at the line it names, and ask."""
    question = (f"Look at line {failure.line}: what does the message say about it, and what could you write "
                "there "
                "instead?" if failure.line else "What does that mean for your program, and what could you "
                                                "change?")
    return OfflineHint(f"{_describe(failure)} The verdict is quoted as reported.",
                       f"{failure_sentence(failure)} {question}")


def _describe(failure: Failure | None) -> str:
    """The failing evidence for the teacher (values bounded like the hint's)."""
    if failure is None:
        return "The tests do not pass."
    return f"Failing evidence ({failure.status}): {failure_sentence(failure)}"


def _explain(failure: Failure | None, region: Region) -> str:
    where = f"line {region.line}" if region.line else "no single line"
    detail = (f"{_describe(failure)} Region: {where} ({region.construct}), from {region.clue}: "
              f"{region.reason}; confidence {region.confidence}")
    d = region.departure
    if d is not None and d.aspect in ("operator", "comparison"):
        mine, theirs = _operator(d.student_part), _operator(d.reference_part)
        if mine and theirs:
            detail += f"; the student uses `{mine}` where the nearest correct program uses `{theirs}`"
    return detail + "."


def _located(problem: Problem, student_program: str, failure: Failure | None, reference: str | None,
             known_correct: Sequence[str]) -> Region | None:
    """The region, or None when the program cannot be analysed (too large, too deep, or an
    analysis broke on it: that is logged, and the hint is built from the evidence alone)."""
    if not analysable(student_program):
        return None
    try:
        return locate(problem, student_program, failure, reference, known_correct)
    except Exception:
        log.exception("offline hint for problem %s: the program could not be analysed", problem.id)
        return None


def debug_hint(
    problem: Problem, student_program: str, run: RunResult | None, reference: str | None,
    known_correct: Sequence[str] = (),
) -> OfflineHint:
    failure = failure_of(problem, run)
    if failure is not None and failure.status not in KNOWN_STATUSES:
        return _verdict_hint(failure)
    region = _located(problem, student_program, failure, reference, known_correct)
    if region is not None and region.clue == Clue.SYNTAX:
        blocked = f"No test can run yet, starting with {failure.call}. " if failure and failure.call else ""
        said = _syntax_sentence(region, blocked)
        return OfflineHint(f"Syntax error on line {region.line}: {region.message}.", said)
    evidence = failure_sentence(failure)
    said = region_sentence(region, failure, problem) if region is not None else None
    if region is None or said is None:
        hint = f"{evidence} {_trace_question(failure)}"
        why = "the program could not be analysed" if not analysable(student_program) else \
            f"confidence {region.confidence}" if region is not None else "nothing points at a region"
        return OfflineHint(f"{_describe(failure)} No region is named ({why}).", hint)
    return OfflineHint(_explain(failure, region), f"{evidence} {said}")


# --- plan --------------------------------------------------------------------------------

_QUESTIONS = {
    "loop": "What do you need to look at each time round?",
    "accumulate": "What should it start at, and how does it change at each step?",
    "filter": "Which items should count, and how can you tell?",
    "cases": "In which order should you check the cases?",
    "return": "What should your function give back at the end?",
    "print": "What exactly should the program print?",
    "special case": "What should happen for that input?",
    "base case": "What is the answer for the smallest input?",
    "recurse": "How does the answer for n relate to the answer for a smaller input?",
    "read": "Where does the input come from?",
    "transform": "What should the data look like before you use it?",
    "compare": "What exactly should be compared with what?",
    "divide": "What do you divide, and by what?",
}


def _next_step_words(todo: list[Step]) -> tuple[str, str]:
    step = todo[0]
    words = step.words
    if step.kind == "accumulate" and len(todo) > 1 and todo[1].kind == "loop":
        # "keep a count" reads best together with the loop that updates it
        words = f"{todo[1].words}, and {step.words} as you go"
        step = todo[1]
    elif step.kind == "loop" and len(todo) > 1 and todo[1].kind == "accumulate":
        words = f"{step.words}, and {todo[1].words} as you go"
    if step.kind == "accumulate" and step.words in ("add the values up", "multiply the values together"):
        return words, "Which values need to be combined, and how?"
    return words, _QUESTIONS.get(step.kind, "What is the next small step?")


def plan_hint(
    problem: Problem, student_program: str, run: RunResult | None, reference: str | None,
    known_correct: Sequence[str] = (),
) -> OfflineHint:
    failure = failure_of(problem, run)
    if reference is None or not analysable(student_program):
        hint = ("Break the problem into small steps and check each one on the smallest example. "
                "What should your program give for the simplest input?")
        return OfflineHint(f"No correct program to compare with. {_describe(failure)}", hint)
    region = _located(problem, student_program, failure, None, ())
    if region is not None and region.clue == Clue.SYNTAX:
        # Nothing else can be read from a program Python cannot parse: that comes first.
        hint = f"Once Python can read your program, we can look at the next step. {_syntax_sentence(region)}"
        return OfflineHint(f"Syntax error on line {region.line}: {region.message}.", hint)
    done, todo = missing_steps(problem, student_program, reference)
    plan = "; ".join(f"[{'x' if s in done else ' '}] {s.words}" for s in plan_steps(problem, reference))
    if not todo:
        # Every step is there: what is left is a bug, so point at it like a debug hint.
        made = debug_hint(problem, student_program, run, reference, known_correct)
        hint = f"Your program already has every step of a working plan. {made.hint}"
        return OfflineHint(f"Plan of the nearest correct program: {plan}. {made.explanation}", hint)
    words, question = _next_step_words(todo)
    progress = ""
    if done:
        progress = "Your program already does this: " + "; ".join(s.words for s in done[:2]) + ". "
    hint = f"{progress}A next step: {words}. {question}"
    explanation = f"Plan of the nearest correct program: {plan}. {_describe(failure)}"
    return OfflineHint(explanation, hint)


# --- optimize ----------------------------------------------------------------------------


NOTICEABLE_SECONDS = 0.01  # smaller differences in run time are not worth a hint


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


_COSTS = {
    "recursion": "On line {line} each call of `{name}` starts two or more new calls, so the same values are "
                 "worked out again and again. What could your function remember between calls?",
    "nested loop": "The loop on line {line} runs again, from the start, for every pass of the loop on line "
                   "{also}, "
                   "so the work grows with the square of the input. Could one pass do it, reusing what the "
                   "previous pass found?",
    "list search": "On line {line} the membership test searches the whole list `{name}` on every pass of the "
                   "loop on line {also}. Which structure answers \"have I seen this?\" without searching?",
    "repeated count": "On line {line} counting in `{name}` walks through all of it again on every pass of "
                      "the loop on line {also}. Could you count everything in one pass instead?",
    "repeated work": "Line {line} recomputes something about all of `{name}` on every pass of the loop on "
                     "line {also}. Could you work it out once, before the loop?",
}


def optimize_hint(
    problem: Problem, student_program: str, run: RunResult | None, reference: str | None,
    reference_run_time: float | None, known_correct: Sequence[str] = (),
) -> OfflineHint:
    if run is not None and not run.correct:
        made = debug_hint(problem, student_program, run, reference, known_correct)
        return OfflineHint(made.explanation, f"Make it correct before making it fast. {made.hint}")
    mine = work_seconds(run) if run else None
    costs: list[Cost] = []
    if analysable(student_program):
        try:
            costs = costly_constructs(problem, student_program)
        except Exception:
            log.exception("offline hint for problem %s: the program's costs could not be read", problem.id)
    timing = ""
    # A few milliseconds either way is the noise of a busy machine, not the program.
    slower = bool(mine and reference_run_time and mine >= 1.5 * reference_run_time
                  and mine - reference_run_time >= NOTICEABLE_SECONDS)
    if mine and reference_run_time:
        if slower:
            timing = (f"On the tests your program takes {_ms(mine)}; the fastest known correct program takes "
                      f"{_ms(reference_run_time)}, {mine / reference_run_time:.0f}x less. ")
        elif costs:
            timing = (f"On these small tests it takes {_ms(mine)}, close to the fastest known correct "
                      f"program ({_ms(reference_run_time)}), but the difference grows with the input. ")
        else:
            timing = (f"On the tests your program takes {_ms(mine)}, about as fast as the fastest known "
                      f"correct program ({_ms(reference_run_time)}). ")
    if costs:
        cost = costs[0]
        said = _COSTS[cost.kind].format(line=cost.line, also=cost.also, name=cost.name)
        hint = f"Your program is correct. {timing}{said}"
    elif slower:
        hint = f"Your program is correct. {timing}Which part of it does more work than the problem needs?"
    else:
        hint = f"Your program is correct. {timing}Is there a part you could make shorter or clearer?"
    found = ", ".join(f"{c.kind} (line {c.line})" for c in costs) or "none found"
    explanation = (f"Student run time {mine}, fastest known correct program {reference_run_time}. "
                   f"Costly constructs: {found}.")
    return OfflineHint(explanation, hint)


def offline_hint(
    problem: Problem,
    hint_type: str,
    student_program: str,
    run: RunResult | None,
    reference: str | None,
    reference_run_time: float | None = None,
    known_correct: Sequence[str] | None = None,
) -> OfflineHint:
    """One hint for the given type, from the evidence alone.

    `reference` is the selected correct program (nearest, or fastest for optimize; None
    when no correct program is known); `known_correct` are other correct programs (the
    bank's solutions by default) whose code tells a harmless difference from a suspicious
    one. `run` may carry per-test detail (a local run) or only the failing text (a remote
    run, a verdict such as a forbidden construct).
    """
    known = problem.solutions if known_correct is None else tuple(known_correct)
    if hint_type == "optimize":
        return optimize_hint(problem, student_program, run, reference, reference_run_time, known)
    if hint_type == "plan":
        return plan_hint(problem, student_program, run, reference, known)
    return debug_hint(problem, student_program, run, reference, known)
