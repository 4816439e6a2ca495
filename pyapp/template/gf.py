"""Arithmetic in the binary extension fields GF(2^m), 3 <= m <= 11, with numpy tables.

Elements are integers 0 .. 2^m - 1 (bit i is the coefficient of x^i in the polynomial basis
modulo a fixed primitive polynomial). Multiplication goes through log/antilog tables laid out
so that a product is ONE table look-up with no branch for zero, which lets the BCH decoder
multiply whole arrays at once:

* ``log[0] == LOG0 == 2 * order`` (a sentinel) and ``log[a]`` in ``0 .. order-1`` otherwise;
* ``exp`` has ``4 * order + 1`` entries: ``exp[i] = alpha^(i mod order)`` for ``i < 2*order``
  and ``0`` beyond, so ``exp[log[a] + log[b]] == a * b`` for every ``a, b`` (a sum involving
  the sentinel lands in the zero tail).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from pyapp.errors import InputError

IntArray = npt.NDArray[np.int64]

# Primitive polynomials (bit i = coefficient of x^i), the usual textbook choices
# (Lin & Costello, table 2.7): x^3+x+1, x^4+x+1, x^5+x^2+1, x^6+x+1, x^7+x^3+1,
# x^8+x^4+x^3+x^2+1, x^9+x^4+1, x^10+x^3+1, x^11+x^2+1.
PRIMITIVE_POLYNOMIALS: dict[int, int] = {
    3: 0b1011, 4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10001001, 8: 0b100011101,
    9: 0b1000010001, 10: 0b10000001001, 11: 0b100000000101,
}


class GF2m:
    """The field GF(2^m): tables plus scalar and vectorised operations."""

    def __init__(self, m: int) -> None:
        if m not in PRIMITIVE_POLYNOMIALS:
            raise InputError(f"GF(2^m) is supported for m in 3..11, not {m}")
        self.m = m
        self.size = 1 << m
        self.order = self.size - 1  # of the multiplicative group, = BCH length n
        self.poly = PRIMITIVE_POLYNOMIALS[m]
        self.log0 = 2 * self.order
        powers = np.zeros(self.order, dtype=np.int64)
        x = 1
        for i in range(self.order):
            powers[i] = x
            x <<= 1
            if x & self.size:
                x ^= self.poly
        if x != 1 or len(set(powers.tolist())) != self.order:
            raise AssertionError(f"polynomial {self.poly:#x} is not primitive")  # pragma: no cover
        self.exp: IntArray = np.zeros(4 * self.order + 1, dtype=np.int64)
        self.exp[: self.order] = powers
        self.exp[self.order: 2 * self.order] = powers
        self.log: IntArray = np.full(self.size, self.log0, dtype=np.int64)
        self.log[powers] = np.arange(self.order, dtype=np.int64)
        # Narrow copies for the decoder's hot paths: int32 indices into a uint16 table are
        # several times faster to gather than int64 ones (less memory traffic).
        self.exp16: npt.NDArray[np.uint16] = self.exp.astype(np.uint16)
        self.log32: npt.NDArray[np.int32] = self.log.astype(np.int32)

    # --- scalars ---------------------------------------------------------------------------
    def mul(self, a: int, b: int) -> int:
        return int(self.exp[self.log[a] + self.log[b]])

    def inv(self, a: int) -> int:
        if a == 0:
            raise ZeroDivisionError("0 has no inverse in GF(2^m)")
        return int(self.exp[(self.order - self.log[a]) % self.order])

    def div(self, a: int, b: int) -> int:
        return self.mul(a, self.inv(b))

    def alpha_pow(self, e: int) -> int:
        """alpha^e for any integer e (negative allowed)."""
        return int(self.exp[e % self.order])

    # --- arrays ----------------------------------------------------------------------------
    def mul_arrays(self, a: IntArray, b: IntArray) -> IntArray:
        """Element-wise product of two arrays of field elements (broadcasting)."""
        product: IntArray = self.exp[self.log[a] + self.log[b]]
        return product

    def poly_mul(self, p: IntArray, q: IntArray) -> IntArray:
        """Product of two polynomials over GF(2^m) (coefficient i = power x^i)."""
        out = np.zeros(len(p) + len(q) - 1, dtype=np.int64)
        logq = self.log[q]
        for i, c in enumerate(p.tolist()):
            if c:
                out[i: i + len(q)] ^= self.exp[self.log[c] + logq]
        return out

    def minimal_polynomial(self, e: int) -> IntArray:
        """Binary minimal polynomial of alpha^e, as 0/1 coefficients (lowest degree first)."""
        poly = np.ones(1, dtype=np.int64)
        for j in cyclotomic_coset(e, self.order):
            poly = self.poly_mul(poly, np.array([self.alpha_pow(j), 1], dtype=np.int64))
        if np.any(poly > 1):
            raise AssertionError("minimal polynomial is not binary")  # pragma: no cover
        return poly


def cyclotomic_coset(e: int, order: int) -> list[int]:
    """The 2-cyclotomic coset of e modulo order: {e, 2e, 4e, ...}."""
    coset = []
    x = e % order
    while x not in coset:
        coset.append(x)
        x = (2 * x) % order
    return coset


@lru_cache(maxsize=16)
def field(m: int) -> GF2m:
    """The (cached) field GF(2^m)."""
    return GF2m(m)
