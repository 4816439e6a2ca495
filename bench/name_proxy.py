"""A name-based East Asian proxy group, for the fairness measurement (bench/fairness.py).

    .venv/bin/python bench/name_proxy.py [--lfw DIR]   # every person the rule selects or doubts

LFW has no demographic labels, so the group is defined by NAMES only, never by pixels. The rule
(its data is bench/name_proxy.json; docs/models.md "Fairness" says what it can and cannot show):

1. A per-person override in the data file wins (status and reason written down).
2. A hyphenated given name written the way LFW writes Korean and Taiwanese names
   (``Dae-jung``, ``Shui-bian``: second part lower case, both parts romanised syllables) -> in.
3. The first or the last token is a common Chinese (pinyin, Wade-Giles/Taiwanese, Cantonese,
   Hokkien/Teochew/Hakka), Korean, Japanese or Vietnamese surname:
   - not one of the ambiguous surnames (Lee, Kim, Park, Young, Long, Chan, Ma, Le, Ho...) -> in;
   - an ambiguous one -> in only with more East Asian evidence in the same name: the other
     end or a middle token is a listed surname too (Chan Ho Park), a hyphenated syllable given
     name (Kim Jong-Il), or a Japanese surname in an all-romaji name (Takahiro Mori);
     otherwise "undecided": the person needs an override (step 1), and until then is
     counted in neither group.
4. Anything else -> out.

Statuses: "in" (the proxy group), "out" (the rest), "unsure" (decided: the name cannot tell)
and "undecided" (the rule cannot tell and nobody has looked yet); the last two are left out of
both sides of a group comparison but stay in every all-people number.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RULES = Path(__file__).with_name("name_proxy.json")
DEFAULT_LFW = Path(os.environ.get("OWNFACE_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data")
                   ) / "lfw-dev"
STATUSES = ("in", "out", "unsure", "undecided")

# Romaji alone is only a review hint, not a membership rule (Demi Moore and Pete Rose are
# valid romaji too): it lists names that may be Japanese although no listed surname matched.
# Hepburn syllables (and the common "oh" long-o spelling: Ohga, Ohno); si/ti/tu/di/hu/zi/wi/
# ye/je are not Hepburn, which keeps Italian and Spanish names (Dino Risi) out.
_KANA = ("kya kyu kyo gya gyu gyo sha shu sho shi chi cha chu cho tsu nya nyu nyo hya hyu hyo "
         "bya byu byo pya pyu pyo mya myu myo rya ryu ryo ja ju jo ji fu "
         "ka ki ku ke ko ga gi gu ge go sa su se so za zu ze zo ta te to da de do "
         "na ni nu ne no ha hi he ho ba bi bu be bo pa pi pu pe po ma mi mu me mo "
         "ya yu yo ra ri ru re ro wa a i u e o").split()
_MORA = "|".join(_KANA)  # + the moraic n, a geminate consonant, and "oh":
ROMAJI = re.compile(rf"^(?:{_MORA}|n(?![aiueoy])|m(?=[bpm])|([kstp])(?=\\1)|t(?=ch)"
                    r"|(?<=o)h(?![aiueo]))+$")
# One romanised Chinese or Korean syllable (Dae, jung, Shui, bian, hwa, Il...).
SYLLABLE = re.compile(r"^[bcdfghjklmnpqrstwxyz]{0,3}[aeiouy]{1,3}(?:ng|n|m|k|l|p|t|r|h)?$")


@dataclass(frozen=True)
class Decision:
    status: str  # one of STATUSES
    basis: str  # why, in words (printed in the group listing)


def tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[_\s]+", name.strip()) if t]


def is_romaji(token: str) -> bool:
    return bool(ROMAJI.match(token.lower()))


def syllable_pair(token: str, lfw_style: bool) -> bool:
    """``Dae-jung``-like: two romanised syllables joined by a hyphen (with ``lfw_style`` the
    second starts lower case, as LFW writes Korean and Taiwanese given names)."""
    parts = token.split("-")
    if len(parts) != 2 or not parts[0][:1].isupper() or not parts[1]:
        return False
    if lfw_style and not parts[1][0].islower():
        return False
    return all(SYLLABLE.match(p.lower()) for p in parts)


class NameProxy:
    """The rule, built from its data (surname lists, ambiguous surnames, overrides)."""

    def __init__(self, rules: dict[str, Any]) -> None:
        self.origins: dict[str, list[str]] = {}
        for origin, names in rules["surnames"].items():
            for surname in names:
                self.origins.setdefault(surname.lower(), []).append(origin)
        self.ambiguous = {s.lower() for s in rules["ambiguous"]}
        unknown = self.ambiguous - set(self.origins)
        if unknown:
            raise ValueError(f"ambiguous surnames not on any list: {sorted(unknown)}")
        self.overrides: dict[str, tuple[str, str]] = {}
        for name, (status, reason) in rules["overrides"].items():
            if status not in ("in", "out", "unsure") or not reason:
                raise ValueError(f"override {name!r}: status in/out/unsure and a reason")
            self.overrides[name] = (status, reason)

    @classmethod
    def load(cls, path: Path = RULES) -> NameProxy:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def surname(self, token: str) -> str | None:
        """The origins of a listed surname (a capitalised token, not initials like TA), or
        None."""
        if not token.istitle():
            return None
        found = self.origins.get(token.lower())
        return ", ".join(found) if found else None

    def classify(self, name: str) -> Decision:
        if name in self.overrides:
            status, reason = self.overrides[name]
            return Decision(status, f"override: {reason}")
        parts = tokens(name)
        if len(parts) < 2:
            return Decision("out", "a single name")
        for p in parts:
            if syllable_pair(p, lfw_style=True):
                return Decision("in", f"hyphenated syllable given name {p}")
        ends = [(label, p) for label, p in (("first", parts[0]), ("last", parts[-1]))
                if self.surname(p)]
        for label, p in ends:
            if p.lower() not in self.ambiguous:
                return Decision("in", f"{label} token {p}: {self.surname(p)} surname")
        if not ends:
            return Decision("out", "no listed surname first or last")
        label, p = ends[0]
        more = (len(ends) == 2 or any(self.surname(m) for m in parts[1:-1])
                or any(syllable_pair(m, lfw_style=False) for m in parts)
                or ("japanese" in self.origins[p.lower()] and all(map(is_romaji, parts))))
        if more:
            return Decision("in", f"ambiguous {p} ({label}) with more East Asian tokens")
        return Decision("undecided", f"ambiguous surname {p} ({label}) and nothing else: "
                        "needs a per-person decision")

    def classify_all(self, names: Iterable[str]) -> dict[str, Decision]:
        return {n: self.classify(n) for n in names}

    def review_hint(self, name: str) -> str | None:
        """Why a name the rule leaves out deserves a look by eye, or None."""
        parts = tokens(name)
        if name in self.overrides or self.classify(name).status != "out" or len(parts) < 2:
            return None
        if all(is_romaji(p) for p in parts):
            return "every token is valid Japanese romaji"
        if any(syllable_pair(p, lfw_style=False) for p in parts):
            return "a hyphenated syllable pair"
        if any(self.surname(p) for p in parts[1:-1]):
            return "a listed surname in the middle"
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    parser.add_argument("--rules", type=Path, default=RULES)
    args = parser.parse_args(argv)
    images = args.lfw / "images"
    if not images.is_dir():
        print(f"no LFW images at {images}", file=sys.stderr)
        return 2
    count = {d.name: sum(1 for _ in d.glob("*.jpg")) for d in images.iterdir() if d.is_dir()}
    proxy = NameProxy.load(args.rules)
    decisions = proxy.classify_all(sorted(count))
    for status in ("in", "unsure", "undecided"):
        chosen = [n for n, d in decisions.items() if d.status == status]
        print(f"== {status}: {len(chosen)} people, {sum(count[n] for n in chosen)} images")
        for n in chosen:
            print(f"  {n:28s} {count[n]:3d}  {decisions[n].basis}")
    overridden_out = [n for n, d in decisions.items() if d.status == "out" and
                      n in proxy.overrides]
    print(f"== out by override: {len(overridden_out)}")
    for n in overridden_out:
        print(f"  {n:28s} {count[n]:3d}  {decisions[n].basis}")
    hints = {n: proxy.review_hint(n) for n in decisions}
    print(f"== out, but worth a look: {sum(h is not None for h in hints.values())}")
    for n, hint in hints.items():
        if hint:
            print(f"  {n:28s} {count[n]:3d}  {hint}")
    stale = sorted(set(proxy.overrides) - set(count))
    if stale:
        print(f"== overrides naming nobody in {args.lfw}: {', '.join(stale)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
