"""What an export records: the voucher numbers it wrote, collapsed into ranges of
consecutive numbers, page by page."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.domain.exports import NumberRanges, number_ranges

numbers_in_order = st.sets(st.integers(min_value=1, max_value=400), max_size=200).map(sorted)


def expand(ranges: list[tuple[int, int]]) -> list[int]:
    return [n for first, last in ranges for n in range(first, last + 1)]


@given(numbers=numbers_in_order, cuts=st.lists(st.integers(min_value=0, max_value=200)))
def test_ranges_hold_exactly_the_numbers_and_every_gap_splits_them(
    numbers: list[int], cuts: list[int]
) -> None:
    # Given the numbers in pages cut anywhere
    bounds = sorted({0, len(numbers), *(min(cut, len(numbers)) for cut in cuts)})
    collected = NumberRanges()
    for start, end in itertools.pairwise(bounds):
        collected.add(numbers[start:end])
    ranges = collected.ranges
    # Then the ranges cover exactly those numbers, one range per run of consecutive ones
    assert expand(ranges) == numbers
    assert collected.count == len(numbers)
    assert all(first <= last for first, last in ranges)
    assert all(nxt[0] > prev[1] + 1 for prev, nxt in itertools.pairwise(ranges))
    # … whatever the pages
    assert ranges == number_ranges(numbers)


def test_a_gapless_lot_is_one_range_and_each_voucher_left_out_splits_it() -> None:
    assert number_ranges(range(1001, 2001)) == [(1001, 2000)]
    assert number_ranges([1, 2, 4, 5, 6, 9]) == [(1, 2), (4, 6), (9, 9)]
    assert number_ranges([]) == []


def test_pages_continue_a_range_across_their_boundary() -> None:
    collected = NumberRanges()
    collected.add([1, 2, 3])
    collected.add([4, 5])
    collected.add([7])
    assert collected.ranges == [(1, 5), (7, 7)]


@pytest.mark.parametrize("pages", [[[1, 3, 2]], [[1, 1]], [[5, 6], [6, 7]], [[5, 6], [2]]])
def test_numbers_out_of_order_are_refused(pages: list[list[int]]) -> None:
    collected = NumberRanges()
    for page in pages[:-1]:
        collected.add(page)
    with pytest.raises(ValueError, match="does not follow"):
        collected.add(pages[-1])
