"""What a condition that does not parse raises, and the suggestion its message ends with."""

from __future__ import annotations

from collections.abc import Sequence

from tether._suggest import did_you_mean


class ConditionError(ValueError):
    """A condition that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.text = text

    @property
    def column(self) -> int:
        """1-based, as the message says it."""
        return self.position + 1

    def excerpt(self) -> str:
        """The condition with a caret under the problem, for a terminal."""
        return f"{self.text}\n{' ' * self.position}^"


def suggestion(word: str, choices: Sequence[str], *, prefix: str = "", suffix: str = "") -> str:
    return did_you_mean(word, choices, sep="; ", prefix=prefix, suffix=suffix, ignore_case=True)
