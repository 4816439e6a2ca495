"""Message catalogues: complete in both languages, placeholders consistent, language choice."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from pyapp import i18n
from pyapp.errors import Reason


def test_every_key_exists_in_every_language() -> None:
    assert i18n.missing() == {}


def test_placeholders_agree_between_languages() -> None:
    def names(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, english in i18n.EN.items():
        assert names(english) == names(i18n.ZH[key]), key


def test_every_quality_reason_has_a_hint() -> None:
    for lang in i18n.LANGUAGES:
        for reason in Reason:
            assert i18n.hint(lang, reason)


def test_chinese_strings_are_chinese() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [k for k, v in i18n.ZH.items()
                    if not han.search(v) and k not in {"switch_language"}]
    assert untranslated == []


@pytest.mark.parametrize(("header", "wanted", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"), ("en-GB,en;q=0.9", None, "en"),
    ("fr-FR,fr;q=0.9", None, "en"), (None, None, "en"), ("zh-TW", "en", "en"),
    ("en", "zh", "zh"), ("en", "xx", "en"), (None, "zh-CN", "zh"), (None, "zh-Hans", "zh"),
    ("en", "zh_CN", "zh"), ("zh-Hans-CN,en;q=0.5", None, "zh"), ("en", "EN-us", "en"),
    ("english", None, "en"),
])
def test_language_choice(header: str | None, wanted: str | None, expected: str) -> None:
    assert i18n.choose(header, wanted) == expected


def test_every_key_the_app_uses_exists() -> None:
    """Each catalogue key named in the browser app, the server's pages and the templates
    (result("key"), say(id, "key"), t("key"), t('key')) exists: a missing one is a KeyError
    in front of a person."""
    root = Path(__file__).resolve().parents[2]
    sources = [*sorted((root / "pyapp" / "browser").glob("*.py")), root / "server" / "pages.py",
               *sorted((root / "web" / "templates").glob("*.html"))]
    if not all(p.is_file() for p in sources):
        pytest.skip("the app's sources are not here (the in-browser run ships only tests)")
    pattern = re.compile(r"""(?:result|\bt)\(\s*["']([a-z_]+)["']|say\(\s*["'][a-z-]+["'],"""
                         r"""\s*["']([a-z_]+)["']""")
    used = {key for p in sources for m in pattern.finditer(p.read_text())
            for key in m.groups() if key}
    assert len(used) > 20
    assert sorted(used - set(i18n.EN)) == []
