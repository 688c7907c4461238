"""Messages that the rollout builds once and shows in French, English or a terminal.

Plan errors and decision reasons are produced outside any request, for example by the
command line, so they cannot be translated when they are built. A ``Message`` keeps
the English template and its values, and the page or the command renders it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _(text: str) -> str:
    """Mark ``text`` for extraction into the catalog and return it unchanged.

    ``Message.render`` translates the text when a page shows it.
    """
    return text


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class Message:
    """An English template in ``%(name)s`` style and the values to put into it."""

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(
        self,
        translate: Callable[[str], str] = _identity,
        format_date: Callable[[dt.date], str] = dt.date.isoformat,
    ) -> str:
        """Return the message text, translated and with dates formatted as given.

        Without arguments the text is English with ISO dates, as the command line
        prints it.
        """
        values = {
            name: format_date(value) if isinstance(value, dt.date) else value
            for name, value in self.values.items()
        }
        return translate(self.template) % values

    def __str__(self) -> str:
        return self.render()
