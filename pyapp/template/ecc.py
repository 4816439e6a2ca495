"""Binary primitive BCH codes with a bounded-distance decoder, in numpy.

``BCH(m, t, length)`` is the narrow-sense binary BCH code of length n = 2^m - 1 and designed
error-correcting capability t (generator = lcm of the minimal polynomials of alpha^1 ..
alpha^2t), optionally shortened to ``length`` bits. Encoding is systematic: a codeword is
``parity (n-k bits) | message (k' bits)``, bit i being the coefficient of x^i.

Decoding is the textbook chain, each stage vectorised with the log/antilog tables of
:mod:`pyapp.template.gf` (no per-bit Python loop): syndromes, Berlekamp-Massey (binary form:
only the t odd steps), Chien search over all positions. It corrects every pattern of at most t
errors and raises :class:`~pyapp.errors.DecodeError` when it detects more (locator degree > t, or a
locator whose roots are not exactly its degree many distinct valid positions). Beyond t it
may also mis-correct to another codeword; it never crashes. "Decodes to the right message"
is therefore exactly "Hamming distance <= t", which is what makes FAR/FRR computable from
Hamming distances.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from pyapp.errors import DecodeError, InputError
from pyapp.template.gf import GF2m, IntArray, cyclotomic_coset, field

Bits = npt.NDArray[np.uint8]


class BCH:
    """A binary BCH code (n, k, t), possibly shortened to (length, k - (n - length), t)."""

    def __init__(self, m: int, t: int, length: int | None = None) -> None:
        gf = field(m)
        n = gf.order
        if not 1 <= t or 2 * t >= n:
            raise InputError(f"BCH over GF(2^{m}) needs 1 <= t < {n // 2 + 1}, got t={t}")
        generator = np.ones(1, dtype=np.int64)
        seen: set[int] = set()
        for i in range(1, 2 * t, 2):
            rep = min(cyclotomic_coset(i, n))
            if rep not in seen:
                seen.add(rep)
                generator = np.convolve(generator, gf.minimal_polynomial(i)) % 2
        self.gf: GF2m = gf
        self.m, self.t, self.n = m, t, n
        self.generator: IntArray = generator
        self.parity_bits = len(generator) - 1
        self.full_k = n - self.parity_bits
        self.length = n if length is None else length
        self.k = self.length - self.parity_bits  # message bits after shortening
        if not 1 <= self.k <= self.full_k:
            raise InputError(f"BCH({n},{self.full_k},{t}) cannot be shortened to {self.length} "
                             f"bits (needs {self.parity_bits + 1}..{n})")
        self.parity_matrix = self._build_parity_matrix()
        positions = np.arange(self.length, dtype=np.int64)
        odd = np.arange(1, 2 * t, 2, dtype=np.int64)
        # (j * i) mod n for the odd syndrome indices j, and -(j * i) mod n for Chien (j<=t).
        self._syndrome_exponents = (np.outer(odd, positions) % n).astype(np.int32)
        degrees = np.arange(t + 1, dtype=np.int64)
        self._chien_exponents = ((-np.outer(degrees, positions)) % n).astype(np.int32)
        js = np.arange(1, 2 * t + 1, dtype=np.int64)
        self._pow2 = js & -js  # S_j = S_(j / pow2) ^ pow2, with j / pow2 odd
        self._odd_index = (js // self._pow2 - 1) // 2

    def __repr__(self) -> str:
        return f"BCH(n={self.length}, k={self.k}, t={self.t}; from ({self.n},{self.full_k}))"

    @property
    def rate(self) -> float:
        return self.k / self.length

    # --- encoding --------------------------------------------------------------------------
    def _build_parity_matrix(self) -> Bits:
        """Row i: the parity of message bit i, i.e. x^(r+i) mod g(x) (r = parity bits)."""
        r = self.parity_bits
        low = self.generator[:r].astype(np.uint8)
        rows = np.zeros((self.k, r), dtype=np.uint8)
        row = low.copy()  # x^r mod g
        for i in range(self.k):
            rows[i] = row
            top = row[r - 1]
            row = np.roll(row, 1)
            row[0] = 0
            if top:
                row ^= low
        return rows

    def encode(self, message: Bits) -> Bits:
        """Systematic codeword (length bits) of a k-bit message."""
        msg = _bits(message, self.k, "message")
        parity = (msg @ self.parity_matrix) & 1  # uint8 sums wrap mod 256: parity survives
        return np.concatenate([parity.astype(np.uint8), msg])

    def message_of(self, codeword: Bits) -> Bits:
        return codeword[self.parity_bits:]

    # --- decoding --------------------------------------------------------------------------
    def syndromes(self, word: Bits) -> IntArray:
        """S_1 .. S_2t of a received word (index 0 unused, kept 0)."""
        gf = self.gf
        positions = np.flatnonzero(word)
        out = np.zeros(2 * self.t + 1, dtype=np.int64)
        if positions.size == 0:
            return out
        odd = np.bitwise_xor.reduce(
            np.take(gf.exp16, self._syndrome_exponents[:, positions]), axis=1).astype(np.int64)
        logs = gf.log[odd[self._odd_index]]
        full = gf.exp[np.where(logs == gf.log0, gf.log0,
                               (logs * self._pow2) % gf.order)]
        out[1:] = full
        return out

    def locator(self, syndromes: IntArray) -> IntArray:
        """Error-locator polynomial by binary Berlekamp-Massey (lowest degree first)."""
        gf, t = self.gf, self.t
        size = 2 * t + 2
        log_s = gf.log[syndromes]
        c = np.zeros(size, dtype=np.int64)
        c[0] = 1
        b_poly = c.copy()
        log_b_poly = gf.log[b_poly]
        degree, shift, log_b = 0, 1, 0
        for r in range(0, 2 * t, 2):
            # discrepancy d = sum_i C_i S_(r+1-i), i = 0..L
            window = log_s[r + 1 - degree: r + 2][::-1]
            d = int(np.bitwise_xor.reduce(gf.exp[gf.log[c[: degree + 1]] + window]))
            if d:
                coef = (int(gf.log[d]) - log_b) % gf.order
                span = max(0, size - shift)
                update = gf.exp[log_b_poly[:span] + coef]
                if 2 * degree <= r:
                    previous = c.copy()
                    c[shift: shift + span] ^= update
                    degree = r + 1 - degree
                    b_poly, log_b_poly, log_b = previous, gf.log[previous], int(gf.log[d])
                    shift = 1
                else:
                    c[shift: shift + span] ^= update
                    shift += 1
            else:
                shift += 1
            shift += 1  # the skipped even-syndrome step, whose discrepancy is always 0
        return c[: degree + 1]

    def error_positions(self, locator: IntArray) -> IntArray:
        """Positions i (< length) with locator(alpha^-i) == 0, by a one-shot Chien search."""
        gf = self.gf
        degree = len(locator) - 1
        logs = gf.log32[locator][:, None]
        values = np.bitwise_xor.reduce(
            np.take(gf.exp16, logs + self._chien_exponents[: degree + 1]), axis=0)
        return np.flatnonzero(values == 0)

    def correct(self, received: Bits) -> tuple[Bits, int]:
        """The nearest codeword within distance t and the number of corrected errors."""
        word = _bits(received, self.length, "received word")
        syndromes = self.syndromes(word)
        if not syndromes.any():
            return word.copy(), 0
        locator = self.locator(syndromes)
        degree = len(locator) - 1
        if degree > self.t or locator[-1] == 0:
            raise DecodeError(f"more than {self.t} errors (locator degree {degree})")
        positions = self.error_positions(locator)
        if len(positions) != degree:
            raise DecodeError(f"more than {self.t} errors (locator of degree {degree} has "
                              f"{len(positions)} roots among the code positions)")
        word = word.copy()
        word[positions] ^= 1
        return word, degree

    def decode(self, received: Bits) -> Bits:
        """The k message bits of the codeword within distance t of ``received``."""
        corrected, _ = self.correct(received)
        return self.message_of(corrected).copy()


def _bits(value: object, size: int, what: str) -> Bits:
    array = np.asarray(value)
    if array.shape != (size,):
        raise InputError(f"{what} must be {size} bits, got shape {array.shape}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_:
            raise InputError(f"{what} must be an integer or bool array of 0/1")
        array = array.astype(np.uint8)
    if np.any(array > 1):
        raise InputError(f"{what} must contain only 0 and 1")
    return array


def bch(m: int, t: int, length: int | None = None) -> BCH:
    """A cached code (building one costs a few ms to a few hundred ms for m = 11).

    ``length=None`` and ``length=2^m - 1`` are the same code and share one cache entry.
    """
    return _cached_bch(m, t, (1 << m) - 1 if length is None else length)


@lru_cache(maxsize=32)
def _cached_bch(m: int, t: int, length: int) -> BCH:
    return BCH(m, t, length)


def dimension(m: int, t: int) -> int:
    """k of the unshortened BCH code (2^m - 1, k, t), from cyclotomic cosets alone."""
    n = (1 << m) - 1
    roots: set[int] = set()
    for i in range(1, 2 * t, 2):
        roots.update(cyclotomic_coset(i, n))
    return n - len(roots)


def code_table(m: int) -> list[tuple[int, int, int]]:
    """(n, k, t) for every designed t of the length 2^m - 1 codes (largest t per k)."""
    n = (1 << m) - 1
    best: dict[int, int] = {}
    for t in range(1, (n - 1) // 2 + 1):
        k = dimension(m, t)
        if k < 1:
            break
        best[k] = t
    return sorted(((n, k, t) for k, t in best.items()), key=lambda row: row[2])


if __name__ == "__main__":  # python -m pyapp.template.ecc [m ...]: print the (n, k, t) table
    import sys

    for m in [int(a) for a in sys.argv[1:]] or [9, 10, 11]:
        for n, k, t in code_table(m):
            print(f"n={n:5d} k={k:5d} t={t:4d} ({t / n:.1%})")
