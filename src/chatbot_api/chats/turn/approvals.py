"""The client's answers applied to stored tool parts: approval answers to pending approval
requests, and the results of frontend tools the browser ran."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from chatbot_api.ai.convert import tool_name_of
from chatbot_api.ai.tools import Tool

REASON_MAX_CHARS = 500
ERROR_TEXT_MAX_CHARS = 2000


def apply_answers(
    stored: Iterable[Mapping[str, Any]],
    answers: Iterable[Mapping[str, Any]],
    tools: Mapping[str, Tool],
    *,
    final: bool = False,
) -> list[dict[str, Any]] | None:
    """The stored parts with the client's answers applied, or None if none applied.

    The stored parts stay the authority: only a pending part of the same tool call takes an
    answer. A pending approval takes an answer whose approval id matches; `final` (a new user
    message follows, so no continuation will run the call): a denial becomes `output-denied`
    now and an approval stays pending. A frontend tool's call awaiting its result takes the
    client's output or error."""
    by_call = {str(a.get("toolCallId")): a for a in answers if tool_name_of(a) is not None}
    updated = [copy.deepcopy(dict(part)) for part in stored]
    changed = False
    for part in updated:
        name = tool_name_of(part)
        answer = by_call.get(str(part.get("toolCallId")))
        if name is None or answer is None or tool_name_of(answer) != name:
            continue
        state = part.get("state")
        if state == "approval-requested":
            changed |= _approve(part, answer, final=final)
        elif state == "input-available" and not final:
            tool = tools.get(name)
            if tool is None or tool.runs_on_client:
                changed |= _tool_result(part, answer)
    return updated if changed else None


def _approve(part: dict[str, Any], answer: Mapping[str, Any], *, final: bool) -> bool:
    approval = answer.get("approval")
    pending = part.get("approval") or {}
    if answer.get("state") not in ("approval-responded", "output-denied"):
        return False
    if not isinstance(approval, Mapping) or not isinstance(approval.get("approved"), bool):
        return False
    if str(approval.get("id")) != str(pending.get("id")):
        return False
    if final and approval["approved"]:
        return False
    reply: dict[str, Any] = {"id": str(pending.get("id")), "approved": approval["approved"]}
    if isinstance(approval.get("reason"), str):
        reply["reason"] = approval["reason"][:REASON_MAX_CHARS]
    part["approval"] = reply
    part["state"] = "output-denied" if final else "approval-responded"
    return True


def _tool_result(part: dict[str, Any], answer: Mapping[str, Any]) -> bool:
    if answer.get("state") == "output-available":
        part.update(state="output-available", output=answer.get("output"))
        return True
    if answer.get("state") == "output-error":
        error = str(answer.get("errorText") or "The tool failed.")
        part.update(state="output-error", errorText=error[:ERROR_TEXT_MAX_CHARS])
        return True
    return False
