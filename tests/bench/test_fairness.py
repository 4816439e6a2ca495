"""bench/fairness.py and bench/name_proxy.py: the name-proxy rule and the per-person and
per-group false-accept arithmetic, on names and tiny examples with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.cohort_threshold import normalised
from bench.fairness import (
    analyse,
    bootstrap_ratio,
    group_counts,
    nearest_rank,
    person_rates,
    top_share,
)
from bench.intervals import clopper_pearson, rate_ratio_ci
from bench.name_proxy import NameProxy

RULES = {
    "surnames": {"korean": ["Kim", "Lee", "Park", "Yoon"], "chinese_pinyin": ["Wang", "Chan"],
                 "japanese": ["Mori", "Suzuki"], "vietnamese": ["Ta", "Nguyen"]},
    "ambiguous": ["Kim", "Lee", "Park", "Chan", "Mori", "Ta"],
    "overrides": {"Kim_Weeks": ["out", "Kim is the given name"],
                  "Steve_Park": ["unsure", "the name cannot tell"],
                  "Hitomi_Soga": ["in", "Japanese surname not on the list"]},
}


@pytest.fixture
def proxy() -> NameProxy:
    return NameProxy(RULES)


@pytest.mark.parametrize(("name", "status"), [
    ("Wang_Nan", "in"),  # unambiguous surname first
    ("Kurt_Suzuki", "in"),  # ... or last (a diaspora name is still selected)
    ("Kim_Dae-jung", "in"),  # ambiguous surname, LFW-style hyphenated syllable given name
    ("Chen_Shui-bian", "in"),  # hyphenated given name alone is enough
    ("Kim_Jong-Il", "in"),  # ambiguous surname + hyphenated syllables
    ("Chan_Ho_Park", "in"),  # both ends are listed surnames
    ("Takahiro_Mori", "in"),  # Japanese ambiguous surname in an all-romaji name
    ("Kim_Clijsters", "undecided"),  # ambiguous and nothing else: a person must decide
    ("Lee_Baca", "undecided"),
    ("Kim_Weeks", "out"),  # ... and the override records the decision
    ("Steve_Park", "unsure"),
    ("Hitomi_Soga", "in"),
    ("Jean-Pierre_Raffarin", "out"),  # hyphenated, but not syllables
    ("Inam-ul-Haq", "out"),
    ("TA_McLendon", "out"),  # initials are not the surname Ta
    ("Madonna", "out"),
    ("Demi_Moore", "out"),  # valid romaji, but no Japanese surname: only a review hint
])
def test_proxy_rule(proxy: NameProxy, name: str, status: str) -> None:
    assert proxy.classify(name).status == status


def test_review_hint_flags_names_the_rule_leaves_out(proxy: NameProxy) -> None:
    assert proxy.review_hint("Demi_Moore") == "every token is valid Japanese romaji"
    assert proxy.review_hint("Anthony_Lee_Johnson") == "a listed surname in the middle"
    assert proxy.review_hint("Wang_Nan") is None  # selected: nothing to review
    assert proxy.review_hint("Kim_Weeks") is None  # decided by an override


def test_rules_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="not on any list"):
        NameProxy({**RULES, "ambiguous": ["Smith"]})
    with pytest.raises(ValueError, match="reason"):
        NameProxy({**RULES, "overrides": {"Kim_Weeks": ["out", ""]}})
    with pytest.raises(ValueError, match="status"):
        NameProxy({**RULES, "overrides": {"Kim_Weeks": ["maybe", "why"]}})


def test_shipped_rules_record_the_ambiguous_decisions() -> None:
    proxy = NameProxy.load()
    expected = {"Kim_Clijsters": "out", "Lee_Baca": "out", "Chan_Gailey": "out",
                "Lisa_Ling": "in", "Peter_Chan": "in", "Kate_Lee": "unsure",
                "Kim_Dae-jung": "in", "Lee_Hyung-taik": "in", "Jackie_Chan": "undecided"}
    assert {n: proxy.classify(n).status for n in expected} == expected


@pytest.mark.data
def test_every_lfw_dev_person_is_decided(lfw_dir: Path) -> None:
    proxy = NameProxy.load()
    names = [d.name for d in (lfw_dir / "images").iterdir() if d.is_dir()]
    undecided = [n for n in names if proxy.classify(n).status == "undecided"]
    assert undecided == [], "add an override for each (bench/name_proxy.json)"
    assert set(proxy.overrides) <= set(names)  # no override names someone who is not there


# --- arithmetic --------------------------------------------------------------------------------
# 4 people with 1, 1, 2, 1 images (5 images); accepted impostor image pairs by person:
IMAGES = np.array([1, 1, 2, 1])
PAIRS = np.array([[0, 2], [0, 2], [0, 1]])


def test_person_rates_count_each_pair_for_both_people() -> None:
    fa, comparisons = person_rates(PAIRS, IMAGES)
    assert fa.tolist() == [3, 1, 2, 0]
    assert comparisons.tolist() == [4, 4, 6, 4]  # own images x everyone else's
    rates = fa / comparisons  # 0.75, 0.25, 0.333, 0
    assert nearest_rank(rates, 50) == 1 and nearest_rank(rates, 100) == 0
    assert nearest_rank(rates, 1) == 3


def test_top_share_of_false_accepts() -> None:
    fa, comparisons = person_rates(PAIRS, IMAGES)
    share, pair_share = top_share(fa, comparisons)  # top 10% of 4 people = 1 person: #0
    assert share == pytest.approx(3 / 6) and pair_share == pytest.approx(4 / 18)
    assert top_share(fa, comparisons, 0.5) == pytest.approx((5 / 6, 10 / 18))


def test_group_counts_in_rest_cross_and_unsure_left_out() -> None:
    member = np.array([1, 1, 0, -1])
    counts = group_counts(PAIRS, IMAGES, member)
    assert counts == {"in": (1, 1), "rest": (0, 0), "cross": (2, 4)}
    counts = group_counts(PAIRS, IMAGES, np.array([1, 0, 0, 0]))
    assert counts == {"in": (0, 0), "rest": (0, 5), "cross": (3, 4)}


def test_clopper_pearson_known_values() -> None:
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** 0.1))
    assert clopper_pearson(10, 10) == pytest.approx((0.025 ** 0.1, 1.0))
    assert clopper_pearson(5, 10) == pytest.approx((0.18709, 0.81291), abs=1e-5)
    lo, hi = clopper_pearson(7, 7_000_000)  # rare events: close to the Poisson interval
    assert lo * 7e6 == pytest.approx(2.8143, rel=1e-3) and hi * 7e6 == pytest.approx(
        14.4227, rel=1e-3)


def test_rate_ratio_interval() -> None:
    lo, hi = rate_ratio_ci(20, 10_000, 100, 100_000)  # rates 2e-3 vs 1e-3
    assert lo < 2.0 < hi and lo > 1.0
    assert rate_ratio_ci(0, 10_000, 50, 100_000)[0] == 0.0
    assert rate_ratio_ci(0, 10, 0, 10) == (0.0, math.inf)


def test_bootstrap_ratio_of_equal_rates_is_one() -> None:
    # 3 + 3 people with one image each, every impostor pair accepted: both FARs are 1
    images, member = np.ones(6, int), np.array([1, 1, 1, 0, 0, 0])
    pairs = np.array([(a, b) for a in range(6) for b in range(a + 1, 6)])
    ratio = bootstrap_ratio(pairs, images, member, 200, np.random.default_rng(0))
    finite = ratio[np.isfinite(ratio)]  # a resample of one person repeated has no pair
    assert len(finite) > 100 and np.allclose(finite, 1.0)


def test_analyse_reports_targets_from_the_counts() -> None:
    member = np.array([1, 1, 0, 0])
    out = analyse(PAIRS, IMAGES, member, np.array(list("abcd")), np.random.default_rng(0), 50)
    assert out["false_accepts"] == 3 and out["impostor_pairs"] == 9
    assert out["worst"]["person"] == "a" and out["worst"]["far"] == 0.75
    assert out["group_in"]["false_accepts"] == 1 and out["group_rest"]["pairs"] == 2
    assert out["targets"]["p99_ratio_met"] == (0.75 / (3 / 9) <= 5)


def test_cohort_normalisation_leaves_the_own_person_out() -> None:
    names = np.array(["a", "a", "b", "c"])
    likeness = np.array([[1.0, 0.9, 0.5, 0.1],
                         [0.9, 1.0, 0.3, 0.2],
                         [0.5, 0.3, 1.0, 0.4],
                         [0.1, 0.2, 0.4, 1.0]])
    cohort = np.array([True, True, True, False])  # images of a and b
    with np.errstate(divide="ignore", invalid="ignore"):  # rows 0-1: a cohort of one image
        out = normalised(likeness, names[:, None] == names[None, :], cohort)
    # template 0's cohort without person a: only image 2 (0.5)
    assert out["top5"][0].tolist() == pytest.approx((likeness[0] - 0.5).tolist())
    # template 3's cohort: 0.1, 0.2, 0.4 -> mean 0.2333, std 0.1247
    assert out["znorm"][3, 2] == pytest.approx((0.4 - 0.7 / 3) / np.std([0.1, 0.2, 0.4]))
    assert out["plain"] is likeness
