"""The secret code engine: alphabets, code formats, check characters and fast generation.

A :class:`CodeFormat` says what a voucher's secret code looks like: an :class:`Alphabet`
(digits, Crockford base32 or a custom set without look-alikes), a number of secret
characters, an optional non-secret prefix, display grouping and a check character (Luhn,
Luhn mod N or Damm) that tells a typo apart from a guess without touching storage. It
measures its own strength (bits of entropy, guessing risk) and refuses formats under the
64-bit floor unless asked, normalises typed input (case, separators, look-alikes), parses it
into the canonical code, and generates codes in bulk from a given random source. Generation
works on whole columns of codes at once with ``bytes.translate`` and big-integer lanes, so
a million codes take a fraction of a second in pure Python. Nothing here touches storage.
"""

from __future__ import annotations

import functools
import math
import os
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from types import MappingProxyType

from vouchers.errors import (
    CodeFormatError,
    CodeSpaceExhaustedError,
    MalformedCodeError,
    WeakCodeFormatError,
)

ENTROPY_FLOOR_BITS = 64
"""Formats with a smaller code space than 2**64 need ``allow_weak``."""

RISK_GUESSES = 1_000_000
RISK_LIVE_CODES = 1_000_000
"""The attack every way in shows beside a format's entropy: a million guesses against a
million live codes (``CodeFormat.risk``)."""

MASK_SYMBOL = "•"
MASK_TAIL = 4
"""How many trailing characters a masked code shows (fewer for codes under 8 characters)."""

MAX_PREFIX = 12

# Typed separators: ASCII space, tab, dash, dot and underscore, plus the Unicode dashes that
# arrive when a code is copied from a PDF or a word processor. Other whitespace is dropped too.
_SEPARATORS = " \t-._\u2010\u2011\u2012\u2013\u2014\u2015\u2212"

# Characters a reader confuses; a custom alphabet may hold at most one of each group.
_LOOKALIKES = ("0O", "1IL", "5S", "2Z", "8B", "UV")

_CHUNK = 1 << 20  # codes per generation round: bounds the temporary byte strings


class CheckMethod(StrEnum):
    """How the check character is computed; ``LUHN`` needs the ten decimal digits."""

    NONE = "none"
    LUHN = "luhn"
    LUHN_MOD_N = "luhn_mod_n"
    DAMM = "damm"


@dataclass(frozen=True)
class Alphabet:
    """The symbols secret codes are written in, and typed look-alikes mapped onto them.

    ``symbols`` are upper case, distinct, printable ASCII, 10 to 256 of them, with no
    whitespace and none of the separators ``-``, ``.``, ``_``; ``aliases`` maps a typed
    (upper-case) character that is not a symbol to the symbol it stands for. Raises
    :class:`CodeFormatError` otherwise. Use :data:`DIGITS`, :data:`CROCKFORD` or
    :func:`custom_alphabet`.
    """

    name: str
    symbols: str
    aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        symbols = self.symbols
        if not isinstance(symbols, str):
            raise CodeFormatError("alphabet symbols are a string")
        if not 10 <= len(symbols) <= 256:
            raise CodeFormatError(f"an alphabet has 10 to 256 symbols, not {len(symbols)}")
        if len(set(symbols)) != len(symbols):
            raise CodeFormatError("an alphabet may not repeat a symbol")
        for symbol in symbols:
            if not (symbol.isascii() and symbol.isprintable()) or symbol.isspace():
                raise CodeFormatError(f"{symbol!r} is not a printable ASCII symbol")
            if symbol in _SEPARATORS:
                raise CodeFormatError(f"{symbol!r} is a separator and cannot be a symbol")
        if symbols != symbols.upper():
            raise CodeFormatError("alphabet symbols are upper case; typed input is upper-cased")
        for typed, meant in self.aliases.items():
            if len(typed) != 1 or typed != typed.upper() or typed in symbols + _SEPARATORS:
                raise CodeFormatError(f"alias {typed!r} is not an upper-case non-symbol")
            if meant not in symbols:
                raise CodeFormatError(f"alias {typed!r} → {meant!r} does not map onto a symbol")
        object.__setattr__(self, "aliases", MappingProxyType(dict(self.aliases)))

    def __hash__(self) -> int:
        return hash((self.name, self.symbols, tuple(sorted(self.aliases.items()))))

    def __reduce__(self) -> tuple[type[Alphabet], tuple[str, str, dict[str, str]]]:
        # The read-only aliases view does not pickle; worker processes get a plain copy.
        return (Alphabet, (self.name, self.symbols, dict(self.aliases)))

    @property
    def size(self) -> int:
        """How many symbols the alphabet has."""
        return len(self.symbols)

    def normalize(self, typed: str) -> str:
        """Fold ``typed`` to canonical form: compatibility forms (full-width digits) to
        ASCII, upper case, whitespace and separators dropped, aliases mapped."""
        text = "".join(unicodedata.normalize("NFKC", typed).upper().split())
        return text.translate(_tables(self).normalizer)

    def values(self, text: str) -> list[int] | None:
        """The symbol values of ``text``, or ``None`` if a character is not a symbol."""
        index = _tables(self).index
        try:
            return [index[c] for c in text]
        except KeyError:
            return None


