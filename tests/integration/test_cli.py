"""The `chipin` command against SQLite and PostgreSQL: JSON contracts, import and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from chipin.cli import app
from chipin.store import tables as t

LEDGERS = Path(__file__).parent.parent / "data" / "ledgers"


@pytest.fixture
def chipin(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"DATABASE_URL": database_url})
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result.stdout + (result.stderr if code else "")

    return run


def test_balances_settle_and_history_print_the_documented_json(chipin) -> None:  # type: ignore[no-untyped-def]
    chipin("import", str(LEDGERS / "everything.json"))
    balances = json.loads(chipin("balances", "Flat 4B", "--json"))
    assert balances["group"] == "Flat 4B"
    assert balances["balances"]["JPY"] == {"Ana": "-1", "Mia": "3334", "Raj": "-3333"}
    assert set(balances["balances"]["KWD"]) == {"Ana", "Raj", "Tom Okafor"}
    assert all(len(v.split(".")[1]) == 3 for v in balances["balances"]["KWD"].values())

    settle = json.loads(chipin("settle", "flat 4b", "--json"))
    assert settle["group"] == "Flat 4B"
    jpy = settle["transfers"]["JPY"]
    assert jpy == [
        {"from": "Ana", "to": "Mia", "amount": "1"},
        {"from": "Raj", "to": "Mia", "amount": "3333"},
    ]

    history = json.loads(chipin("history", "Flat 4B", "--member", "mia", "--json"))
    assert history["member"] == "Mia"
    eur = [e for e in history["entries"] if e["currency"] == "EUR"]
    assert eur[-1]["balance"] == balances["balances"]["EUR"]["Mia"]
    assert [e["id"] for e in history["entries"]][:3] == ["e1", "e2", "e3"]


def test_a_malformed_import_lists_every_problem_and_writes_nothing(chipin, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(chipin("import", str(LEDGERS / "broken.json"), "--json", code=1))
    assert out["ok"] is False
    wheres = [p["where"] for p in out["problems"]]
    messages = " | ".join(p["message"] for p in out["problems"])
    assert "group" in wheres  # unknown timezone
    assert "members[2]" in wheres  # "ana" listed twice
    for expected in (
        'expenses[1] (id "e2")',
        'expenses[2] (id "e3")',
        'expenses[3] (id "e4")',
        'expenses[4] (id "e5")',
        'expenses[5] (id "e1")',
        'payments[0] (id "p1")',
        'payments[1] (id "p2")',
    ):
        assert expected in wheres, expected
    assert "Zed" in messages and "XYZ" in messages and "100" in messages
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.groups)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(t.entries)).scalar() == 0


def test_invalid_json_is_refused_with_its_line(chipin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "chipin-ledger/1",\n "group": }')
    assert "line 2" in chipin("import", str(bad), code=1)


def test_export_json_reimports_into_a_new_group_with_the_same_balances(
    chipin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    chipin("import", str(LEDGERS / "everything.json"))
    exported = json.loads(chipin("export", "Flat 4B"))
    exported["group"]["name"] = "Flat 4B copy"
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(exported))
    chipin("import", str(copy))
    a = json.loads(chipin("balances", "Flat 4B", "--json"))["balances"]
    b = json.loads(chipin("balances", "Flat 4B copy", "--json"))["balances"]
    assert a == b


def test_splitwise_csv_import_reproduces_its_total_row(chipin) -> None:  # type: ignore[no-untyped-def]
    path = LEDGERS / "splitwise-lisbon-trip_2026-11-22_export.csv"
    out = json.loads(chipin("import", "--from", "splitwise", str(path), "--json"))
    assert out["group"] == "splitwise lisbon trip"
    assert out["added"] == 7
    balances = json.loads(chipin("balances", out["group"], "--json"))["balances"]
    assert balances["EUR"] == {"Ana Souza": "105.80", "Mia Chen": "-120.20", "Raj Patel": "14.40"}
    assert balances["USD"]["Ana Souza"] == "-20.00" and balances["USD"]["Mia Chen"] == "20.00"
    again = json.loads(chipin("import", "--from", "splitwise", str(path), "--json"))
    assert (again["added"], again["already_present"]) == (0, 7)


def test_csv_export_is_splitwise_shaped_and_imports_back(chipin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chipin("import", str(LEDGERS / "everything.json"))
    csv_text = chipin("export", "Flat 4B", "--format", "csv")
    assert (
        csv_text.splitlines()[0] == "Date,Description,Category,Cost,Currency,Ana,Raj,Mia,Tom Okafor"
    )
    path = tmp_path / "flat.csv"
    path.write_text(csv_text)
    chipin("import", "--from", "splitwise", "--group", "Flat again", str(path))
    a = json.loads(chipin("balances", "Flat 4B", "--json"))["balances"]
    b = json.loads(chipin("balances", "Flat again", "--json"))["balances"]
    assert {c: {m: v for m, v in x.items() if v.strip("0.-")} for c, x in a.items()} == {
        c: {m: v for m, v in x.items() if v.strip("0.-")} for c, x in b.items()
    }


def test_balances_convert_into_one_currency_at_the_groups_rates(chipin) -> None:  # type: ignore[no-untyped-def]
    chipin("import", str(LEDGERS / "everything.json"))
    chipin("rate", "Flat 4B", "JPY", "0.0062")
    chipin("rate", "Flat 4B", "KWD", "2.98")
    out = json.loads(chipin("balances", "Flat 4B", "--in", "EUR", "--json"))["balances"]
    assert list(out) == ["EUR"]
    total = sum(int(v.replace(".", "")) for v in out["EUR"].values())
    assert total == 0


def test_check_finds_and_repairs_tampered_totals(chipin, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    chipin("import", str(LEDGERS / "everything.json"))
    assert json.loads(chipin("check", "--json"))["ok"] is True
    with engine.begin() as conn:
        conn.execute(
            t.balances.update()
            .where(t.balances.c.currency == "EUR")
            .values(amount=t.balances.c.amount + 1)
        )
    report = json.loads(chipin("check", "--json", code=1))
    assert report["ok"] is False and report["groups"]["Flat 4B"]
    chipin("check", "--repair")
    assert json.loads(chipin("check", "--json"))["ok"] is True


def test_an_unknown_group_is_a_clear_error(chipin) -> None:  # type: ignore[no-untyped-def]
    assert "no group named 'Nope'" in chipin("balances", "Nope", code=1)


def test_a_hand_written_ledger_with_numbers_and_bare_names_imports_exactly(chipin) -> None:  # type: ignore[no-untyped-def]
    # JSON numbers (read as exact decimals), members as bare names, a lone payer as a name,
    # no split (everyone, equally), a timestamp for a date, names in another case.
    out = json.loads(chipin("import", str(LEDGERS / "lenient.json"), "--json"))
    assert out["added"] == 3
    balances = json.loads(chipin("balances", "Lenient", "--json"))["balances"]
    assert balances == {"USD": {"Ana": "10.06", "Mia": "-10.03", "Raj": "-0.03"}}
