"""Domain errors. Each carries a message fit to show a user."""

from __future__ import annotations


class ChipinError(Exception):
    """Base of every error the domain raises on purpose."""


class UnknownCurrency(ChipinError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown currency code {code!r} (expected an ISO 4217 code like EUR)")
        self.code = code


class InvalidAmount(ChipinError):
    """An amount that cannot be represented exactly in its currency."""


class CurrencyMismatch(ChipinError):
    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} and {right} amounts")


class InvalidSplit(ChipinError):
    """A split whose parts cannot be allocated (unknown member, wrong total, bad weights)."""


class UnknownMember(ChipinError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not a member of this group")
        self.name = name


class EntryNotFound(ChipinError):
    """An expense or payment id that does not exist in this group."""
