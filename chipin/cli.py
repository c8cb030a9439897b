"""Chipin, group expense sharing, from the terminal.

Every command that prints data has a --json form with stable keys; amounts in JSON are decimal
strings in the currency's minor units ("20.00", "3000", "1.250")."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import Engine

from chipin.cli_parse import parse_command
from chipin.cli_telegram import telegram_app
from chipin.core import services
from chipin.core.balances import MissingRate
from chipin.core.commands import ImportLedger
from chipin.core.errors import ChipinError
from chipin.core.ledger_doc import LedgerDoc, Problem, parse_ledger
from chipin.core.money import format_minor, normalize_currency
from chipin.core.splitwise import parse_splitwise_csv
from chipin.settings import Settings
from chipin.store.db import make_engine
from chipin.store.migrate import current_revision, head_revision, upgrade
from chipin.store.uow import SqlUnitOfWork

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
app.add_typer(telegram_app, name="telegram")
scheduler_app = typer.Typer(no_args_is_help=True, help="Budgets, digests, reminders, recurring.")
app.add_typer(scheduler_app, name="scheduler")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON with stable keys.")]
GroupArg = Annotated[str, typer.Argument(help="The group's name.")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"chipin: {message}", err=True)
    raise typer.Exit(code)


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def require_schema(engine: Engine) -> None:
    """An empty database is migrated on first use; one that is behind the code is refused with
    the command that fixes it (migrating a shared production database is an operator's call)."""
    revision = current_revision(engine)
    if revision is None:
        upgrade(engine)
    elif revision != head_revision():
        fail(
            f"the database schema is at {revision}, the code needs {head_revision()}; "
            "run `chipin db upgrade`"
        )


@contextmanager
def open_engine(*, migrate_empty: bool = True) -> Iterator[Engine]:
    """The engine for DATABASE_URL, disposed after the command."""
    engine = make_engine(Settings().database_url)
    try:
        if migrate_empty:
            require_schema(engine)
        yield engine
    finally:
        engine.dispose()


def uow(engine: Engine, *, readonly: bool = False) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, readonly=readonly)


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except ChipinError as exc:
        fail(str(exc))


# -- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the migrations up to REVISION (default: the latest)."""
    with open_engine(migrate_empty=False) as engine:
        upgrade(engine, revision)
        typer.echo(f"database at revision {current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    with open_engine(migrate_empty=False) as engine:
        typer.echo(current_revision(engine) or "empty")


SERVE_BACKGROUND_ENV = "CHIPIN_SERVE_BACKGROUND"
"""How ``chipin serve --workers N`` tells each web process whether to run the worker too."""


def serve_app() -> Any:
    """The app of one ``chipin serve --workers N`` process: uvicorn imports it by name in each
    worker process (``chipin.cli:serve_app``), so the options travel in the environment."""
    from chipin.app import create_app

    return create_app(Settings(), background=os.environ.get(SERVE_BACKGROUND_ENV, "1") == "1")


def run_web(app_: Any, *, host: str, port: int, workers: int = 1) -> None:
    """Serve ``app_`` (an app, or with ``workers`` > 1 the "module:factory" that makes one in
    each process) as ``chipin serve`` does: uvicorn, with uvloop and httptools when installed
    (uvicorn's "auto"; both are dependencies), no access log. The benchmarks serve through this
    too, so they measure what a user runs."""
    import uvicorn

    uvicorn.run(
        app_,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Web only: leave the worker and dispatcher to `chipin worker` processes.",
        ),
    ] = False,
    telegram_polling: Annotated[
        bool,
        typer.Option(
            "--telegram-polling",
            help="Fetch Telegram updates with getUpdates (local use without a public URL; "
            "removes the webhook).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes sharing the port, each a whole `chipin serve` (web app, worker and "
            "dispatcher unless --no-worker). More than 1 needs PostgreSQL; SQLite is one process.",
        ),
    ] = 1,
) -> None:
    """Run Chipin: the web app (webhooks, playground, health), the worker and the dispatcher."""
    from chipin.app import create_app

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)
        backend = engine.dialect.name
    finally:
        engine.dispose()
    if workers > 1:
        if backend != "postgresql":
            fail("--workers above 1 needs PostgreSQL (with SQLite one process does it all)")
        if telegram_polling:
            fail("--telegram-polling fetches updates in one process: use it without --workers")
        os.environ[SERVE_BACKGROUND_ENV] = "0" if no_worker else "1"
        run_web("chipin.cli:serve_app", host=host, port=port, workers=workers)
        return
    app_ = create_app(settings, background=not no_worker, telegram_polling=telegram_polling)
    run_web(app_, host=host, port=port)


