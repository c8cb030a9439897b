"""Settle-up: the fewest payments that bring every balance of a group back to zero.

A plan for ``n`` members with a non-zero balance needs exactly ``n - g`` transfers, where ``g`` is
the number of parts of a partition of those members into zero-sum groups (each group of ``k``
members settles internally in ``k - 1`` payments, and can never do better when it has no zero-sum
proper subset). So the fewest transfers means the *most* zero-sum groups, and that is what
:func:`settle_plan` computes:

1. **Opposite pairs first.** A member owing exactly what another is owed settle each other in one
   payment. This is always part of some optimal plan (exchange argument: if ``a`` and ``-a`` sit
   in different groups ``G1``, ``G2`` of an optimal partition, ``{a, -a}`` and
   ``G1 ∪ G2 - {a, -a}`` are two zero-sum groups as well), and it is cheap and easy to explain to
   people, so it is done before anything clever.
2. **Exact partition** of the members left over, when there are at most :data:`EXACT_LIMIT` of
   them (every group with at most that many non-zero balances qualifies). The classic subset DP
   ``dp[S] = max_i dp[S - i] + [sum(S) == 0]`` equals the longest chain of zero-sum subsets
   ``Z1 ⊊ Z2 ⊊ ... ⊊ everyone``, so it is computed *level by level* on bitsets over all ``2^m``
   subsets: level ``t + 1`` holds the zero-sum subsets strictly containing one of level ``t``.
   Each level is ``2m`` vectorised OR-passes over ``2^m / 64`` machine words, and there are at most
   ``m / 3 + 1`` levels (no groups of two are left after step 1), usually only one: random amounts
   have no zero-sum proper subset, which is detected right after a meet-in-the-middle enumeration of
   the zero-sum subsets (``2^(m/2)`` sums per half). The partition is read back from the levels,
   always taking the smallest bitmask, so it is deterministic.
3. **Greedy** beyond that: largest debt against largest credit, settling any remainder at once when
   someone on the other side is owed or owes exactly that much. Every payment zeroes at least one
   member, so it never exceeds ``n - 1`` transfers, and it runs in ``O(n log n)``.

Inside a zero-sum group payments follow the *north-west corner* rule: debtors and creditors each in
name order, every debtor paying creditors in turn. Laid out on a line, debtor ``i`` covers an
interval ``[D(i-1), D(i))`` of the group's total and creditor ``j`` an interval ``[C(j-1), C(j))``;
the payment from ``i`` to ``j`` is the length of their overlap. Recording that payment, in full or
in part, cuts a piece out of that overlap only, so every other overlap, and hence every other
suggested payment of the group, stays the same: the rule is stable under the payments it suggests.

The partition itself can change when balances move (a payment can create a new zero-sum subset, or
another partition of the same size can come first), which is why :func:`settle_plan` takes the
plan shown last time: when the balances are exactly what that plan leaves after one of its
payments was recorded, in full or in part, and it is no longer than a fresh plan, the old plan is
kept, in its own order, with that payment removed or reduced. People see their remaining
suggestions unchanged instead of a reshuffled list.

Amounts are Python ints throughout; numpy only ever sees them as ``int64`` when the sum of all
absolute balances stays below ``2**62`` (so no subset sum can overflow) and as Python objects
otherwise. Money is never a float.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from chipin.core.errors import ChipinError, InvalidAmount

__all__ = [
    "EXACT_LIMIT",
    "InvalidTransfer",
    "Transfer",
    "UnbalancedBalances",
    "settle_plan",
]

EXACT_LIMIT: Final = 24
"""Most members left after pairing whose plan is the proven minimum (worst case well under 1 s)."""

_INT64_SAFE: Final = 2**62
_WORD_BITS: Final = 6  # a bitset word is 2**6 = 64 subsets
_CLEAR_IN_WORD: Final = tuple(
    np.uint64(pattern)
    for pattern in (
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    )
)
"""``_CLEAR_IN_WORD[i]``: the positions within a word whose subset does not contain member ``i``."""

Masks = npt.NDArray[np.int64]
Bitset = npt.NDArray[np.uint64]
Balance = tuple[str, int]


class UnbalancedBalances(ChipinError, ValueError):
    """Balances that do not sum to zero: no set of payments can settle them."""


class InvalidTransfer(ChipinError, ValueError):
    """A transfer that is not a positive payment between two different members."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """One suggested payment: ``debtor`` pays ``creditor`` ``amount`` minor units."""

    debtor: str
    creditor: str
    amount: int

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise InvalidTransfer(
                f"a transfer must be a positive whole number of minor units, got {self.amount!r}"
            )
        if self.debtor == self.creditor:
            raise InvalidTransfer(f"{self.debtor!r} cannot pay themselves")


def settle_plan(
    balances: Mapping[str, int], *, previous: Sequence[Transfer] = ()
) -> list[Transfer]:
    """Payments that settle ``balances`` (member → net minor units, positive: is owed).

    The plan has the fewest possible transfers when at most :data:`EXACT_LIMIT` members are left
    once opposite pairs are matched (so always for up to that many non-zero balances), and at most
    ``n - 1`` otherwise; every transfer goes from a member who owes to a member who is owed.
    Fresh plans are sorted by debtor then creditor and depend only on the balances, not on the
    mapping's order.

    ``previous`` is the plan shown last time. If the balances are settled exactly by it, or by it
    with one transfer removed or reduced (somebody recorded that suggested payment, fully or
    partly), and it has no more transfers than a fresh plan, that plan is returned in its own order
    so recording a payment never reshuffles the other suggestions.

    Raises :class:`UnbalancedBalances` (a ``ValueError``) when the balances do not sum to zero.
    """
    members = _nonzero_balances(balances)
    fresh = _fresh_plan(members)
    if previous:
        kept = _carry_over(members, previous)
        if kept is not None and len(kept) <= len(fresh):
            return kept
    return fresh


def _nonzero_balances(balances: Mapping[str, int]) -> dict[str, int]:
    total = 0
    members: dict[str, int] = {}
    for name, value in balances.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAmount(f"the balance of {name!r} must be whole minor units, got {value!r}")
        total += value
        if value:
            members[name] = value
    if total:
        raise UnbalancedBalances(
            f"balances must add up to zero to be settled, but they add up to {total:+d} minor "
            "units: some expense or payment is missing its other side"
        )
    return members


def _carry_over(members: Mapping[str, int], previous: Sequence[Transfer]) -> list[Transfer] | None:
    """``previous`` adjusted to the balances, or None when they moved in any other way.

    After applying ``previous`` to the balances, what is left is zero for everyone when nothing
    happened, and ``+x`` for one member and ``-x`` for another when the first paid the second
    ``x`` since: that must then be (part of) a suggested transfer between those two.
    """
    left = dict(members)
    for transfer in previous:
        left[transfer.debtor] = left.get(transfer.debtor, 0) + transfer.amount
        left[transfer.creditor] = left.get(transfer.creditor, 0) - transfer.amount
    moved = sorted(((value, name) for name, value in left.items() if value), reverse=True)
    plan = list(previous)
    if len(moved) == 2:
        (paid, payer), (_, payee) = moved
        for index, transfer in enumerate(plan):
            if (transfer.debtor, transfer.creditor) == (payer, payee) and transfer.amount >= paid:
                if transfer.amount == paid:
                    del plan[index]
                else:
                    plan[index] = Transfer(payer, payee, transfer.amount - paid)
                break
        else:
            return None
    elif moved:
        return None
    if all(members.get(t.debtor, 0) < 0 < members.get(t.creditor, 0) for t in plan):
        return plan
    return None


def _fresh_plan(members: Mapping[str, int]) -> list[Transfer]:
    plan, rest = _opposite_pairs(members)
    if len(rest) <= EXACT_LIMIT:
        for group in _zero_sum_groups(rest):
            plan += _north_west_corner(group)
    else:
        plan += _greedy(rest)
    plan.sort(key=lambda transfer: (transfer.debtor, transfer.creditor))
    return plan


def _opposite_pairs(members: Mapping[str, int]) -> tuple[list[Transfer], list[Balance]]:
    """Match each debt with a credit of exactly the same size (by name order within a size).

    Returns the pair transfers and the unmatched members, in name order.
    """
    names = sorted(members)
    debtors: defaultdict[int, list[str]] = defaultdict(list)
    creditors: defaultdict[int, list[str]] = defaultdict(list)
    for name in names:
        value = members[name]
        (creditors if value > 0 else debtors)[abs(value)].append(name)
    pairs: list[Transfer] = []
    paired: set[str] = set()
    for amount, owing in debtors.items():
        for debtor, creditor in zip(owing, creditors.get(amount, ()), strict=False):
            pairs.append(Transfer(debtor, creditor, amount))
            paired.update((debtor, creditor))
    return pairs, [(name, members[name]) for name in names if name not in paired]


def _north_west_corner(group: Sequence[Balance]) -> list[Transfer]:
    """Settle one zero-sum group: debtors pay creditors in name order (stable, see module doc)."""
    debtors = [name for name, value in group if value < 0]
    debts = [-value for _, value in group if value < 0]
    creditors = [name for name, value in group if value > 0]
    credits = [value for _, value in group if value > 0]
    plan: list[Transfer] = []
    i = j = 0
    while i < len(debtors) and j < len(creditors):
        amount = min(debts[i], credits[j])
        plan.append(Transfer(debtors[i], creditors[j], amount))
        debts[i] -= amount
        credits[j] -= amount
        if debts[i] == 0:
            i += 1
        if credits[j] == 0:
            j += 1
    return plan


# -- exact partition into the most zero-sum groups -------------------------------------------------


def _zero_sum_groups(members: Sequence[Balance]) -> list[list[Balance]]:
    """The largest partition of ``members`` (which sum to zero) into zero-sum groups."""
    size = len(members)
    if size == 0:
        return []
    zero_sum = _zero_sum_subsets([value for _, value in members])
    levels = [_bitset(zero_sum, size)]
    everyone = (1 << size) - 1
    # Two groups need three zero-sum subsets: a part, the rest, and everyone.
    if len(zero_sum) >= 3:
        while True:
            deeper = levels[0] & _strictly_above(levels[-1], size)
            if not _contains(deeper, everyone):
                break
            levels.append(deeper)
    return [
        [members[i] for i in range(size) if group >> i & 1]
        for group in _read_partition(levels, zero_sum, size)
    ]


def _subset_sums(values: Sequence[int], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """Sum of every subset of ``values``, indexed by bitmask (bit ``i``: ``values[i]`` is in)."""
    sums = np.zeros(1, dtype=dtype)
    for value in values:
        sums = np.concatenate((sums, sums + value))
    return sums


def _zero_sum_subsets(values: Sequence[int]) -> Masks:
    """Bitmasks of every non-empty zero-sum subset, ascending, by meet in the middle.

    A subset is a low half and a high half whose sums cancel, so only ``2^(m/2)`` sums per half
    are ever built, and matches are found by binary search.
    """
    half = len(values) // 2
    dtype: npt.DTypeLike = np.int64 if sum(map(abs, values)) < _INT64_SAFE else object
    low = _subset_sums(values[:half], dtype)
    high = _subset_sums(values[half:], dtype)
    order = np.argsort(low, kind="stable")
    low_sorted = low[order]
    wanted = -high
    first = np.searchsorted(low_sorted, wanted, side="left")
    count = np.searchsorted(low_sorted, wanted, side="right") - first
    high_part = np.repeat(np.arange(len(high), dtype=np.int64), count)
    starts = np.cumsum(count) - count
    within = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(starts, count)
    low_part = order[np.repeat(first, count) + within].astype(np.int64)
    masks: Masks = low_part | (high_part << half)
    return np.sort(masks[masks != 0])


def _bitset(masks: Masks, size: int) -> Bitset:
    """Bitset over all ``2^size`` subsets with the (ascending) ``masks`` set."""
    words = np.zeros(1 << max(0, size - _WORD_BITS), dtype=np.uint64)
    if masks.size:
        word = masks >> _WORD_BITS
        bits = np.left_shift(np.uint64(1), (masks & 63).astype(np.uint64))
        starts = np.flatnonzero(np.concatenate(([True], word[1:] != word[:-1])))
        words[word[starts]] = np.bitwise_or.reduceat(bits, starts)
    return words


def _contains(words: Bitset, mask: int) -> bool:
    return bool(int(words[mask >> _WORD_BITS]) >> (mask & 63) & 1)


def _add_one_member(source: Bitset, size: int, target: Bitset) -> None:
    """``target[S + {i}] |= source[S]`` for every member ``i``, bit by bit.

    With ``target is source`` the passes compound (sum over subsets), so the result holds every
    superset of a set subset; with a fresh ``target`` it is exactly one member more.
    """
    for i in range(min(size, _WORD_BITS)):  # member i is a bit inside each word
        target |= (source & _CLEAR_IN_WORD[i]) << np.uint64(1 << i)
    for i in range(_WORD_BITS, size):  # member i picks the upper half of blocks of words
        block = 1 << (i - _WORD_BITS)
        target.reshape(-1, 2, block)[:, 1, :] |= source.reshape(-1, 2, block)[:, 0, :]


def _strictly_above(words: Bitset, size: int) -> Bitset:
    """Every subset that strictly contains some subset set in ``words``."""
    at_or_above = words.copy()
    _add_one_member(at_or_above, size, at_or_above)
    above = np.zeros_like(words)
    _add_one_member(at_or_above, size, above)
    return above


def _read_partition(levels: Sequence[Bitset], zero_sum: Masks, size: int) -> list[int]:
    """Walk the chain back down: peel off one group per level, the smallest bitmask that works.

    At level ``t`` the group is a zero-sum subset of what is left whose complement there is still
    on level ``t - 1``; ``zero_sum`` is ascending, so the first one that fits is the smallest.
    """
    rest = (1 << size) - 1
    groups: list[int] = []
    for level in reversed(levels[:-1]):
        inside = zero_sum[((zero_sum & ~rest) == 0) & (zero_sum != rest)]
        remainder = rest ^ inside
        on_level = level[remainder >> _WORD_BITS] >> (remainder & 63).astype(np.uint64)
        group = int(inside[(on_level & np.uint64(1)).astype(bool)][0])
        groups.append(group)
        rest ^= group
    groups.append(rest)
    return groups


# -- greedy beyond the exact limit -----------------------------------------------------------------


class _Side:
    """The open debts (or credits) of the greedy: by size for the largest, by value for matches."""

    def __init__(self, amounts: Mapping[str, int]) -> None:
        self.open = dict(amounts)
        self.heap = [(-amount, name) for name, amount in amounts.items()]
        heapq.heapify(self.heap)
        self.by_amount: defaultdict[int, set[str]] = defaultdict(set)
        for name, amount in amounts.items():
            self.by_amount[amount].add(name)

    def __bool__(self) -> bool:
        return bool(self.open)

    def pop_largest(self) -> Balance:
        """The largest open amount, first name on ties (heap entries of settled members skipped)."""
        while True:
            negative, name = heapq.heappop(self.heap)
            if self.open.get(name) == -negative:
                self._close(name)
                return name, -negative

    def pop_exact(self, amount: int) -> str | None:
        names = self.by_amount.get(amount)
        if not names:
            return None
        name = min(names)
        self._close(name)
        return name

    def put(self, name: str, amount: int) -> None:
        self.open[name] = amount
        self.by_amount[amount].add(name)
        heapq.heappush(self.heap, (-amount, name))

    def _close(self, name: str) -> None:
        amount = self.open.pop(name)
        names = self.by_amount[amount]
        names.discard(name)
        if not names:
            del self.by_amount[amount]


def _greedy(members: Sequence[Balance]) -> list[Transfer]:
    """Largest debt against largest credit; a remainder someone matches exactly is paid at once.

    Every transfer zeroes at least one member and the last (or an exact match) zeroes two, so a
    group of ``m`` needs at most ``m - 1``.
    """
    debts = _Side({name: -value for name, value in members if value < 0})
    credits = _Side({name: value for name, value in members if value > 0})
    plan: list[Transfer] = []
    while debts:
        debtor, debt = debts.pop_largest()
        creditor, credit = credits.pop_largest()
        amount = min(debt, credit)
        plan.append(Transfer(debtor, creditor, amount))
        if debt > amount:
            match = credits.pop_exact(debt - amount)
            if match is None:
                debts.put(debtor, debt - amount)
            else:
                plan.append(Transfer(debtor, match, debt - amount))
        elif credit > amount:
            match = debts.pop_exact(credit - amount)
            if match is None:
                credits.put(creditor, credit - amount)
            else:
                plan.append(Transfer(match, creditor, credit - amount))
    return plan
