"""The ristretto255 prime-order group (RFC 9496) in pure Python big-integer arithmetic.

Elements are edwards25519 points in extended coordinates (X : Y : Z : T), compared and
encoded the ristretto way, so the cofactor never shows. Scalars are plain ints modulo
``ORDER``. Speed: a variable-base scalar multiplication is ~250 doublings and ~64 additions
of ~9 modular multiplications each (4-bit fixed window), a millisecond or two in CPython.

Python integers are not constant-time. The secrets multiplied here (the OPRF blind on the
client, the OPRF key in tests) are used once per session on the user's own device, where a
remote timing observer has no fine clock; see docs/security.md.
"""

from __future__ import annotations

from pyapp.errors import CryptoError

P = 2**255 - 19
ORDER = 2**252 + 27742317777372353535851937790883648493  # the group order (scalar field)
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
SQRT_AD_MINUS_ONE = (
    25063068953384623474111414158702152701244531502492656460079210482610430750235)
INVSQRT_A_MINUS_D = (
    54469307008909316920995813868745141605393597292927456921205312896311721017578)
ONE_MINUS_D_SQ = 1159843021668779879193775521855586647937357759715417654439879720876111806838
D_MINUS_ONE_SQ = 40440834346308536858101042469323190826248399146238708352240133220865137265952
_D2 = (2 * D) % P
ELEMENT_BYTES = 32
SCALAR_BYTES = 32


def is_negative(x: int) -> bool:
    return (x % P) & 1 == 1


def _abs(x: int) -> int:
    x %= P
    return P - x if x & 1 else x


