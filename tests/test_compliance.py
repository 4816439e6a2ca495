"""docs/compliance.md names, for each rule, a test that proves OwnFace's behaviour (or says
"operator's part"): every test id it names must exist (the suite shows it passes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_test_id_in_the_compliance_table_exists() -> None:
    doc = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    named = TEST_ID.findall(doc)
    assert len(named) >= 30
    missing = []
    for path, name in sorted(set(named)):
        source = ROOT / path
        tree = ast.parse(source.read_text(encoding="utf-8")) if source.is_file() else None
        functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)} if tree \
            else set()
        if name not in functions:
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_rule_has_a_behaviour_and_a_test_or_the_operators_part() -> None:
    doc = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    table = doc.split("## The table", 1)[1].split("## ", 1)[0]
    rows = [r for r in table.splitlines() if r.startswith("| **")]
    assert len(rows) >= 20
    for row in rows:
        rule, behaviour, proof = (c.strip() for c in row.strip("|").split("|"))
        assert behaviour, rule
        assert TEST_ID.search(proof) or "Operator's part" in behaviour, rule
    for rule in ("CAC/MPS", "PIPL art. 26", "PIPL art. 28", "PIPL art. 29", "PIPL art. 55",
                 "GDPR art. 9", "GDPR art. 35", "BIPA 15(a)", "BIPA 15(b)", "BIPA 15(c)",
                 "BIPA 15(d)", "BIPA 15(e)", "EDPB"):
        assert any(rule in row for row in rows), rule