@app.command("worker")
def worker() -> None:
    """Run the worker and the dispatcher without the web app (scale out on PostgreSQL)."""
    import asyncio
    import signal

    from chipin.logs import configure_logging
    from chipin.runtime import Runtime

    settings = Settings()
    configure_logging(settings)

    async def main() -> None:
        engine = make_engine(settings.database_url)
        require_schema(engine)
        runtime = Runtime.build(settings, engine)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runtime.stop.set)
        runtime.start()
        await runtime.stop.wait()
        await runtime.close()
        engine.dispose()

    asyncio.run(main())


@app.command("chat")
def chat(
    group: Annotated[str, typer.Option("--group", "-g", help="The group (created if new).")],
    member: Annotated[str, typer.Option("--as", help="Who is speaking.")],
    members: Annotated[str | None, typer.Option(help='Members to add: "Ana,Raj,Mia".')] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of a new group.")] = None,
    timezone: Annotated[str | None, typer.Option(help="Timezone of a new group.")] = None,
) -> None:
    """Talk to Chipin in the terminal, through the same inbox → worker → outbox path.

    Without a terminal on standard input it reads one message a line and prints each reply, so
    it can be scripted. "/as NAME" switches the speaker; "/press N" presses a reply's button."""
    from chipin.cli_chat import run_chat

    settings = Settings()
    with open_engine() as engine, domain_errors():
        run_chat(
            engine,
            settings,
            group=group,
            speaker=member,
            members=[m.strip() for m in (members or "").split(",") if m.strip()],
            currency=currency,
            timezone=timezone,
        )


