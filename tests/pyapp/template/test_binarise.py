"""Binarisation: determinism, equal-frequency levels, thermometer distances, unlinkable
permutations, parameter validation (synthetic faces; the LFW numbers are in bench/)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from pyapp.errors import InputError, ModelError
from pyapp.template import binarise
from pyapp.template.binarise import Scheme, scheme_from_params

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "models" / "binarise-v1.json"
DIM = 32


def synthetic_people(people: int, per_person: int, seed: int, spread: float = 0.35
                     ) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised 'embeddings': a random centre per person plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((people, DIM)) + 0.8  # a shared component, like dlib's
    x = np.repeat(centres, per_person, axis=0) + spread * rng.standard_normal(
        (people * per_person, DIM)) * np.linalg.norm(centres[0]) / np.sqrt(DIM)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(people),
                                                                   per_person)


@lru_cache(maxsize=1)
def synthetic_scheme() -> Scheme:
    """32 coordinates x 17 levels = 512 bits -> BCH(511, t=60); fitted on synthetic people."""
    train, _ = synthetic_people(300, 3, seed=1)
    params = binarise.fit(train, coordinates=32, levels_=17, width=1.75, code_m=9, code_t=60,
                          rotation_seed=b"synthetic", note="test scheme")
    return scheme_from_params(params)


def test_rotation_is_a_deterministic_orthogonal_matrix() -> None:
    matrix = binarise.rotation(16, 16, b"seed")
    assert np.allclose(matrix @ matrix.T, np.eye(16), atol=1e-12)
    assert np.array_equal(matrix, binarise.rotation(16, 16, b"seed"))
    assert not np.allclose(matrix, binarise.rotation(16, 16, b"other"))
    stacked = binarise.rotation(40, 16, b"seed")
    assert stacked.shape == (40, 16) and np.array_equal(stacked[:16], matrix)
    assert not np.allclose(stacked[16:32], matrix)
    # known answer for the uniform stream: 53 bits of SHA-256 counter-mode words
    word = int.from_bytes(hashlib.sha256(b"L" + b"S" + bytes(4)).digest()[:8], "little")
    assert binarise._uniform(b"L", b"S", 1)[0] == ((word >> 11) + 0.5) / 2**53
    # Haar-like: entries of a big rotation look Gaussian with variance 1/d
    big = binarise.rotation(128, 128, b"x")
    assert abs(big.var() * 128 - 1) < 0.02 and abs(big.mean()) < 0.01


def test_permutation_is_a_seeded_permutation() -> None:
    perm = binarise.permutation(bytes(16), 2047)
    assert sorted(perm.tolist()) == list(range(2047))
    assert np.array_equal(perm, binarise.permutation(bytes(16), 2047))
    other = binarise.permutation(bytes(15) + b"\x01", 2047)
    assert (perm == other).mean() < 0.01
    assert perm[:4].tolist() == binarise.permutation(bytes(16), 2047)[:4].tolist()
    with pytest.raises(InputError):
        binarise.permutation(bytes(8), 10)


def test_levels_are_equal_width_and_centred_on_the_training_medians() -> None:
    scheme = synthetic_scheme()
    steps = np.diff(scheme.thresholds, axis=1)
    assert np.allclose(steps, scheme.params["step"])
    train, _ = synthetic_people(300, 3, seed=1)
    level = np.array([binarise.levels(binarise.project(x, scheme), scheme) for x in train])
    middle = scheme.levels // 2  # L odd: the middle level straddles the median
    assert abs((level > middle).mean() - (level < middle).mean()) < 0.02
    assert level.min() >= 0 and level.max() <= scheme.levels - 1
    assert 0.0 < (level == 0).mean() < 0.05  # the outer levels are rare, not impossible


def test_thermometer_hamming_distance_is_the_l1_distance_of_levels() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 9, 64), rng.integers(0, 9, 64)
    bits_a, bits_b = binarise.thermometer(a, 8), binarise.thermometer(b, 8)
    assert bits_a.shape == (512,)
    assert int(bits_a[:8].sum()) == int(a[0])
    assert int((bits_a != bits_b).sum()) == int(np.abs(a - b).sum())
    assert binarise.thermometer(np.array([0, 3, 8]), 8).reshape(3, 8).sum(axis=1).tolist() == [
        0, 3, 8]


def test_permutation_keeps_distances_and_hides_the_order() -> None:
    scheme = synthetic_scheme()
    x, person = synthetic_people(2, 2, seed=7)
    s1, s2 = bytes(16), b"\x01" * 16
    plain = [binarise.unpermuted_bits(v, scheme) for v in x]
    same_seed = [binarise.binarise(v, scheme, s1) for v in x]
    assert len(same_seed[0]) == scheme.code.length
    for i in range(4):
        for j in range(4):
            assert int((same_seed[i] != same_seed[j]).sum()) == int(
                (plain[i] != plain[j]).sum())
    # one face under two seeds: the bits are a permutation of each other, not aligned
    other = binarise.binarise(x[0], scheme, s2)
    assert sorted(other.tolist()) == sorted(same_seed[0].tolist())
    assert int((other != same_seed[0]).sum()) > int((same_seed[0] != same_seed[1]).sum())
    assert person.tolist() == [0, 0, 1, 1]


def test_same_person_is_closer_than_different_people() -> None:
    scheme = synthetic_scheme()
    x, person = synthetic_people(40, 2, seed=3)
    bits = np.array([binarise.unpermuted_bits(v, scheme) for v in x])
    hd = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    same = hd[person[:, None] == person[None, :]]
    same = same[same > 0]
    diff = hd[person[:, None] != person[None, :]]
    assert np.median(same) < 0.5 * np.median(diff)


def test_several_embeddings_are_averaged() -> None:
    scheme = synthetic_scheme()
    x, _ = synthetic_people(1, 3, seed=5)
    mean = x.mean(axis=0)
    assert np.array_equal(binarise.unpermuted_bits(x, scheme),
                          binarise.unpermuted_bits(mean / np.linalg.norm(mean), scheme))


def test_bad_embeddings_are_refused() -> None:
    scheme = synthetic_scheme()
    with pytest.raises(InputError):
        binarise.binarise(np.zeros(DIM + 1), scheme, bytes(16))
    with pytest.raises(InputError):
        binarise.binarise(np.full(DIM, np.nan), scheme, bytes(16))
    with pytest.raises(InputError):
        binarise.binarise(np.zeros((0, DIM)), scheme, bytes(16))
    with pytest.raises(InputError):
        binarise.binarise(np.ones(DIM), scheme, bytes(3))


def test_parameter_validation() -> None:
    params = synthetic_scheme().params
    assert scheme_from_params(json.loads(json.dumps(params))).scheme_id == (
        synthetic_scheme().scheme_id)
    broken = [
        {**params, "format": "other"},
        {**params, "version": 2},
        {**params, "centre": params["centre"][:-1]},
        {**params, "centre": [float("nan")] * len(params["centre"])},
        {**params, "step": 0.0},
        {**params, "step": "wide"},
        {**params, "levels": 1},
        {**params, "rotation": {**params["rotation"], "kind": "gaussian"}},
        {**params, "rotation": {**params["rotation"], "seed": "not hex"}},
        {**params, "code": {"m": 10, "t": 60}},  # 512 bits cannot fill n = 1023
        {k: v for k, v in params.items() if k != "code"},
    ]
    for bad in broken:
        with pytest.raises(ModelError):
            scheme_from_params(bad)
    changed = {**params, "note": "other"}
    assert scheme_from_params(changed).scheme_id != synthetic_scheme().scheme_id


def test_load_scheme_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        binarise.load_scheme(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ModelError):
        binarise.load_scheme(tmp_path / "bad.json")


@pytest.mark.skipif(not SHIPPED.exists(), reason="models/binarise-v1.json not written yet")
def test_the_shipped_parameters_load_and_are_small() -> None:
    scheme = binarise.load_scheme(SHIPPED)
    assert SHIPPED.stat().st_size < 100_000
    assert scheme.code.k >= 32
    assert scheme.thresholds.size >= scheme.code.length
    assert "folds 1-2" in scheme.params["note"]
