"""Widget theming: a business's CSS custom properties, checked, as a small stylesheet.

The widget passes the ``--ownface-*`` values set on its element as ``theme-<name>`` query
parameters. Only plain colours and lengths are accepted, and a colour pair whose contrast
falls below WCAG 2.2 AA (4.5:1) is dropped: a theme cannot make the consent screen
unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NAMES = ("accent", "accent-text", "text", "muted", "background", "surface", "radius")
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_LENGTH = re.compile(r"(0|[0-9]{1,2}(\.[0-9]{1,2})?(px|rem|em))")
PAIRS = (("accent-text", "accent"), ("text", "background"), ("muted", "background"),
         ("text", "surface"))
DEFAULTS = {"accent": "#1f4e99", "accent-text": "#ffffff", "text": "#1a1a1a",
            "muted": "#4d4d4d", "background": "#ffffff", "surface": "#f3f5f8"}


def _rgb(colour: str) -> tuple[float, float, float]:
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    r, g, b = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return r, g, b


def luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def parse(query: Mapping[str, str]) -> dict[str, str]:
    """The acceptable theme values among ``theme-<name>`` parameters."""
    theme: dict[str, str] = {}
    for name in NAMES:
        value = (query.get(f"theme-{name}") or "").strip()
        pattern = _LENGTH if name == "radius" else _HEX
        if value and pattern.fullmatch(value):
            theme[name] = value.lower()
    for fg, bg in PAIRS:
        a, b = theme.get(fg, DEFAULTS[fg]), theme.get(bg, DEFAULTS[bg])
        if contrast(a, b) < 4.5:
            theme.pop(fg, None)
            theme.pop(bg, None)
    return theme


def stylesheet(theme: Mapping[str, str]) -> str:
    body = "".join(f"--ownface-{k}:{v};" for k, v in theme.items() if k in NAMES)
    return f":root{{{body}}}\n"