@scheduler_app.command("run-once")
def scheduler_run_once(
    at: Annotated[
        str | None, typer.Option(help="Run what is due at this ISO time (default: now).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every scheduled job that is due at AT once (operators and tests)."""
    import datetime as dt

    from chipin.scheduler.jobs import Jobs

    moment = dt.datetime.now(dt.UTC)
    if at is not None:
        try:
            moment = dt.datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not an ISO date-time like 2026-11-30T09:00:00+00:00", 2)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    with open_engine() as engine:
        report = Jobs(engine, settings=Settings()).run_due(moment)
    if as_json:
        emit(report.as_dict())
    else:
        typer.echo(
            f"{report.groups} groups: {report.budget_alerts} budget alerts, "
            f"{report.digests} digests, {report.reminders} reminders, "
            f"{report.recurring} recurring entries"
        )
    if report.failures:
        for failure in report.failures:
            typer.echo(f"chipin: {failure}", err=True)
        raise typer.Exit(1)


@app.command("check")
def check(
    group: Annotated[str | None, typer.Argument(help="One group; default: all.")] = None,
    repair: Annotated[bool, typer.Option(help="Rebuild the totals from the entries.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every balance from the entries and compare it with the running totals."""
    with open_engine() as engine, domain_errors():
        with uow(engine, readonly=True) as u:
            groups = [
                g
                for g in u.ledger.groups()
                if group is None or g.name.casefold() == group.casefold()
            ]
        if group is not None and not groups:
            fail(f"no group named {group!r}")
        report = {}
        for g in groups:
            problems = services.check_balances(uow(engine, readonly=True), g.id)
            if problems and repair:
                with uow(engine) as u:
                    u.ledger.rebuild_balances(g.id)
                    u.commit()
            report[g.name] = problems
    bad = {name: p for name, p in report.items() if p}
    if as_json:
        emit({"ok": not bad, "groups": report, "repaired": bool(bad) and repair})
    else:
        for name, problems in report.items():
            typer.echo(f"{name}: {'ok' if not problems else '; '.join(problems)}")
    if bad and not repair:
        raise typer.Exit(1)


# -- groups ------------------------------------------------------------------------------------


@app.command("groups")
def list_groups(as_json: JsonOpt = False) -> None:
    """List the groups."""
    with open_engine() as engine, uow(engine, readonly=True) as u:
        rows = [
            {
                "name": g.name,
                "currency": g.currency,
                "timezone": g.timezone,
                "members": [m.name for m in u.ledger.members(g.id)],
            }
            for g in u.ledger.groups()
        ]
    if as_json:
        emit({"groups": rows})
    else:
        for r in rows:
            typer.echo(f"{r['name']} ({r['currency']}, {r['timezone']}): {', '.join(r['members'])}")


@app.command("rate")
def set_rate(group: GroupArg, currency: str, rate: str) -> None:
    """Set how much one unit of CURRENCY is worth in the group's currency (for `balances --in`)."""
    with open_engine() as engine, domain_errors():
        g = services.find_group(uow(engine), group)
        try:
            value = Decimal(rate)
            if not value.is_finite() or value <= 0:
                raise InvalidOperation
        except InvalidOperation:
            fail(f"{rate!r} is not a positive rate")
        with uow(engine) as u:
            u.ledger.set_rate(g.id, normalize_currency(currency), value, services.utcnow())
            u.commit()
        typer.echo(f"1 {currency.upper()} = {rate} {g.currency} in {g.name}")


# -- import / export ---------------------------------------------------------------------------


def _print_problems(problems: list[Problem], as_json: bool) -> NoReturn:
    if as_json:
        emit(
            {"ok": False, "problems": [{"where": p.where, "message": p.message} for p in problems]}
        )
    else:
        typer.echo(f"chipin: nothing imported; {len(problems)} problem(s):", err=True)
        for p in problems:
            typer.echo(f"  {p}", err=True)
    raise typer.Exit(1)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[
        str, typer.Option("--from", help="chipin (JSON) or splitwise (CSV)")
    ] = "chipin",
    group: Annotated[str | None, typer.Option(help="Group name (Splitwise CSV only).")] = None,
    currency: Annotated[
        str | None, typer.Option(help="Group currency (Splitwise CSV only).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Group timezone (Splitwise CSV only).")] = "UTC",
    as_json: JsonOpt = False,
) -> None:
    """Import a ledger atomically: a file with any problem imports nothing and lists every problem.

    Entry ids make a re-import idempotent; importing into an existing group adds to it."""
    text = file.read_text(encoding="utf-8-sig")
    doc: LedgerDoc | None
    if source == "chipin":
        try:
            data = json.loads(text, parse_float=Decimal)  # exact: 60.1 stays 60.1
        except json.JSONDecodeError as exc:
            _print_problems([Problem(f"line {exc.lineno}", f"not valid JSON: {exc.msg}")], as_json)
        doc, problems = parse_ledger(data)
    elif source == "splitwise":
        name = group or file.stem.split("_20")[0].replace("-", " ").strip() or file.stem
        doc, problems = parse_splitwise_csv(
            text, group_name=name, timezone=timezone, currency=currency
        )
    else:
        fail(f"unknown --from {source!r}: use chipin or splitwise", 2)
    if problems or doc is None:
        _print_problems(problems, as_json)
    with open_engine() as engine, domain_errors():
        result = services.import_ledger(ImportLedger(doc), uow(engine))
    if as_json:
        emit(
            {
                "ok": True,
                "group": result.group_name,
                "added": result.added,
                "already_present": result.already_present,
                "members_added": list(result.members_added),
            }
        )
    else:
        typer.echo(
            f"{result.group_name}: {result.added} entries added, "
            f"{result.already_present} already present"
        )


@app.command("export")
def export(
    group: GroupArg,
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Export a group's ledger (JSON round-trips through `chipin import`, CSV Splitwise-shaped)."""
    if fmt not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    with open_engine() as engine, domain_errors():
        g = services.find_group(uow(engine), group)
        if fmt == "json":
            doc = services.export_ledger(uow(engine, readonly=True), g.id)
            text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        else:
            text = services.export_splitwise(uow(engine, readonly=True), g.id)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


# -- balances, settle, history -----------------------------------------------------------------


@app.command("balances")
def balances(
    group: GroupArg,
    in_currency: Annotated[
        str | None, typer.Option("--in", help="Convert at the group's rates.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Each member's balance per currency (positive: the group owes them)."""
    with open_engine() as engine, domain_errors():
        g = services.find_group(uow(engine), group)
        by_currency = services.group_balances(uow(engine, readonly=True), g.id)
        if in_currency:
            target = normalize_currency(in_currency)
            try:
                converted = services.converted_balances(uow(engine, readonly=True), g.id, target)
            except MissingRate as missing:
                fail(f"{missing}: `chipin rate {g.name!r} {missing.target} RATE`")
            by_currency = {target: converted}
    data = {
        c: {m: format_minor(a, c) for m, a in sorted(v.items())} for c, v in by_currency.items()
    }
    if as_json:
        emit({"group": g.name, "balances": data})
        return
    if not data:
        typer.echo(f"{g.name}: everyone is settled up")
    for currency, amounts in data.items():
        typer.echo(f"{g.name} · {currency}")
        for member, amount in amounts.items():
            typer.echo(f"  {member:<20} {amount:>14}")


@app.command("settle")
def settle(group: GroupArg, as_json: JsonOpt = False) -> None:
    """The fewest transfers that settle everyone up, per currency."""
    with open_engine() as engine, domain_errors():
        g = services.find_group(uow(engine), group)
        plans = services.settle_up(uow(engine), g.id)
    data = {
        c: [{"from": t.debtor, "to": t.creditor, "amount": format_minor(t.amount, c)} for t in plan]
        for c, plan in plans.items()
    }
    if as_json:
        emit({"group": g.name, "transfers": data})
        return
    if not any(data.values()):
        typer.echo(f"{g.name}: everyone is settled up")
    for currency, transfers in data.items():
        for tr in transfers:
            typer.echo(f"{tr['from']} pays {tr['to']} {tr['amount']} {currency}")


@app.command("history")
def history(
    group: GroupArg,
    member: Annotated[str, typer.Option("--member", "-m", help="Whose passbook.")],
    as_json: JsonOpt = False,
) -> None:
    """A member's passbook: every entry that touched them, with a running balance."""
    with open_engine() as engine, domain_errors():
        g = services.find_group(uow(engine), group)
        lines = services.history(uow(engine, readonly=True), g.id, member)
        member = services.member_name(uow(engine, readonly=True), g.id, member)
    rows = [
        {
            "id": ln.entry_id,
            "date": ln.date.isoformat(),
            "kind": ln.kind,
            "description": ln.description,
            "currency": ln.currency,
            "paid": format_minor(ln.paid, ln.currency),
            "share": format_minor(ln.share, ln.currency),
            "delta": format_minor(ln.delta, ln.currency),
            "balance": format_minor(ln.balance, ln.currency),
        }
        for ln in lines
    ]
    if as_json:
        emit({"group": g.name, "member": member, "entries": rows})
        return
    for r in rows:
        typer.echo(
            f"{r['date']}  {r['description'] or r['kind']:<28} {r['delta']:>12} "
            f"{r['currency']}  → {r['balance']:>12}"
        )


app.command("parse")(parse_command)


def main() -> None:
    app()