def sqrt_ratio_m1(u: int, v: int) -> tuple[bool, int]:
    """RFC 9496 SQRT_RATIO_M1: (True, sqrt(u/v)) or (False, sqrt(i*u/v)), non-negative root."""
    u %= P
    v %= P
    v3 = v * v % P * v % P
    v7 = v3 * v3 % P * v % P
    r = u * v3 % P * pow(u * v7 % P, (P - 5) // 8, P) % P
    check = v * r % P * r % P
    correct_sign = check == u
    flipped_sign = check == (-u) % P
    flipped_sign_i = check == (-u * SQRT_M1) % P
    if flipped_sign or flipped_sign_i:
        r = r * SQRT_M1 % P
    return correct_sign or flipped_sign, _abs(r)


class Element:
    """A ristretto255 group element (immutable)."""

    __slots__ = ("t", "x", "y", "z")

    def __init__(self, x: int, y: int, z: int, t: int) -> None:
        self.x, self.y, self.z, self.t = x, y, z, t

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def identity(cls) -> Element:
        return cls(0, 1, 1, 0)

    @classmethod
    def decode(cls, data: bytes) -> Element:
        """RFC 9496 Decode; raises CryptoError for every invalid or non-canonical encoding."""
        if not isinstance(data, bytes) or len(data) != ELEMENT_BYTES:
            raise CryptoError("a ristretto255 element must be 32 bytes")
        s = int.from_bytes(data, "little")
        if s >= P or s & 1:
            raise CryptoError("non-canonical ristretto255 encoding")
        ss = s * s % P
        u1 = (1 - ss) % P
        u2 = (1 + ss) % P
        u2_sqr = u2 * u2 % P
        v = (-(D * u1 % P * u1) - u2_sqr) % P
        was_square, invsqrt = sqrt_ratio_m1(1, v * u2_sqr % P)
        den_x = invsqrt * u2 % P
        den_y = invsqrt * den_x % P * v % P
        x = _abs(2 * s * den_x)
        y = u1 * den_y % P
        t = x * y % P
        if not was_square or t & 1 or y == 0:
            raise CryptoError("invalid ristretto255 encoding")
        return cls(x, y, 1, t)

    @classmethod
    def from_uniform_bytes(cls, data: bytes) -> Element:
        """RFC 9496 element derivation (one-way map) from 64 uniformly random bytes."""
        if len(data) != 64:
            raise CryptoError("element derivation needs 64 bytes")
        mask = (1 << 255) - 1
        r0 = (int.from_bytes(data[:32], "little") & mask) % P
        r1 = (int.from_bytes(data[32:], "little") & mask) % P
        return _map(r0) + _map(r1)

    # --- encoding and comparison -----------------------------------------------------------
    def encode(self) -> bytes:
        """RFC 9496 Encode: the canonical 32-byte encoding."""
        x0, y0, z0, t0 = self.x, self.y, self.z, self.t
        u1 = (z0 + y0) * (z0 - y0) % P
        u2 = x0 * y0 % P
        _, invsqrt = sqrt_ratio_m1(1, u1 * u2 % P * u2 % P)
        den1 = invsqrt * u1 % P
        den2 = invsqrt * u2 % P
        z_inv = den1 * den2 % P * t0 % P
        if is_negative(t0 * z_inv):
            x, y, den_inv = y0 * SQRT_M1 % P, x0 * SQRT_M1 % P, den1 * INVSQRT_A_MINUS_D % P
        else:
            x, y, den_inv = x0, y0, den2
        if is_negative(x * z_inv):
            y = -y
        s = _abs(den_inv * (z0 - y))
        return s.to_bytes(32, "little")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Element):
            return NotImplemented
        return ((self.x * other.y - self.y * other.x) % P == 0
                or (self.y * other.y - self.x * other.x) % P == 0)

    __hash__ = None  # type: ignore[assignment]

    def is_identity(self) -> bool:
        return self == Element.identity()

    def __repr__(self) -> str:
        return "Element(<ristretto255>)"

    # --- group law ---------------------------------------------------------------------------
    def __add__(self, other: Element) -> Element:
        x1, y1, z1, t1 = self.x, self.y, self.z, self.t
        x2, y2, z2, t2 = other.x, other.y, other.z, other.t
        a = (y1 - x1) * (y2 - x2) % P
        b = (y1 + x1) * (y2 + x2) % P
        c = t1 * _D2 % P * t2 % P
        d = 2 * z1 * z2 % P
        e, f, g, h = b - a, d - c, d + c, b + a
        return Element(e * f % P, g * h % P, f * g % P, e * h % P)

    def double(self) -> Element:
        x1, y1, z1 = self.x, self.y, self.z
        a = x1 * x1 % P
        b = y1 * y1 % P
        c = 2 * z1 * z1 % P
        e = ((x1 + y1) * (x1 + y1) - a - b) % P
        g = b - a
        f = g - c
        h = -a - b
        return Element(e * f % P, g * h % P, f * g % P, e * h % P)

    def __neg__(self) -> Element:
        return Element(-self.x % P, self.y, self.z, -self.t % P)

    def __sub__(self, other: Element) -> Element:
        return self + (-other)

    def __mul__(self, scalar: int) -> Element:
        """Scalar multiplication, 4-bit fixed window (the scalar is reduced mod ORDER)."""
        k = scalar % ORDER
        table = [Element.identity(), self]
        for _ in range(14):
            table.append(table[-1] + self)
        acc = Element.identity()
        for shift in range(252, -1, -4):
            acc = acc.double().double().double().double()
            acc = acc + table[(k >> shift) & 15]
        return acc

    __rmul__ = __mul__


def _map(t: int) -> Element:
    """RFC 9496 MAP: the Elligator-based map from a field element to an edwards point."""
    r = SQRT_M1 * t % P * t % P
    u = (r + 1) * ONE_MINUS_D_SQ % P
    v = (-1 - r * D) * (r + D) % P
    was_square, s = sqrt_ratio_m1(u, v)
    if not was_square:
        s = (-_abs(s * t)) % P
        c = r
    else:
        c = P - 1
    n = (c * (r - 1) % P * D_MINUS_ONE_SQ - v) % P
    w0 = 2 * s * v % P
    w1 = n * SQRT_AD_MINUS_ONE % P
    ss = s * s % P
    w2 = (1 - ss) % P
    w3 = (1 + ss) % P
    return Element(w0 * w3 % P, w2 * w1 % P, w1 * w3 % P, w0 * w2 % P)


GENERATOR = Element.decode(bytes.fromhex(
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))


def decode_scalar(data: bytes) -> int:
    """A canonical little-endian scalar (< ORDER); raises CryptoError otherwise."""
    if not isinstance(data, bytes) or len(data) != SCALAR_BYTES:
        raise CryptoError("a ristretto255 scalar must be 32 bytes")
    value = int.from_bytes(data, "little")
    if value >= ORDER:
        raise CryptoError("non-canonical ristretto255 scalar")
    return value


def encode_scalar(value: int) -> bytes:
    return (value % ORDER).to_bytes(SCALAR_BYTES, "little")
