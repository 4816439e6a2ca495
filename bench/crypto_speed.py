"""Timings of the client-side cryptosystem: commit, open (BCH decode), OPRF, HKDF+keygen, sign.

    .venv/bin/python bench/crypto_speed.py [--params models/binarise-v2.json] [--repeat 30]

Prints a table of medians (ms), in CPython and in Pyodide in headless Chromium (the same
``measure`` function, fetched by tests/browser/pages/crypto_worker.py), and writes
bench/out/crypto_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp import protocol  # noqa: E402
from pyapp.template import commitment, oprf  # noqa: E402
from pyapp.template.binarise import Scheme, binarise, load_scheme  # noqa: E402
from pyapp.template.blob import Template  # noqa: E402
from pyapp.template.keys import derive_keys  # noqa: E402


def _median_ms(fn: Callable[[], object], repeat: int, clock: Callable[[], float]) -> float:
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append((clock() - start) * 1e3)
    return statistics.median(times)


def measure(scheme: Scheme, repeat: int = 30,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median milliseconds of each client step, on a random embedding and a noisy probe."""
    rng = np.random.default_rng(0)
    code = scheme.code
    emb = rng.standard_normal(scheme.dim)
    emb /= np.linalg.norm(emb)
    seed = os.urandom(16)
    bits = binarise(emb, scheme, seed)
    helper, secret = commitment.commit(bits, code=code)
    noisy = bits.copy()
    noisy[rng.choice(code.length, code.t, replace=False)] ^= 1  # worst case: t errors
    sk, _ = oprf.derive_key_pair(bytes(32), b"bench")
    data = b"OwnFace/1 template secret\x00" + secret
    state = oprf.blind(data)
    evaluated = oprf.blind_evaluate(sk, state.element)
    output = oprf.finalize(data, state, evaluated)
    pair = derive_keys(output, "shop", "alice")
    message = protocol.signed_message("verify", "shop", "alice", "https://shop.example",
                                      bytes(16), bytes(32))
    blob = Template(scheme.scheme_id, seed, helper).encode()

    def roundtrip() -> object:
        s = oprf.blind(data)
        return oprf.finalize(data, s, oprf.blind_evaluate(sk, s.element))

    result = {
        "binarise": _median_ms(lambda: binarise(emb, scheme, seed), repeat, clock),
        "commit": _median_ms(lambda: commitment.commit(bits, code=code), repeat, clock),
        "template_encode_decode": _median_ms(
            lambda: Template.decode(Template(scheme.scheme_id, seed, helper).encode()),
            repeat, clock),
        "open_t_errors": _median_ms(lambda: commitment.open(helper, noisy), repeat, clock),
        "oprf_blind": _median_ms(lambda: oprf.blind(data), repeat, clock),
        "oprf_finalize": _median_ms(lambda: oprf.finalize(data, state, evaluated), repeat,
                                    clock),
        "oprf_server_evaluate": _median_ms(lambda: oprf.blind_evaluate(sk, state.element),
                                           repeat, clock),
        "hkdf_keygen": _median_ms(lambda: derive_keys(output, "shop", "alice"), repeat, clock),
        "sign": _median_ms(lambda: pair.sign(message), repeat, clock),
        "oprf_roundtrip_in_process": _median_ms(roundtrip, max(5, repeat // 3), clock),
    }
    result["client_enrol_after_embedding"] = (
        result["binarise"] + result["commit"] + result["oprf_blind"] + result["oprf_finalize"]
        + result["hkdf_keygen"] + result["sign"])
    result["client_open_oprf_sign"] = (
        result["binarise"] + result["open_t_errors"] + result["oprf_blind"]
        + result["oprf_finalize"] + result["hkdf_keygen"] + result["sign"])
    result["template_bytes"] = float(len(blob))
    return result


def browser_measure(repeat: int) -> dict[str, float]:
    """The same measure(), run inside Pyodide in headless Chromium."""
    from playwright.sync_api import sync_playwright

    from bench.harness import harness_server, open_harness

    with harness_server() as url, sync_playwright() as pw:
        browser, page = open_harness(pw, url, "crypto.html")
        raw = page.evaluate("spec => window.ownfaceGlue.worker.sync.run(spec)",
                            json.dumps({"repeat": repeat}))
        browser.close()
    result: dict[str, float] = json.loads(raw)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "models" / "binarise-v2.json")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "crypto_speed.json")
    args = parser.parse_args(argv)
    scheme = load_scheme(args.params)
    result = measure(scheme, args.repeat)
    browser = browser_measure(args.repeat)
    print(f"{scheme!r}; CPython {platform.python_version()}, numpy {np.__version__}; "
          f"browser: Pyodide in headless Chromium; load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':32s} {'CPython ms':>10s} {'browser ms':>11s}")
    for name, value in result.items():
        unit = "" if name != "template_bytes" else " (bytes)"
        print(f"{name:32s} {value:10.2f} {browser.get(name, float('nan')):11.2f}{unit}")
    print("targets (browser): client_enrol_after_embedding <= 100 ms, "
          "client_open_oprf_sign <= 60 ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"scheme": repr(scheme), "python": platform.python_version(),
                              "numpy": np.__version__, "median_ms": result,
                              "browser_median_ms": browser,
                              "load_average": os.getloadavg()[0]}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
