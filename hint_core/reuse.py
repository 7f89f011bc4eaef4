"""Not paying twice for the same question: the key of a program-generation request.

Two requests ask the same question when they are about the same problem and hint type
and their programs are equal up to comments and layout. Names are kept on purpose: the
reused programs are repairs of *this* program, and a hint built on them may mention its
names.
"""

from __future__ import annotations

import hashlib
import json

from hint_core.selection import code_tokens


def reuse_key(problem_id: str, hint_type: str, program: str) -> str:
    payload = json.dumps([problem_id, hint_type, code_tokens(program)], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