@dataclass(frozen=True, slots=True)
class _AlphabetTables:
    normalizer: dict[int, str | None]  # str.translate table: separators out, aliases mapped
    index: dict[str, int]  # symbol → value
    value_table: bytes  # random byte → symbol value (byte % size)
    rejected: bytes  # random bytes dropped so that values stay uniform
    ascii_table: bytes  # symbol value → ASCII symbol


@functools.cache
def _tables(alphabet: Alphabet) -> _AlphabetTables:
    size = alphabet.size
    normalizer: dict[int, str | None] = {ord(c): None for c in _SEPARATORS}
    normalizer.update({ord(typed): meant for typed, meant in alphabet.aliases.items()})
    return _AlphabetTables(
        normalizer=normalizer,
        index={c: i for i, c in enumerate(alphabet.symbols)},
        value_table=bytes(b % size for b in range(256)),
        rejected=bytes(range(256 - 256 % size, 256)),
        ascii_table=alphabet.symbols.encode("ascii") + bytes(256 - size),
    )


# Digits accept the letters people type for them on a printed card: O for 0, I and L for 1.
DIGITS = Alphabet("digits", "0123456789", {"O": "0", "I": "1", "L": "1"})
CROCKFORD = Alphabet(
    "crockford", "0123456789ABCDEFGHJKMNPQRSTVWXYZ", {"O": "0", "I": "1", "L": "1"}
)


def custom_alphabet(symbols: str, *, allow_lookalikes: bool = False) -> Alphabet:
    """Build an alphabet from ``symbols`` (upper-cased: custom alphabets ignore case).

    Raises :class:`CodeFormatError` for fewer than 10 or more than 256 symbols, a repeated
    symbol, whitespace, a separator (``-``, ``.``, ``_``), anything but printable ASCII, or
    two symbols from one look-alike group (0/O, 1/I/L, 5/S, 2/Z, 8/B, U/V) unless
    ``allow_lookalikes``.
    """
    upper = symbols.upper()
    if not allow_lookalikes:
        for group in _LOOKALIKES:
            present = [c for c in group if c in upper]
            if len(present) > 1:
                raise CodeFormatError(
                    f"symbols {'/'.join(present)} look alike; drop all but one "
                    "or pass allow_lookalikes"
                )
    return Alphabet("custom", upper)


def alphabet_from(name: str, symbols: str | None = None) -> Alphabet:
    """Rebuild a stored alphabet: ``"digits"``, ``"crockford"`` or ``"custom"`` with its symbols.

    A stored custom alphabet was checked for look-alikes when it was created (and may have
    been accepted with ``allow_lookalikes``), so only its structure is checked again.
    Raises :class:`CodeFormatError` for an unknown name, or symbols that do not fit it.
    """
    for known in (DIGITS, CROCKFORD):
        if name == known.name:
            if symbols is not None and symbols != known.symbols:
                raise CodeFormatError(f"the {name} alphabet has other symbols than {symbols!r}")
            return known
    if name == "custom":
        if symbols is None:
            raise CodeFormatError("a custom alphabet needs its symbols")
        return custom_alphabet(symbols, allow_lookalikes=True)
    raise CodeFormatError(f"unknown alphabet {name!r}")


