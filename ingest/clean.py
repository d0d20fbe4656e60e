"""Cleaning: split the original text into lines with offsets and flag site chrome. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Page furniture seen on policy pages: navigation, call-to-action buttons, PWA prompts, cookie banners,
# copyright footers. Matched against a whole stripped line, case-insensitively.
CHROME_PATTERNS = [
    r"logo",
    r"book a call",
    r"add to home ?screen",
    r"push notifications are (?:disabled|enabled)",
    r"hide|show|menu|close|skip to (?:main )?content|back to top|home|log ?in|sign ?up|sign in|get started",
    r"(?:copyright|©|\(c\))\s*@?.{0,80}",
    r"all rights reserved\.?",
    r"last modified \d+\s*\w+ ago",
    r"(?:we|this (?:site|website)) uses? cookies.{0,160}(?:accept|agree|consent).{0,60}",
    r"accept(?: all)?(?: cookies)?|reject(?: all)?(?: cookies)?|cookie (?:settings|preferences)|got it!?",
    r"share (?:on|via) \w+|tweet|follow us.{0,40}",
]
_CHROME = re.compile(r"^(?:" + "|".join(CHROME_PATTERNS) + r")$", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One line of the original text: [start, end) excludes the newline; `text` is stripped."""

    start: int
    end: int
    text: str
    chrome: bool = False

    @property
    def blank(self) -> bool:
        return not self.text


def is_chrome(text: str) -> bool:
    """True for a stripped line that is site chrome rather than policy text."""
    return bool(text) and len(text) <= 240 and bool(_CHROME.match(text))


def split_lines(raw_text: str) -> list[Line]:
    """Lines of `raw_text` with offsets; leading/trailing whitespace trimmed from the offsets too."""
    lines: list[Line] = []
    for match in re.finditer(r"[^\n]*", raw_text):
        if match.start() > 0 and match.start() == match.end() and raw_text[match.start() - 1 : match.start()] != "\n":
            continue  # finditer's empty match right after a non-empty line
        segment = match.group()
        stripped = segment.strip()
        if stripped:
            start = match.start() + (len(segment) - len(segment.lstrip()))
            end = start + len(stripped)
        else:
            start = end = match.start()
        lines.append(Line(start, end, stripped, chrome=is_chrome(stripped)))
    return lines
