"""`chipin parse`: text to the JSON of its Intent, one message, a JSONL batch, or a scored eval.

The lead registers it in ``chipin/cli.py`` as ``app.command("parse")(parse_command)``. Parsing
goes through :func:`chipin.parsing.router.parse_text`, so ``--parser`` means what ``PARSER`` means
for the bot; Gemini is built only when the settings carry a key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from chipin.core.errors import ChipinError
from chipin.core.money import normalize_currency
from chipin.parsing.eval import BadLine, context_from, format_report, score_outputs
from chipin.parsing.intents import JsonValue, ParseContext, intent_to_json

Parse = Callable[[str, ParseContext], Awaitable[dict[str, JsonValue]]]


def _fail(message: str) -> NoReturn:
    typer.echo(f"chipin parse: {message}", err=True)
    raise typer.Exit(2)


def _today(timezone: str) -> dt.date:
    try:
        return dt.datetime.now(ZoneInfo(timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        _fail(f"unknown --timezone {timezone!r} (expected an IANA name like Europe/Paris)")


def _context(sender: str | None, members: str | None, currency: str, today: str | None,
             timezone: str) -> ParseContext:  # fmt: skip
    names = [m.strip() for m in (members or "").split(",")]
    if not members or any(not m for m in names):
        _fail('--members needs a comma-separated list of names, e.g. --members "Ana,Raj,Mia"')
    if len(set(names)) != len(names):
        _fail("--members lists a name twice")
    if not sender or sender.strip() not in names:
        _fail(f"--sender must be one of --members ({', '.join(names)})")
    try:
        code = normalize_currency(currency)
    except ChipinError as exc:
        _fail(str(exc))
    try:
        day = dt.date.fromisoformat(today) if today else _today(timezone)
    except ValueError:
        _fail(f"--today {today!r} is not an ISO date (YYYY-MM-DD)")
    _today(timezone)  # validates the timezone name even when --today is given
    return ParseContext(sender.strip(), tuple(names), code, day, timezone)


async def _with_parser(mode: str | None, run: Callable[[Parse], Awaitable[None]]) -> None:
    """Run ``run`` with a parse function for ``mode`` (Gemini built only when keyed)."""
    from chipin.parsing.router import parse_text
    from chipin.settings import Settings

    settings = Settings()
    chosen = mode or settings.parser
    gemini = None
    if chosen != "rules" and settings.gemini_enabled:
        from chipin.parsing.gemini import GeminiParser

        gemini = GeminiParser.from_settings(settings)

    async def parse(text: str, ctx: ParseContext) -> dict[str, JsonValue]:
        intent = await parse_text(text, ctx, mode=chosen, gemini=gemini)
        return intent_to_json(intent, ctx)

    try:
        await run(parse)
    finally:
        if gemini is not None:
            await gemini.aclose()


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")


def _line_context(raw: str) -> tuple[dict[str, Any], ParseContext]:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise BadLine('each line must be an object with a "text" string')
    if not isinstance(obj.get("members"), list):
        raise BadLine('"members" must be a list of names')
    if obj.get("today"):
        return obj, context_from(obj)
    zone = str(obj.get("timezone") or "UTC")
    try:
        today = dt.datetime.now(ZoneInfo(zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        raise BadLine(f"unknown timezone {zone!r}") from None
    return obj, context_from(obj, today=today)


def parse_command(
    text: Annotated[str | None, typer.Argument(help="The message to parse.")] = None,
    sender: Annotated[str | None, typer.Option(help="Who wrote it (one of --members).")] = None,
    members: Annotated[str | None, typer.Option(help='The roster: "Ana,Raj,Mia".')] = None,
    currency: Annotated[str, typer.Option(help="The group's currency.")] = "USD",
    today: Annotated[str | None, typer.Option(help="The group's today, YYYY-MM-DD.")] = None,
    timezone: Annotated[str, typer.Option(help="The group's IANA timezone.")] = "UTC",
    parser: Annotated[
        str | None, typer.Option(help="rules | gemini | auto (default: PARSER setting).")
    ] = None,
    batch: Annotated[
        Path | None, typer.Option(help="JSONL of {text, sender, members, currency, today}.")
    ] = None,
    eval_file: Annotated[
        Path | None, typer.Option("--eval", help='Labelled JSONL (with "expect") to score.')
    ] = None,
) -> None:
    """Parse chat text into an intent and print it as JSON."""
    if parser is not None and parser not in ("rules", "gemini", "auto"):
        _fail(f"--parser must be rules, gemini or auto, not {parser!r}")
    if sum(x is not None for x in (text, batch, eval_file)) != 1:
        _fail("give exactly one of TEXT, --batch FILE or --eval FILE")
    try:
        if batch is not None:
            asyncio.run(_with_parser(parser, lambda p: _batch(_read_lines(batch), p)))
        elif eval_file is not None:
            asyncio.run(_with_parser(parser, lambda p: _eval(_read_lines(eval_file), p)))
        else:
            ctx = _context(sender, members, currency, today, timezone)
            assert text is not None
            asyncio.run(_with_parser(parser, lambda p: _one(text, ctx, p)))
    except ValueError as exc:  # the router's configuration errors (e.g. gemini without a key)
        _fail(str(exc))


async def _one(text: str, ctx: ParseContext, parse: Parse) -> None:
    _emit(await parse(text, ctx))


async def _batch(lines: list[str], parse: Parse) -> None:
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj, ctx = _line_context(raw)
        except BadLine as exc:
            _emit({"error": f"line {number}: {exc}"})
            continue
        _emit(await parse(obj["text"], ctx))


async def _eval(lines: list[str], parse: Parse) -> None:
    pairs = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj, ctx = _line_context(raw)
        except BadLine as exc:
            _fail(f"{number}: {exc}")
        if not isinstance(obj.get("expect"), dict) or "intent" not in obj["expect"]:
            _fail(f'{number}: a labelled line needs "expect" with an "intent"')
        pairs.append((obj, await parse(obj["text"], ctx)))
    report = score_outputs(pairs)
    typer.echo(format_report(report))
    for text, expect, got in report.misses:
        print(f"miss: {text!r}\n  want {json.dumps(expect, ensure_ascii=False)}\n"
              f"  got  {json.dumps(got, ensure_ascii=False)}", file=sys.stderr)  # fmt: skip
