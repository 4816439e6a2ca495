"""The printed table of bench/fairness.py (the numbers are computed there)."""

from __future__ import annotations

from typing import Any

RULES = ("cosine", "protected")
GROUP_NAME = {1: "in", 0: "rest", -1: "unsure"}


def _ci(ci: Any, scale: float = 1.0, fmt: str = ".2e") -> str:
    return f"[{ci[0] * scale:{fmt}}, {ci[1] * scale:{fmt}}]"


def _person(p: dict[str, Any], far: float) -> str:
    return (f"{p['far']:.2e} ({p['far'] / far:.1f}x; {p['false_accepts']}/"
            f"{p['comparisons']:,})")


def rows(block: dict[str, Any]) -> list[tuple[str, ...]]:
    """One line per measure, one column per rule."""
    r = [block[k] for k in RULES]
    out: list[tuple[str, ...]] = [
        ("impostor pairs", *(f"{x['impostor_pairs']:,}" for x in r)),
        ("false accepts, FAR [95% CI]", *(f"{x['false_accepts']:,}, {x['far']:.2e} "
                                          f"{_ci(x['far_ci'])}" for x in r))]
    for label in ("median", "p90", "p99", "worst"):
        out.append((f"person FAR {label} (x global; FA/pairs)",
                     *(_person(x[label], x["far"]) for x in r)))
    out.append(("  p99 if FAR were uniform (x)",
                *(f"{x['uniform_far_noise']['p99_ratio'][0]:.1f} "
                  f"[{x['uniform_far_noise']['p99_ratio'][1]:.1f}, "
                  f"{x['uniform_far_noise']['p99_ratio'][2]:.1f}]" for x in r)))
    out.append(("worst person", *(f"{x['worst']['person']} ({x['worst']['images']} img)"
                                  for x in r)))
    out.append(("top-10% people's share of FAs",
                *(f"{x['top10_share']:.1%} (of pairs {x['top10_comparison_share']:.1%}; "
                  f"uniform {x['uniform_far_noise']['top10_share'][0]:.1%})" for x in r)))
    for side in ("in", "rest", "cross"):
        g = [x[f"group_{side}"] for x in r]
        out.append((f"group {side}: FA/pairs (person pairs), FAR [CI]",
                    *(f"{y['false_accepts']}/{y['pairs']:,} "
                      f"({y['person_pairs_with_false_accepts']}), {y['far']:.2e} "
                      f"{_ci(y['far_ci'])}" for y in g)))
    out.append(("in / rest [exact; person bootstrap]",
                *(f"{x['group_ratio']['ratio']:.2f} "
                  f"{_ci(x['group_ratio']['exact_ci'], fmt='.2f')}; "
                  f"{_ci(x['group_ratio']['person_bootstrap_ci'], fmt='.2f')}" for x in r)))
    out.append(("FAs with a gate-refused image",
                *(f"{x['gated_share']['false_accepts']:.1%} (of pairs "
                  f"{x['gated_share']['impostor_pairs']:.1%})" for x in r)))
    out.append(("targets: in/rest <= 3, p99 <= 5x",
                *(f"{'met' if x['targets']['group_ratio_met'] else 'MISSED'}, "
                  f"{'met' if x['targets']['p99_ratio_met'] else 'MISSED'}" for x in r)))
    return out


def print_report(result: dict[str, Any]) -> None:
    print(f"{result['label']}: {result['scheme']}; cosine threshold "
          f"{result['threshold_cosine']:.4f} (all-pairs FAR 1e-3), protected t = "
          f"{result['t']}; {result['detection_failures']} of {result['images']} images "
          "without an embedding")
    for population in ("all", "held_out"):
        block = result[population]
        group = block["group_people"]
        print(f"\n== {population}: {block['people']} people, {block['images']} images; "
              f"name-proxy group {len(group)} people, {sum(g['images'] for g in group)} "
              f"images; {len(block['unsure_people'])} unsure")
        table = [("", *RULES), *rows(block)]
        width = [max(len(line[c]) for line in table) for c in range(3)]
        for line in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(line, width, strict=True)))
        for rule in RULES:
            x = block[rule]
            print(f"-- {rule}: worst people (FA/pairs, FAR [CI], group)")
            for p in x["worst_people"][:8]:
                print(f"   {p['person']:26s} {p['images']:3d} img  {p['false_accepts']:4d}/"
                      f"{p['comparisons']:<7,d} {p['far']:.2e} {_ci(p['far_ci'])} "
                      f"{GROUP_NAME[p['group']]}")
            alike = x["genuine_like"]
            print(f"-- {rule}: {len(alike['pairs'])} accepted impostor pairs as alike as the "
                  f"median genuine pair ({alike['genuine_median']:.3g}) or more")
            for p in alike["pairs"][:8]:
                print(f"   {' ~ '.join(p['people']):48s} {p['score']:.3g} "
                      f"{'/'.join(GROUP_NAME[g] for g in p['groups'])}")
            for key, title in (("top_person_pairs", "person pairs with most false accepts"),
                               ("in_group_person_pairs", "in-group person pairs")):
                print(f"-- {rule}: {title} (FA/image pairs, groups)")
                for p in x[key][:10]:
                    print(f"   {' ~ '.join(p['people']):48s} {p['false_accepts']:3d}/"
                          f"{p['image_pairs']:<4d} "
                          f"{'/'.join(GROUP_NAME[g] for g in p['groups'])}")
