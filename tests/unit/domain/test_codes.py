"""The secret code engine: formats, strength, normalisation, check characters, generation."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vouchers.domain import codes as codes_module
from vouchers.domain.codes import (
    CROCKFORD,
    DIGITS,
    Alphabet,
    CheckMethod,
    CodeFormat,
    alphabet_from,
    custom_alphabet,
    damm_order_supported,
    damm_table,
)
from vouchers.errors import (
    CodeFormatError,
    CodeSpaceExhaustedError,
    MalformedCodeError,
    WeakCodeFormatError,
)

# Custom alphabets of the sizes the check algorithms treat differently: 11 and 23 (odd),
# 12 and 16 (small enough to pack a Damm step in a byte), 20 and 36 (2^2 x odd), 64 (2^6).
ALPHA_11 = custom_alphabet("ACDEFGHJKMN")
ALPHA_12 = custom_alphabet("ACDEFGHJKMNP")
ALPHA_16 = custom_alphabet("ACDEFGHJKMNPQRTW")
ALPHA_20 = custom_alphabet("ACDEFGHJKMNPQRTWXY34")
ALPHA_23 = custom_alphabet("acdefghjkmnpqrtwxy34679")
ALPHA_36 = custom_alphabet("ACDEFGHJKMNPQRTVWXY0123456789#$%&*+=")
ALPHA_64 = custom_alphabet(
    "".join(c for c in map(chr, range(33, 127)) if not c.islower() and c not in "-._`"),
    allow_lookalikes=True,
)


def seeded(seed: int = 1) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def strong(alphabet: Alphabet, check: CheckMethod | None = None, **kwargs: object) -> CodeFormat:
    length = math.ceil(64 / math.log2(alphabet.size))
    return CodeFormat(alphabet, length, check=check, **kwargs)  # type: ignore[arg-type]


FORMATS = {
    "digits-luhn": CodeFormat(DIGITS, 20),
    "digits-luhn_mod_n": CodeFormat(DIGITS, 20, check=CheckMethod.LUHN_MOD_N),
    "digits-damm": CodeFormat(DIGITS, 20, check=CheckMethod.DAMM),
    "crockford-luhn_mod_n": CodeFormat(),
    "crockford-damm": CodeFormat(check=CheckMethod.DAMM),
    "crockford-prefixed": CodeFormat(prefix="VO", group_size=5),
    "crockford-prefixed-damm": CodeFormat(prefix="K7", check=CheckMethod.DAMM),
    "custom11-damm": strong(ALPHA_11),
    "custom12-luhn_mod_n": strong(ALPHA_12),
    "custom12-damm": strong(ALPHA_12, CheckMethod.DAMM),
    "custom16-luhn_mod_n": strong(ALPHA_16, prefix="AC"),
    "custom16-damm": strong(ALPHA_16, CheckMethod.DAMM),
    "custom20-luhn_mod_n": strong(ALPHA_20),
    "custom20-damm": strong(ALPHA_20, CheckMethod.DAMM),
    "custom23-damm": strong(ALPHA_23),
    "custom36-luhn_mod_n": strong(ALPHA_36),
    "custom36-damm": strong(ALPHA_36, CheckMethod.DAMM, prefix="#1"),
    "custom64-luhn_mod_n": strong(ALPHA_64),
    "custom64-damm": strong(ALPHA_64, CheckMethod.DAMM),
}
checked_formats = pytest.mark.parametrize("fmt", FORMATS.values(), ids=FORMATS.keys())


def reason(fmt: CodeFormat, typed: str) -> str:
    with pytest.raises(MalformedCodeError) as caught:
        fmt.parse(typed)
    return caught.value.reason


def luhn_blind_spot(fmt: CodeFormat, a: str, b: str) -> bool:
    """Luhn mod N cannot see the first and last symbols (0 and 9 for digits) swapped."""
    ends = {fmt.alphabet.symbols[0], fmt.alphabet.symbols[-1]}
    return fmt.method in (CheckMethod.LUHN, CheckMethod.LUHN_MOD_N) and {a, b} == ends


# --- Check characters --------------------------------------------------------------------


@checked_formats
def test_every_generated_code_is_well_formed_and_carries_its_check_character(
    fmt: CodeFormat,
) -> None:
    for code in fmt.generate(2000, seeded()):
        assert len(code) == fmt.total_length
        assert code.startswith(fmt.prefix)
        assert fmt.parse(code) == code
        assert fmt.check_character(code[:-1]) == code[-1]


@checked_formats
def test_a_code_with_one_wrong_character_is_a_typo(fmt: CodeFormat) -> None:
    for code in fmt.generate(6, seeded(2)):
        for i, typed in enumerate(code):
            for symbol in fmt.alphabet.symbols.replace(typed, ""):
                wrong = code[:i] + symbol + code[i + 1 :]
                expected = "prefix" if i < len(fmt.prefix) else "check"
                assert reason(fmt, wrong) == expected


@checked_formats
def test_a_code_with_two_neighbours_swapped_is_a_typo_except_luhn_s_blind_spot(
    fmt: CodeFormat,
) -> None:
    for code in fmt.generate(300, seeded(3)):
        for i in range(len(code) - 1):
            a, b = code[i], code[i + 1]
            if a == b:
                continue
            swapped = code[:i] + b + a + code[i + 2 :]
            in_secret = i >= len(fmt.prefix)
            assert fmt.is_well_formed(swapped) == (in_secret and luhn_blind_spot(fmt, a, b))


@checked_formats
def test_every_pair_of_symbols_swapped_is_caught_at_either_parity(fmt: CodeFormat) -> None:
    symbols = fmt.alphabet.symbols
    filler = fmt.generate(1, seeded(4))[0][len(fmt.prefix) : -1]
    for start in (0, 1, fmt.length - 2):
        for a in symbols:
            for b in symbols.replace(a, ""):
                secret = filler[:start] + a + b + filler[start + 2 :]
                code = fmt.prefix + secret + fmt.check_character(fmt.prefix + secret)
                swapped = fmt.prefix + secret[:start] + b + a + secret[start + 2 :] + code[-1]
                assert fmt.is_well_formed(code)
                assert fmt.is_well_formed(swapped) == luhn_blind_spot(fmt, a, b)


def test_luhn_and_damm_agree_with_their_published_examples() -> None:
    assert CodeFormat(DIGITS, 20).check_character("7992739871") == "3"
    assert CodeFormat(DIGITS, 20, check=CheckMethod.LUHN_MOD_N).check_character("7992739871") == "3"
    assert CodeFormat(DIGITS, 20, check=CheckMethod.DAMM).check_character("572") == "4"


def test_without_a_check_method_there_is_no_check_character() -> None:
    fmt = CodeFormat(check=CheckMethod.NONE)
    assert fmt.check_character("ABC") == ""
    assert fmt.total_length == 16
    assert all(fmt.is_well_formed(code) for code in fmt.generate(100, seeded()))


@pytest.mark.parametrize("n", [10, 11, 12, 13, 15, 16, 20, 23, 28, 32, 33, 36, 64, 65])
def test_every_damm_quasigroup_is_weakly_totally_anti_symmetric(n: int) -> None:
    table = damm_table(n)
    everything = set(range(n))
    assert all(set(row) == everything for row in table)
    assert all({row[y] for row in table} == everything for y in range(n))
    for c in range(n):
        row = table[c]
        for x in range(n):
            after_x = table[row[x]]
            for y in range(n):
                if x != y:
                    assert after_x[y] != table[row[y]][x], (c, x, y)


def test_damm_is_available_for_10_odd_and_multiples_of_4_only() -> None:
    assert [n for n in range(10, 40) if not damm_order_supported(n)] == [14, 18, 22, 26, 30, 34, 38]
    with pytest.raises(CodeFormatError):
        damm_table(14)
    with pytest.raises(CodeFormatError, match="Damm"):
        CodeFormat(custom_alphabet("ACDEFGHJKMNPQR"), 20, check=CheckMethod.DAMM)


# --- Formats and strength ----------------------------------------------------------------


def test_the_default_format_is_16_crockford_characters_and_a_luhn_mod_n_check() -> None:
    fmt = CodeFormat()
    assert fmt.alphabet is CROCKFORD
    assert fmt.check is CheckMethod.LUHN_MOD_N
    assert fmt.entropy_bits == 80
    assert fmt.space == 2**80
    assert fmt.total_length == 17


@pytest.mark.parametrize(
    ("alphabet", "expected"),
    [
        (DIGITS, CheckMethod.LUHN),
        (custom_alphabet("0123456789"), CheckMethod.LUHN),
        (CROCKFORD, CheckMethod.LUHN_MOD_N),
        (ALPHA_20, CheckMethod.LUHN_MOD_N),
        (ALPHA_23, CheckMethod.DAMM),  # Luhn mod N misses substitutions with an odd size
    ],
)
def test_the_check_method_defaults_by_alphabet(alphabet: Alphabet, expected: CheckMethod) -> None:
    assert strong(alphabet).check is expected


def test_a_check_method_may_be_given_by_its_stored_name() -> None:
    assert CodeFormat(check="damm").check is CheckMethod.DAMM  # type: ignore[arg-type]
    with pytest.raises(CodeFormatError):
        CodeFormat(check="crc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"check": CheckMethod.LUHN},
        {"alphabet": custom_alphabet("9876543210"), "length": 20, "check": CheckMethod.LUHN},
        {"alphabet": ALPHA_23, "length": 16, "check": CheckMethod.LUHN_MOD_N},
        {"length": 3, "allow_weak": True},
        {"length": 65},
        {"length": True},
        {"group_size": -1},
        {"group_size": 17},
        {"prefix": "ABCDEFGHJKMNP"},
        {"prefix": "VOUCHER"},  # U is not a Crockford symbol
        {"alphabet": DIGITS, "length": 20, "prefix": "AB"},
    ],
)
def test_invalid_formats_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(CodeFormatError):
        CodeFormat(**kwargs)  # type: ignore[arg-type]


def test_a_prefix_is_normalised_like_typed_input_and_counts_for_no_entropy() -> None:
    fmt = CodeFormat(prefix="vo-ip")
    assert fmt.prefix == "V01P"
    assert fmt.entropy_bits == 80
    assert fmt.total_length == 21


def test_a_lot_may_replace_the_prefix_of_its_type_s_format() -> None:
    fmt = dataclasses.replace(CodeFormat(check=CheckMethod.DAMM), prefix="ab")
    assert fmt.prefix == "AB"
    assert fmt.check is CheckMethod.DAMM
    assert fmt == CodeFormat(prefix="AB", check=CheckMethod.DAMM)
    assert hash(fmt) == hash(CodeFormat(prefix="AB", check=CheckMethod.DAMM))


def test_the_crm_seven_digit_example_is_refused_as_weak_with_the_risk_stated() -> None:
    with pytest.raises(WeakCodeFormatError) as caught:
        CodeFormat(DIGITS, 7)
    message = caught.value.message
    assert message.startswith("7 digits give 23.3 bits of entropy")
    assert "1,000,000 guesses" in message
    assert "1% of the 10,000,000 possible codes" in message
    assert "100.0%" in message
    assert "allow_weak" in message


def test_a_weak_format_is_allowed_when_asked_for() -> None:
    fmt = CodeFormat(DIGITS, 7, allow_weak=True)
    assert fmt.entropy_bits == pytest.approx(23.2535, abs=1e-4)
    assert fmt.space == 10_000_000
    assert fmt.total_length == 8


@pytest.mark.parametrize(
    ("alphabet", "length", "weak"),
    [(CROCKFORD, 12, True), (CROCKFORD, 13, False), (DIGITS, 19, True), (DIGITS, 20, False)],
)
def test_the_entropy_floor_is_64_bits(alphabet: Alphabet, length: int, weak: bool) -> None:
    if weak:
        with pytest.raises(WeakCodeFormatError):
            CodeFormat(alphabet, length)
    else:
        assert CodeFormat(alphabet, length).entropy_bits >= 64
    assert CodeFormat(ALPHA_16, 16).space == 2**64  # exactly on the floor is enough


def test_the_guessing_risk_matches_a_hand_computed_value() -> None:
    # 1,000 guesses at 1,000 live 7-digit codes: 1 - e^(-1000 * 1000 / 10^7) = 1 - e^-0.1.
    weak = CodeFormat(DIGITS, 7, allow_weak=True)
    assert weak.risk(1000, 1000) == pytest.approx(0.09516258196404048, rel=1e-12)
    # A million guesses at a million default codes: R*N/S = 10^12 / 2^80 = 8.2718e-13.
    assert CodeFormat().risk(10**6, 10**6) == pytest.approx(8.271806125530277e-13, rel=1e-9)
    assert CodeFormat().risk(0, 10**9) == 0
    with pytest.raises(CodeFormatError):
        weak.risk(-1, 10)


# --- Alphabets ---------------------------------------------------------------------------


def test_a_custom_alphabet_is_upper_cased() -> None:
    assert ALPHA_23.symbols == "ACDEFGHJKMNPQRTWXY34679"
    assert ALPHA_23.name == "custom"
    assert dict(ALPHA_23.aliases) == {}


@pytest.mark.parametrize(
    ("symbols", "complaint"),
    [
        ("ACDEFGHJK", "10 to 256"),
        ("ACDEFGHJKA", "repeat"),
        ("ACDEFGHJKa", "repeat"),
        ("ACDEFG HJKM", "printable"),
        ("ACDEFG\tHJKM", "printable"),
        ("ACDEFG-HJKM", "separator"),
        ("ACDEFG.HJKM", "separator"),
        ("ACDEFG_HJKM", "separator"),
        ("ACDEFGÄHJKM", "printable"),
        ("ACDEFG\x01HJKM", "printable"),
        ("0OACDEFGHJK", "0/O"),
        ("1ILACDEFGHJK", "1/I/L"),
        ("5SACDEFGHJK", "5/S"),
        ("2ZACDEFGHJK", "2/Z"),
        ("8BACDEFGHJK", "8/B"),
        ("UVACDEFGHJK", "U/V"),
        ("ACDEFGHJKo0", "0/O"),
    ],
)
def test_a_bad_custom_alphabet_is_refused(symbols: str, complaint: str) -> None:
    with pytest.raises(CodeFormatError, match=complaint):
        custom_alphabet(symbols)


def test_look_alikes_are_accepted_when_asked_for() -> None:
    assert custom_alphabet("0O1IACDEFGH", allow_lookalikes=True).size == 11


def test_an_alphabet_with_lower_case_symbols_is_refused() -> None:
    with pytest.raises(CodeFormatError, match="upper case"):
        Alphabet("lower", "abcdefghjk")


def test_alphabets_are_rebuilt_from_storage() -> None:
    assert alphabet_from("digits") is DIGITS
    assert alphabet_from("crockford", CROCKFORD.symbols) is CROCKFORD
    assert alphabet_from("custom", ALPHA_23.symbols) == ALPHA_23
    assert alphabet_from("custom", "0O1IACDEFGH").size == 11  # accepted once, kept
    for name, symbols in [("custom", None), ("base64", None), ("digits", "0123")]:
        with pytest.raises(CodeFormatError):
            alphabet_from(name, symbols)


# --- Normalisation and parsing -----------------------------------------------------------


def test_typed_input_is_upper_cased_and_stripped_of_separators() -> None:
    fmt = CodeFormat()
    assert fmt.normalize(" hb9w-tm5s qn1m.bcpt_2\t") == "HB9WTM5SQN1MBCPT2"
    assert fmt.normalize("HB9W\u2013TM5S\u2014QN1M\nBCPT2") == "HB9WTM5SQN1MBCPT2"
    assert fmt.normalize("ＨＢ９Ｗ") == "HB9W"  # full-width, from an East Asian keyboard


def test_crockford_look_alikes_are_read_as_the_symbol_they_resemble() -> None:
    assert CodeFormat().normalize("OoIiLl") == "001111"
    assert CodeFormat(DIGITS, 20).normalize("OoIiLl") == "001111"  # typed on a keypad card


@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_any_casing_and_separators_parse_back_to_the_canonical_code(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(list(FORMATS.values())))
    code = fmt.generate(1, seeded(data.draw(st.integers(0, 2**32))))[0]
    typed = ""
    for char in code:
        typed += data.draw(st.sampled_from([char, char.lower()]))
        typed += data.draw(st.sampled_from(["", "", "-", " ", ".", "_", "\t"]))
    assert fmt.parse(typed) == code
    assert fmt.parse(fmt.display(code)) == code


def test_a_malformed_code_says_why_without_repeating_the_code() -> None:
    fmt = CodeFormat(prefix="VP")
    code = fmt.generate(1, seeded())[0]
    assert reason(fmt, code[:-1]) == "length"
    assert reason(fmt, code + "0") == "length"
    assert reason(fmt, code[:-1] + "U") == "alphabet"
    assert reason(fmt, code[:-1] + "!") == "alphabet"
    assert reason(fmt, "XX" + code[2:]) == "prefix"
    assert reason(fmt, "x" * 10_000) == "length"
    for typed in [code[:-1], "XX" + code[2:], code[:-1] + "U"]:
        with pytest.raises(MalformedCodeError) as caught:
            fmt.parse(typed)
        assert code[2:-1] not in caught.value.message


def test_a_digit_code_refuses_letters_other_than_the_look_alikes() -> None:
    fmt = CodeFormat(DIGITS, 20)
    assert reason(fmt, "A" + fmt.generate(1, seeded())[0][1:]) == "alphabet"


# --- Display and masking -----------------------------------------------------------------


def test_the_default_code_is_shown_in_groups_of_four_with_a_five_at_the_end() -> None:
    fmt = CodeFormat()
    assert fmt.display("HB9WTM5SQN1MBCPT2") == "HB9W-TM5S-QN1M-BCPT2"
    assert fmt.display("hb9w tm5s qn1m bcpt2") == "HB9W-TM5S-QN1M-BCPT2"


@pytest.mark.parametrize(
    ("fmt", "shown"),
    [
        (CodeFormat(prefix="V"), "XXXX-XXXX-XXXX-XXXX-XX"),  # half a group stands alone
        (CodeFormat(group_size=5), "XXXXX-XXXXX-XXXXXXX"),
        (CodeFormat(group_size=0), "XXXXXXXXXXXXXXXXX"),
        (CodeFormat(DIGITS, 7, allow_weak=True), "XXXX-XXXX"),
        (CodeFormat(DIGITS, 20), "XXXX-XXXX-XXXX-XXXX-XXXXX"),
    ],
)
def test_grouping_follows_the_group_size(fmt: CodeFormat, shown: str) -> None:
    assert fmt.display("X" * fmt.total_length) == shown


def test_a_masked_code_shows_only_its_last_four_characters() -> None:
    fmt = CodeFormat()
    code = fmt.generate(1, seeded())[0]
    masked = "••••-••••-••••-•" + code[-4:]
    assert fmt.mask(code) == masked
    assert fmt.mask(code[-4:]) == masked  # all storage keeps
    assert fmt.mask(fmt.display(code).lower()) == masked
    with pytest.raises(MalformedCodeError):
        fmt.mask(code[-3:])
    with pytest.raises(MalformedCodeError):
        fmt.mask(code + "0")


def test_a_very_short_code_is_masked_to_half() -> None:
    fmt = CodeFormat(DIGITS, 4, check=CheckMethod.NONE, allow_weak=True)
    assert fmt.mask("1234") == "••34"
    assert CodeFormat(DIGITS, 7, allow_weak=True).mask("5678") == "••••-5678"


# --- Generation --------------------------------------------------------------------------


def test_generation_is_deterministic_given_the_random_source() -> None:
    fmt = CodeFormat()
    assert fmt.generate(500, seeded(9)) == fmt.generate(500, seeded(9))
    assert fmt.generate(500, seeded(9)) != fmt.generate(500, seeded(10))
    assert fmt.generate(0, seeded()) == []


def test_generation_draws_its_randomness_only_from_the_given_source() -> None:
    drawn: list[int] = []

    def counting(n: int) -> bytes:
        drawn.append(n)
        return bytes(range(256)) * (n // 256) + bytes(range(n % 256))

    codes = CodeFormat().generate(3, counting)
    assert drawn == [48]  # 3 codes x 16 characters: 32 divides 256, nothing is rejected
    assert codes[0].startswith("0123456789ABCDEF")
    assert "random" not in vars(codes_module)


def test_many_generated_codes_are_distinct_and_well_formed() -> None:
    fmt = CodeFormat()
    codes = fmt.generate(200_000, seeded(11))
    assert len(set(codes)) == 200_000
    assert all(map(fmt.is_well_formed, codes[::97]))


def chi_square(counts: Counter[str], symbols: str) -> float:
    expected = sum(counts.values()) / len(symbols)
    assert set(counts) <= set(symbols)
    return sum((counts[s] - expected) ** 2 / expected for s in symbols)


@pytest.mark.parametrize(
    ("fmt", "count"),
    [
        (CodeFormat(), 200_000),  # 32 symbols: bytes map directly
        (CodeFormat(DIGITS, 20), 50_000),  # 10 symbols: rejection sampling
        (strong(ALPHA_23), 50_000),
    ],
)
def test_generated_symbols_are_uniform(fmt: CodeFormat, count: int) -> None:
    secrets = [code[: fmt.length] for code in fmt.generate(count, seeded(12))]
    symbols = fmt.alphabet.symbols
    degrees = len(symbols) - 1
    # A chi-square statistic beyond df + 8 standard deviations has odds below 1e-9.
    bound = degrees + 8 * math.sqrt(2 * degrees)
    assert chi_square(Counter("".join(secrets)), symbols) < bound
    for position in (0, fmt.length - 1):
        assert chi_square(Counter(s[position] for s in secrets), symbols) < bound


def test_a_small_code_space_is_filled_with_distinct_codes() -> None:
    fmt = CodeFormat(DIGITS, 4, check=CheckMethod.NONE, allow_weak=True)
    codes = fmt.generate(10_000, seeded())
    assert sorted(codes) == [f"{n:04d}" for n in range(10_000)]
    with pytest.raises(CodeSpaceExhaustedError):
        fmt.generate(10_001, seeded())


def test_weak_formats_never_repeat_a_code_in_one_batch() -> None:
    fmt = CodeFormat(DIGITS, 7, allow_weak=True)
    codes = fmt.generate(100_000, seeded())
    assert len(set(codes)) == 100_000


def test_a_random_source_that_repeats_itself_is_noticed() -> None:
    fmt = CodeFormat(DIGITS, 7, allow_weak=True)
    with pytest.raises(CodeSpaceExhaustedError, match="repeating"):
        fmt.generate(10, bytes)


def test_large_batches_are_drawn_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = CodeFormat()
    whole = fmt.generate(2500, seeded())
    monkeypatch.setattr(codes_module, "_CHUNK", 1000)
    chunked = fmt.generate(2500, seeded())
    assert len(chunked) == 2500
    assert chunked[:1000] == whole[:1000]
    assert all(map(fmt.is_well_formed, chunked))


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(CodeFormatError):
        CodeFormat().generate(-1)