# --- Check characters --------------------------------------------------------------------
#
# A checker computes the check value of a payload (prefix + secret symbol values) one code
# at a time, and for a whole batch at once from columns: column j holds byte j of every
# code. Batch arithmetic runs on big integers whose bytes are independent lanes: lanes are
# added (or XOR-ed) together while no lane can pass 255, and reduced with bytes.translate.


def _lanes(column: bytes) -> int:
    return int.from_bytes(column, "little")


def _column(lanes: int, count: int) -> bytes:
    return lanes.to_bytes(count, "little")


def _table(function: Callable[[int], int]) -> bytes:
    return bytes(function(b) for b in range(256))


class _LuhnModN:
    """Luhn mod N: from the right, every second payload value is doubled and its two
    base-N digits summed; the check value makes the total a multiple of N. It detects every
    single substitution (N even) and every adjacent transposition except of the first and
    last symbol (0 and N-1), as plain Luhn misses 09/90."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.doubled = [(2 * v) // n + (2 * v) % n for v in range(n)]
        self._single_t = _table(lambda b: b if b < n else 0)
        self._double_t = _table(lambda b: self.doubled[b] if b < n else 0)
        self._mod_t = _table(lambda b: b % n)
        self._check_t = _table(lambda b: -b % n)

    def check_value(self, payload: Sequence[int]) -> int:
        total = 0
        for distance, value in enumerate(reversed(payload)):
            total += self.doubled[value] if distance % 2 == 0 else value
        return -total % self.n

    def batch(self, columns: Sequence[bytes], count: int) -> bytes:
        top = self.n - 1
        acc, bound = 0, 0  # bound: the largest value any lane of acc may hold
        for j, column in enumerate(columns):
            doubled = (len(columns) - 1 - j) % 2 == 0
            if bound + top > 255:
                acc, bound = _lanes(_column(acc, count).translate(self._mod_t)), top
            acc += _lanes(column.translate(self._double_t if doubled else self._single_t))
            bound += top
        return _column(acc, count).translate(self._check_t)


# The order-10 totally anti-symmetric quasigroup from H. M. Damm's thesis (2004).
_DAMM_10 = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Irreducible polynomials for GF(2^k), k = 2..8.
_GF_POLY = {2: 0b111, 3: 0b1011, 4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10000011, 8: 0x11B}


def _gf_mul(x: int, y: int, k: int) -> int:
    product = 0
    while y:
        if y & 1:
            product ^= x
        y >>= 1
        x <<= 1
        if x >> k:
            x ^= _GF_POLY[k]
    return product


def damm_order_supported(n: int) -> bool:
    """Whether :attr:`CheckMethod.DAMM` is available for an alphabet of ``n`` symbols:
    10, any odd number, and any multiple of 4 (not 14, 18, 22, ... )."""
    return n == 10 or n % 2 == 1 or n % 4 == 0


def damm_table(n: int) -> tuple[tuple[int, ...], ...]:
    """The quasigroup behind :attr:`CheckMethod.DAMM` for ``n`` symbols, as a table:
    ``table[interim][value]`` is the next interim value. Raises :class:`CodeFormatError`
    when :func:`damm_order_supported` says no."""
    if not 10 <= n <= 256 or not damm_order_supported(n):
        raise CodeFormatError(f"no Damm quasigroup here for {n} symbols; use luhn_mod_n")
    return _Damm.cached(n).table


class _Damm:
    """Damm's algorithm over a weakly totally anti-symmetric quasigroup of order n: the
    interim value runs through the table, the check value brings it to 0. It detects every
    single substitution and every adjacent transposition.

    Order 10 uses Damm's table. Otherwise n = 2^k * m (m odd, k = 0 or k >= 2) and a value
    v is the pair (u, w) = (v // m, v % m) with (u1, w1) * (u2, w2) = (2*u1 ^ u2, 2*w1 + w2)
    in GF(2^k) x Z_m: if (c*x)*y = (c*y)*x then (2+1)(x-y) = 0 in each part, so x = y.
    Being linear, it lets large batches be computed lane-wise.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.k = (n & -n).bit_length() - 1
        self.m = n >> self.k
        self.table: tuple[tuple[int, ...], ...]
        if n == 10:
            self.table = _DAMM_10
        else:
            self.table = tuple(tuple(self._op(x, y) for y in range(n)) for x in range(n))
        self.solve = [row.index(0) for row in self.table]
        self._solve_t = _table(lambda b: self.solve[b] if b < n else 0)
        self._times_n = _table(lambda b: b * n if b * n < 256 else 0)
        self._step_t = _table(lambda b: self.table[b // n][b % n] if b < n * n else 0)
        self._times_m = _table(lambda b: b * self.m % 256)
        self._mod_m = _table(lambda b: b % self.m)
        self._u_tables: dict[int, bytes] = {}
        self._w_tables: dict[int, bytes] = {}

    @staticmethod
    @functools.cache
    def cached(n: int) -> _Damm:
        return _Damm(n)

    def _op(self, x: int, y: int) -> int:
        m = self.m
        u = _gf_mul(2, x // m, self.k) ^ (y // m) if self.k else 0
        return u * m + (2 * (x % m) + y % m) % m

    def check_value(self, payload: Sequence[int]) -> int:
        interim = 0
        for value in payload:
            interim = self.table[interim][value]
        return self.solve[interim]

    def batch(self, columns: Sequence[bytes], count: int) -> bytes:
        if self.n * self.n <= 256:
            # Small orders: pack (interim, value) into one byte and step the table.
            interim = bytes(count)
            for column in columns:
                key = _lanes(interim.translate(self._times_n)) + _lanes(column)
                interim = _column(key, count).translate(self._step_t)
            return interim.translate(self._solve_t)
        return self._linear_batch(columns, count)

    def _linear_batch(self, columns: Sequence[bytes], count: int) -> bytes:
        # After P values the interim is (XOR of 2^d * u, sum of 2^d * w) over the values,
        # d being a value's distance from the end: one translate per column and part.
        k, m = self.k, self.m
        u_acc, w_acc, bound = 0, 0, 0
        for distance, column in enumerate(reversed(columns)):
            if k:
                u_acc ^= _lanes(column.translate(self._weighted_u(distance)))
            if m > 1:
                if bound + m - 1 > 255:
                    w_acc, bound = _lanes(_column(w_acc, count).translate(self._mod_m)), m - 1
                w_acc += _lanes(column.translate(self._weighted_w(distance)))
                bound += m - 1
        interim = _lanes(_column(u_acc, count).translate(self._times_m))
        interim += _lanes(_column(w_acc, count).translate(self._mod_m))
        return _column(interim, count).translate(self._solve_t)

    def _weighted_u(self, distance: int) -> bytes:
        if distance not in self._u_tables:
            k, m, scale = self.k, self.m, 1
            for _ in range(distance):
                scale = _gf_mul(scale, 2, k)
            self._u_tables[distance] = _table(lambda b: _gf_mul(scale, b // m % (1 << k), k))
        return self._u_tables[distance]

    def _weighted_w(self, distance: int) -> bytes:
        if distance not in self._w_tables:
            m = self.m
            scale = pow(2, distance, m)
            self._w_tables[distance] = _table(lambda b: scale * (b % m) % m)
        return self._w_tables[distance]


@functools.cache
def _checker(n: int, method: CheckMethod) -> _LuhnModN | _Damm:
    return _Damm.cached(n) if method is CheckMethod.DAMM else _LuhnModN(n)


def _percent(probability: float) -> str:
    if probability == 0 or probability >= 0.0005:
        return f"{probability:.1%}"
    return f"{probability * 100:.1e}%"


@dataclass(frozen=True)
class CodeFormat:
    """What a type's secret codes look like, and everything that can be done with one.

    ``length`` counts secret characters only (4 to 64); ``prefix`` is non-secret, counts for
    no entropy, is normalised like input and holds at most 12 alphabet symbols;
    ``group_size`` (0 to 16, 0 for none) groups the display form; ``check`` defaults to
    ``LUHN`` for the ten digits, ``LUHN_MOD_N`` for other even-sized alphabets and ``DAMM``
    for odd-sized ones, and holds the resolved method afterwards. Raises
    :class:`CodeFormatError` for an invalid combination (``LUHN`` needs the digits 0-9 in
    order, ``LUHN_MOD_N`` an even alphabet size, ``DAMM`` a size of 10, an odd number or a
    multiple of 4), and :class:`WeakCodeFormatError` for a code space under 2**64 unless
    ``allow_weak``.
    """

    alphabet: Alphabet = CROCKFORD
    length: int = 16
    prefix: str = ""
    group_size: int = 4
    check: CheckMethod | None = None
    allow_weak: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.alphabet, Alphabet):
            raise CodeFormatError(f"{self.alphabet!r} is not an alphabet")
        if isinstance(self.length, bool) or not isinstance(self.length, int):
            raise CodeFormatError("a code length is a whole number")
        if not 4 <= self.length <= 64:
            raise CodeFormatError(f"a code has 4 to 64 secret characters, not {self.length}")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int):
            raise CodeFormatError("a group size is a whole number")
        if not 0 <= self.group_size <= 16:
            raise CodeFormatError(f"a display group has 0 to 16 characters, not {self.group_size}")
        if not isinstance(self.prefix, str):
            raise CodeFormatError("a prefix is text")
        prefix = self.alphabet.normalize(self.prefix)
        if len(prefix) > MAX_PREFIX:
            raise CodeFormatError(f"a prefix has at most {MAX_PREFIX} characters")
        if self.alphabet.values(prefix) is None:
            raise CodeFormatError(f"prefix {self.prefix!r} uses symbols outside the alphabet")
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "check", self._resolve_check())
        if self.space < 2**ENTROPY_FLOOR_BITS and not self.allow_weak:
            raise WeakCodeFormatError(self._weakness())

    def _resolve_check(self) -> CheckMethod:
        size, digits = self.alphabet.size, self.alphabet.symbols == DIGITS.symbols
        if self.check is None:
            if digits:
                return CheckMethod.LUHN
            return CheckMethod.LUHN_MOD_N if size % 2 == 0 else CheckMethod.DAMM
        try:
            method = CheckMethod(self.check)
        except ValueError:
            raise CodeFormatError(f"unknown check method {self.check!r}") from None
        if method is CheckMethod.LUHN and not digits:
            raise CodeFormatError("Luhn check characters need the digits 0-9; use luhn_mod_n")
        if method is CheckMethod.LUHN_MOD_N and size % 2:
            raise CodeFormatError(
                f"Luhn mod N misses substitutions with {size} (an odd number of) symbols; use damm"
            )
        if method is CheckMethod.DAMM and not damm_order_supported(size):
            raise CodeFormatError(f"no Damm quasigroup here for {size} symbols; use luhn_mod_n")
        return method

    def _describe(self) -> str:
        if self.alphabet.symbols == DIGITS.symbols:
            return f"{self.length} digits"
        if self.alphabet == CROCKFORD:
            return f"{self.length} Crockford base32 characters"
        return f"{self.length} characters of a {self.alphabet.size}-symbol alphabet"

    def _weakness(self) -> str:
        live = self.space // 100 or 1
        return (
            f"{self._describe()} give {self.entropy_bits:.1f} bits of entropy, under the "
            f"{ENTROPY_FLOOR_BITS}-bit floor: if 1% of the {self.space:,} possible codes are "
            f"live, 1,000,000 guesses hit one with probability "
            f"{_percent(self.risk(live, 1_000_000))}; pass allow_weak to accept"
        )

    @property
    def method(self) -> CheckMethod:
        """The resolved check method (``check`` typed without ``None``)."""
        if self.check is None:  # only while __post_init__ is resolving it
            raise CodeFormatError("the check method is not resolved yet")
        return self.check

    @property
    def entropy_bits(self) -> float:
        """Bits of entropy of the secret part: length x log2(alphabet size)."""
        return self.length * math.log2(self.alphabet.size)

    @property
    def space(self) -> int:
        """How many distinct codes the format can write: alphabet size ** length."""
        return int(self.alphabet.size**self.length)

    @property
    def total_length(self) -> int:
        """Characters in a canonical code: prefix, secret and check character."""
        return len(self.prefix) + self.length + (self.method is not CheckMethod.NONE)

    def risk(self, live_codes: int, guesses: int) -> float:
        """The chance that ``guesses`` random guesses hit at least one of ``live_codes``
        live codes: P = 1 - e^(-R*N/S), computed with ``expm1`` so tiny risks keep their
        precision. Raises :class:`CodeFormatError` for a negative count."""
        if live_codes < 0 or guesses < 0:
            raise CodeFormatError("live codes and guesses are counts, never negative")
        return -math.expm1(-(guesses * live_codes) / self.space)

    def normalize(self, typed: str) -> str:
        """Upper-case ``typed``, drop whitespace, dashes, dots and underscores, and map the
        alphabet's look-alikes (Crockford: O to 0, I and L to 1). Never raises."""
        return self.alphabet.normalize(typed)

    def parse(self, typed: str) -> str:
        """Return the canonical code for ``typed`` input, checking it without storage.

        Raises :class:`MalformedCodeError` with ``reason`` ``"alphabet"`` (a character
        outside the alphabet), ``"length"``, ``"prefix"`` (the prefix is missing or wrong)
        or ``"check"`` (the check character does not match: a typo, not a guess). Messages
        never repeat the typed code.
        """
        total = self.total_length
        if len(typed) > 4 * total + 32:  # refuse megabytes before normalising them
            raise MalformedCodeError(f"a code has {total} characters", reason="length")
        code = self.normalize(typed)
        values = self.alphabet.values(code)
        if values is None:
            raise MalformedCodeError(
                f"a code is written only in the {self.alphabet.size} symbols "
                f"{self.alphabet.symbols}",
                reason="alphabet",
            )
        if len(code) != total:
            raise MalformedCodeError(
                f"a code has {total} characters, not {len(code)}", reason="length"
            )
        if not code.startswith(self.prefix):
            raise MalformedCodeError(f"these codes start with {self.prefix}", reason="prefix")
        if self.method is not CheckMethod.NONE:
            checker = _checker(self.alphabet.size, self.method)
            if checker.check_value(values[:-1]) != values[-1]:
                raise MalformedCodeError(
                    "the check character does not match: probably a typo", reason="check"
                )
        return code

    def is_well_formed(self, typed: str) -> bool:
        """Whether :meth:`parse` accepts ``typed``."""
        try:
            self.parse(typed)
        except MalformedCodeError:
            return False
        return True

    def check_character(self, payload: str) -> str:
        """The check character for ``payload`` (prefix + secret, canonical), or ``""`` with
        ``CheckMethod.NONE``. Raises :class:`MalformedCodeError` for a foreign symbol."""
        values = self.alphabet.values(payload)
        if values is None:
            raise MalformedCodeError(
                "the payload uses symbols outside the alphabet", reason="alphabet"
            )
        if self.method is CheckMethod.NONE:
            return ""
        return self.alphabet.symbols[_checker(self.alphabet.size, self.method).check_value(values)]

    def generate(self, count: int, randbytes: Callable[[int], bytes] = os.urandom) -> list[str]:
        """Return ``count`` distinct canonical codes (prefix + secret + check character).

        Repeats are removed and redrawn whenever the chance of one in the batch exceeds
        2**-32 (the birthday bound count²/2S); below that, as for the default format up to
        some 20 million codes, the batch is not searched for a needle that is not there and
        storage's unique index is the guard, as it must be anyway against stored codes.

        Secret symbols are uniform: bytes map onto the alphabet directly when its size
        divides 256, otherwise bytes past the largest multiple of the size are dropped and
        drawn again (rejection sampling). All randomness comes from ``randbytes`` (the
        operating system's CSPRNG by default), so a fixed source gives fixed codes.
        Raises :class:`CodeSpaceExhaustedError` when ``count`` exceeds the code space, or
        when the random source keeps repeating itself; :class:`CodeFormatError` for a
        negative count.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise CodeFormatError(f"a code count is a whole number, not {count!r}")
        if count > self.space:
            raise CodeSpaceExhaustedError(
                f"{self._describe()} allow only {self.space:,} distinct codes, not {count:,}"
            )
        if count * (count - 1) << 31 < self.space:
            drawn: list[str] = []
            for start in range(0, count, _CHUNK):
                drawn += self._draw(min(_CHUNK, count - start), randbytes)
            return drawn
        codes: dict[str, None] = {}
        stale_rounds = 0
        while len(codes) < count:
            missing, free = count - len(codes), self.space - len(codes)
            # Near a full space most draws repeat: ask for enough to expect the missing ones.
            wanted = missing if not codes else -(-missing * self.space // free) + 8
            before = len(codes)
            codes.update(dict.fromkeys(self._draw(min(wanted, _CHUNK), randbytes)))
            stale_rounds = stale_rounds + 1 if len(codes) == before else 0
            if stale_rounds > 64:
                raise CodeSpaceExhaustedError("the random source keeps repeating the same codes")
        if len(codes) > count:
            return list(islice(codes, count))
        return list(codes)

    def _draw(self, count: int, randbytes: Callable[[int], bytes]) -> list[str]:
        """``count`` codes, not necessarily distinct, built column by column."""
        alphabet, length = self.alphabet, self.length
        values = self._random_values(count * length, randbytes)
        secret = [values[j::length] for j in range(length)]
        prefix = [bytes([value]) * count for value in alphabet.values(self.prefix) or ()]
        ascii_table = _tables(alphabet).ascii_table
        width = self.total_length + 1  # one newline per code, to split on
        buffer = bytearray(b"\n") * (count * width)
        for j, column in enumerate(prefix + secret):
            buffer[j::width] = column.translate(ascii_table)
        if self.method is not CheckMethod.NONE:
            checks = _checker(alphabet.size, self.method).batch(prefix + secret, count)
            buffer[width - 2 :: width] = checks.translate(ascii_table)
        return buffer.decode("ascii").split()

    def _random_values(self, n: int, randbytes: Callable[[int], bytes]) -> bytes:
        """``n`` independent uniform symbol values (0 to size - 1), one per byte."""
        tables = _tables(self.alphabet)
        table, rejected = tables.value_table, tables.rejected
        if not rejected:
            return randbytes(n).translate(table)
        values = bytearray()
        accepted = 256 - len(rejected)
        while len(values) < n:
            need = n - len(values)
            drawn = randbytes(need * 256 // accepted + 64)
            if not drawn:
                raise CodeSpaceExhaustedError("the random source returned no bytes")
            values += drawn.translate(table, rejected)
        del values[n:]
        return bytes(values)

    def display(self, code: str) -> str:
        """``code`` (normalised) in groups of ``group_size`` from the left, joined with ``-``;
        a last group shorter than half a group joins the one before it, so the default
        17-character code reads ``XXXX-XXXX-XXXX-XXXXX``. Never raises."""
        return self._group(self.normalize(code))

    def group(self, canonical: str) -> str:
        """A code already in canonical form (as stored, as revealed) in display groups;
        :meth:`display` without normalising first. Never raises."""
        return self._group(canonical)

    def _group(self, text: str) -> str:
        size = self.group_size
        if size == 0 or len(text) <= size:
            return text
        groups = [text[i : i + size] for i in range(0, len(text), size)]
        if 2 * len(groups[-1]) < size:
            groups[-2:] = [groups[-2] + groups[-1]]
        return "-".join(groups)

    @property
    def mask_tail(self) -> int:
        """How many trailing characters a masked code shows: 4, or half of a shorter code."""
        return min(MASK_TAIL, self.total_length // 2)

    def mask(self, code_or_tail: str) -> str:
        """The display form with every character but the last few (:attr:`mask_tail`, 4 for
        any code of 8 characters or more) replaced by ``•``; a stored tail is enough.
        Raises :class:`MalformedCodeError` (reason ``length``) for input shorter than the
        tail or longer than a code."""
        text = self.normalize(code_or_tail)
        tail = self.mask_tail
        if not tail <= len(text) <= self.total_length:
            raise MalformedCodeError(
                f"masking needs the last {tail} characters of a code", reason="length"
            )
        return self._group(MASK_SYMBOL * (self.total_length - tail) + text[-tail:])
