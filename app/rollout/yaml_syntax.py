"""Explain YAML syntax errors of a plan file in plain words, with the line to fix.

PyYAML describes errors in parser terms ("expected <block end>, but found '?'").
The functions here turn the common ones into a sentence that states what is wrong
on which line and how to fix it. Errors not recognised keep PyYAML's own wording.
"""

from __future__ import annotations

import re

import yaml
from yaml.reader import ReaderError

from app.rollout.messages import Message, _

SyntaxProblem = tuple[int | None, Message]
"""A line (1-based, None for the whole file) and the message for it."""

_UNUSABLE_CHARACTER = re.compile(r"found character '(.+)' that cannot start any token")


def find_tab_indentation(text: str) -> list[SyntaxProblem]:
    """Return one problem per non-blank line whose indentation contains a tab.

    YAML forbids tabs in indentation, and PyYAML reports only the first one, in
    terms that do not mention indentation.
    """
    problems: list[SyntaxProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" \t")
        indentation = line[: len(line) - len(stripped)]
        if stripped and "\t" in indentation:
            message = Message(
                _("This line is indented with a tab. Use spaces, two per level.")
            )
            problems.append((number, message))
    return problems


def _mark_line(mark) -> int | None:
    return mark.line + 1 if mark is not None else None


def explain_marked_error(error: yaml.MarkedYAMLError) -> SyntaxProblem:
    """Return the line and plain-language message for a PyYAML syntax error."""
    problem = error.problem or ""
    context = error.context or ""
    problem_line = _mark_line(error.problem_mark)
    context_line = _mark_line(error.context_mark)

    if context == "while parsing a flow sequence":
        template = _(
            "The list that opens with [ on this line is not closed. End it with ] "
            "on the same line, such as [pilot, wave-2]."
        )
        return context_line, Message(template)
    if context == "while parsing a flow mapping":
        template = _(
            "The mapping that opens with { on this line is not closed. End it with } "
            "on the same line."
        )
        return context_line, Message(template)
    if context == "while scanning a quoted scalar":
        template = _(
            "The quote that opens on this line is not closed. Add the same quote "
            "mark at the end of the value."
        )
        return context_line, Message(template)
    if problem == "but found another document":
        template = _(
            "A second YAML document starts on this line. Delete this --- line, so "
            "that the whole plan is one document."
        )
        return problem_line, Message(template)
    if problem == "could not find expected ':'":
        template = _(
            "This line has no colon after its key. Write it as key: value, or indent "
            "it like the lines around it."
        )
        return context_line or problem_line, Message(template)
    if problem == "mapping values are not allowed here":
        template = _(
            "This line has a colon where YAML does not expect one. Put a value that "
            "contains ': ' in quotes, or check the line above for a missing colon."
        )
        return problem_line, Message(template)
    if problem.startswith("expected <block end>"):
        template = _(
            "This line is not indented like the lines above it. Keys of the same "
            "mapping start in the same column, and so does each '- ' of a list."
        )
        return problem_line, Message(template)

    unusable = _UNUSABLE_CHARACTER.match(problem)
    if unusable and unusable.group(1) == "\\t":
        template = _(
            "This line has a tab where YAML does not allow one. Replace it with spaces."
        )
        return problem_line, Message(template)
    if unusable:
        template = _(
            "A value on this line starts with %(character)s, which YAML reserves. "
            "Put the value in quotes."
        )
        return problem_line, Message(template, {"character": unusable.group(1)})

    template = _(
        "The file is not valid YAML here: %(problem)s. Check the indentation, the "
        "colons and the dashes on this line."
    )
    values = {"problem": problem or context or "syntax error"}
    return problem_line or context_line, Message(template, values)


def explain_reader_error(error: ReaderError, text: str) -> SyntaxProblem:
    """Return the line and message for a character that YAML does not accept."""
    line = text.count("\n", 0, error.position) + 1
    template = _(
        "This line contains a control character (code %(code)s) that YAML does not "
        "allow. Delete it, or retype the line."
    )
    return line, Message(template, {"code": error.character})
