from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chipin.cli_parse import parse_command

app = typer.Typer()
app.command("parse")(parse_command)
app.command("other")(lambda: None)  # two commands, so "parse" is addressed as in chipin
runner = CliRunner()
CTX = ["--sender", "Ana", "--members", "Ana,Raj,Mia", "--currency", "USD",
       "--today", "2026-11-21", "--parser", "rules"]  # fmt: skip


@pytest.fixture(autouse=True)
def no_gemini(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("PARSER", "rules")


def test_one_message_prints_one_json_object() -> None:
    result = runner.invoke(app, ["parse", *CTX, "I paid 60 for dinner yesterday, split with Raj"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["deltas"] == {"Ana": "30.00", "Raj": "-30.00"}
    assert (out["date"], out["parser"]) == ("2026-11-20", "rules")


def test_bad_members_exit_2_with_a_message() -> None:
    result = runner.invoke(app, ["parse", "--sender", "Ana", "--members", ",", "hi"])
    assert result.exit_code == 2
    assert "--members" in result.stderr
    assert "Traceback" not in result.output


def test_a_sender_outside_the_members_exits_2() -> None:
    result = runner.invoke(app, ["parse", "--sender", "Zed", "--members", "Ana,Raj", "hi"])
    assert result.exit_code == 2


def test_batch_prints_one_line_per_input_and_an_error_for_a_bad_line(tmp_path: Path) -> None:
    good = {"text": "Raj sent me 30", "sender": "Ana", "members": ["Ana", "Raj"],
            "currency": "EUR", "today": "2026-11-21"}  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps(good) + "\n{not json\n" + json.dumps({**good, "text": "who owes what?"}) + "\n"
    )
    result = runner.invoke(app, ["parse", "--batch", str(path), "--parser", "rules"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["deltas"] == {"Raj": "30.00", "Ana": "-30.00"}
    assert "error" in lines[1]
    assert lines[2]["intent"] == "show_balances"


def test_eval_prints_accuracy_per_intent_and_wrong_writes(tmp_path: Path) -> None:
    line = {"text": "Raj sent me 30", "sender": "Ana", "members": ["Ana", "Raj"],
            "currency": "USD", "today": "2026-11-21",
            "expect": {"intent": "record_payment", "currency": "USD",
                       "deltas": {"Raj": "30.00", "Ana": "-30.00"}}}  # fmt: skip
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(line) + "\n")
    result = runner.invoke(app, ["parse", "--eval", str(path), "--parser", "rules"])
    assert result.exit_code == 0, result.output
    assert "record_payment" in result.stdout
    assert "wrong writes: 0" in result.stdout


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["parse", "--batch", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
