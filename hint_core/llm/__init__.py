"""The LLM layer: one module per job.

- `client`: the OpenAI-compatible client (`LLMClient`), one call of `n` choices within a deadline;
- `retries`: which failures are tried again, how long to wait, how a failure is described;
- `usage`: what a phase's calls cost (tokens, calls, waiting time, money);
- `parsing`: the JSON object, program or hint in an answer.

The names below are the layer's interface; `from hint_core.llm import LLMClient` works as
it always did.
"""

from hint_core.llm.client import LLMClient, LLMReply, Messages, make_openai_client, request_body
from hint_core.llm.parsing import ParseError, extract_json_object, parse_hint, parse_program
from hint_core.llm.retries import LLMError, MalformedResponse, describe, is_transient, retry_after
from hint_core.llm.usage import COLUMNS, Usage, cost, price_of, usage_report

__all__ = [
    "COLUMNS", "LLMClient", "LLMError", "LLMReply", "MalformedResponse", "Messages", "ParseError", "Usage",
    "cost", "describe", "extract_json_object", "is_transient", "make_openai_client", "parse_hint",
    "parse_program", "price_of", "request_body", "retry_after", "usage_report",
]
