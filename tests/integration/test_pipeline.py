"""The message pipeline on SQLite and PostgreSQL: inbox → worker → outbox → dispatcher."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from chipin.bot.conversation import ConversationEngine
from chipin.bot.ingress import accept
from chipin.bot.messages import InboundMessage, SendError, SendResult
from chipin.bot.worker import Worker
from chipin.core import services
from chipin.notify.dispatcher import Dispatcher
from chipin.settings import Settings
from chipin.store import tables as t
from chipin.store.uow import SqlUnitOfWork


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 21, 19, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


class FlakyAdapter:
    """A channel that fails ``failures`` times, then works; records what it sent."""

    channel = "web"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        if self.failures:
            self.failures -= 1
            raise SendError("provider is down")
        self.sent.append((recipient, kind, payload))
        return SendResult(f"p-{len(self.sent)}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    return Settings(PARSER="rules", DEFAULT_CURRENCY="EUR", OUTBOX_MAX_ATTEMPTS=3)


def make_room(engine: Engine, name: str, members: list[str], room: str) -> int:
    group = services.create_group(SqlUnitOfWork(engine), name, "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, members)
    with SqlUnitOfWork(engine) as uow:
        conv = uow.conversations.get_or_create("web", room, dt.datetime.now(dt.UTC))
        uow.conversations.update(conv.id, dt.datetime.now(dt.UTC), group_id=group.id)
        uow.commit()
    return group.id


def say(engine: Engine, room: str, who: str, text: str, pid: str) -> int | None:
    message = InboundMessage("web", room, who, who, text, message_id=f"m-{pid}")
    return accept(engine, message, provider_id=pid)


def press(
    engine: Engine, room: str, who: str, data: str, pid: str, message_id: str = "p-1"
) -> int | None:
    message = InboundMessage(
        "web", room, who, who, action=data, action_id=f"a-{pid}", action_message_id=message_id
    )
    return accept(engine, message, provider_id=pid)


def outbox_texts(engine: Engine, room: str) -> list[str]:
    with SqlUnitOfWork(engine) as uow:
        return [
            o.payload.get("text", "")
            for o in uow.outbox.for_conversation(f"web:{room}")
            if o.kind != "answer"
        ]


def balances(engine: Engine, group_id: int) -> dict[str, dict[str, int]]:
    return services.group_balances(SqlUnitOfWork(engine), group_id)


def worker_for(engine: Engine, settings: Settings, clock: Clock) -> Worker:
    return Worker(
        engine,
        ConversationEngine(settings, clock=clock),
        clock=clock,
        lease=dt.timedelta(seconds=30),
    )


def test_a_scripted_group_conversation(engine: Engine, settings: Settings, clock: Clock) -> None:
    group_id = make_room(engine, "Lisbon", ["Ana", "Raj", "Mia"], "r1")
    worker = worker_for(engine, settings, clock)
    adapter = FlakyAdapter()
    dispatcher = Dispatcher(engine, {"web": adapter}, clock=clock)
    script = [
        ("Ana", "I paid 60 for dinner, split with everyone"),
        ("Raj", "who owes what?"),
        ("Mia", "lol that place was great"),
        ("Raj", "I paid Ana 20"),
    ]
    for n, (who, text) in enumerate(script):
        assert say(engine, "r1", who, text, f"s{n}") is not None
    assert asyncio.run(worker.drain()) == 4
    assert asyncio.run(dispatcher.drain()) == 3  # chit-chat gets no reply
    texts = [payload["text"] for _, _, payload in adapter.sent]
    assert texts[0].startswith(
        "✓ Dinner · 60.00 EUR · paid by Ana · Ana 20.00, Raj 20.00, Mia 20.00"
    )
    assert "Ana: is owed 40.00 EUR" in texts[1]
    assert "→ Raj pays Ana 20.00 EUR" in texts[1] or "→ Mia pays Ana 20.00 EUR" in texts[1]
    assert texts[2].startswith("✓ Raj paid Ana 20.00 EUR")
    assert adapter.sent[0][2]["actions"][0]["label"] == "Undo"
    assert balances(engine, group_id)["EUR"] == {"Ana": 2000, "Mia": -2000, "Raj": 0}
    with SqlUnitOfWork(engine) as uow:
        assert uow.inbox.counts() == {"done": 4}
        assert uow.outbox.counts() == {"sent": 3}


def test_a_duplicate_delivery_is_stored_once_even_concurrently(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    group_id = make_room(engine, "Dup", ["Ana", "Raj"], "r2")
    results: list[int | None] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(say(engine, "r2", "Ana", "I paid 30 for taxi, split with Raj", "same-id"))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len([r for r in results if r is not None]) == 1
    asyncio.run(worker_for(engine, settings, clock).drain())
    assert balances(engine, group_id)["EUR"] == {"Ana": 1500, "Raj": -1500}


def test_messages_of_one_group_apply_in_order_while_other_groups_proceed(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    a = make_room(engine, "A", ["Ana", "Raj"], "ra")
    b = make_room(engine, "B", ["Bo", "Cy"], "rb")
    say(engine, "ra", "Ana", "I paid 50 for groceries, split with Raj", "a1")
    say(engine, "rb", "Bo", "I paid 10 for coffee, split with Cy", "b1")
    say(engine, "ra", "Ana", "actually it was 70", "a2")
    worker = worker_for(engine, settings, clock)
    # another worker holds group A's conversation: B must still be handled
    with SqlUnitOfWork(engine) as uow:
        assert uow.inbox.claim_conversations("other", clock(), dt.timedelta(seconds=30), 1) == [
            "web:ra"
        ]
        uow.commit()
    asyncio.run(worker.drain())
    assert balances(engine, b)["EUR"] == {"Bo": 500, "Cy": -500}
    assert balances(engine, a) == {}
    with SqlUnitOfWork(engine) as uow:
        uow.inbox.release_many(["web:ra"], "other")
        uow.commit()
    asyncio.run(worker.drain())
    # the correction applied after the expense it corrects: 70 split two ways
    assert balances(engine, a)["EUR"] == {"Ana": 3500, "Raj": -3500}


def test_a_worker_that_lost_its_lease_writes_nothing(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    group_id = make_room(engine, "Fence", ["Ana", "Raj"], "rf")
    say(engine, "rf", "Ana", "I paid 40 for fuel, split with Raj", "f1")
    slow = worker_for(engine, settings, clock)
    claim = slow.claim("slow")
    assert claim.held == {"web:rf"}
    items = list(claim.queues["web:rf"])
    turn = asyncio.run(slow.conversation.prepare(slow.uow, items[0]))
    clock.advance(seconds=31)  # the slow worker's lease expires; another takes over
    asyncio.run(worker_for(engine, settings, clock).drain())
    handled = slow.apply_round("slow", [(items[0], turn)], last={"web:rf"})
    assert [h.status for h in handled] == ["lost"]
    assert balances(engine, group_id)["EUR"] == {"Ana": 2000, "Raj": -2000}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.entries)).scalar() == 1


def test_a_low_confidence_parse_is_a_draft_confirmed_once_and_only_by_its_author(
    engine: Engine, clock: Clock
) -> None:
    settings = Settings(PARSER="rules", DEFAULT_CURRENCY="EUR")
    group_id = make_room(engine, "Drafts", ["Ana", "Raj"], "rd")
    worker = worker_for(engine, settings, clock)
    conversation = worker.conversation
    # a rules parse below the 0.9 bar becomes a draft
    original = conversation.prepare_offline  # PARSER=rules: read and parsed in one go

    def unsure(uow, item):  # type: ignore[no-untyped-def]
        turn = original(uow, item)
        if turn.intent is not None:
            import dataclasses

            turn = dataclasses.replace(
                turn, intent=dataclasses.replace(turn.intent, confidence=0.5)
            )
        return turn

    conversation.prepare_offline = unsure  # type: ignore[method-assign]
    say(engine, "rd", "Ana", "I paid 90 for the boat, split with Raj", "d1")
    asyncio.run(worker.drain())
    assert balances(engine, group_id) == {}
    assert outbox_texts(engine, "rd")[0].startswith("Did I get this right, Ana?")
    with SqlUnitOfWork(engine) as uow:
        draft_action = uow.outbox.for_conversation("web:rd")[0].payload["actions"][0]["data"]
    assert draft_action.startswith("c:")
    press(engine, "rd", "Raj", draft_action, "x1")  # not the author
    press(engine, "rd", "Ana", draft_action, "x2")
    press(engine, "rd", "Ana", draft_action, "x3")  # a double tap
    asyncio.run(worker.drain())
    assert balances(engine, group_id)["EUR"] == {"Ana": 4500, "Raj": -4500}
    with SqlUnitOfWork(engine) as uow:
        answers = [
            o.payload["text"] for o in uow.outbox.for_conversation("web:rd") if o.kind == "answer"
        ]
        edits = [
            o.payload["text"] for o in uow.outbox.for_conversation("web:rd") if o.kind == "edit"
        ]
    assert answers == ["Only Ana can answer this.", "", "This was already recorded."]
    assert len(edits) == 1 and edits[0].startswith("✓ Boat")


def test_undo_and_restore_buttons_work_only_for_the_author(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    group_id = make_room(engine, "Undo", ["Ana", "Raj"], "ru")
    worker = worker_for(engine, settings, clock)
    say(engine, "ru", "Ana", "I paid 12 for snacks, split with Raj", "u1")
    asyncio.run(worker.drain())
    with SqlUnitOfWork(engine) as uow:
        undo = uow.outbox.for_conversation("web:ru")[0].payload["actions"][0]["data"]
    press(engine, "ru", "Raj", undo, "u2")
    asyncio.run(worker.drain())
    assert balances(engine, group_id)["EUR"] == {"Ana": 600, "Raj": -600}
    press(engine, "ru", "Ana", undo, "u3")
    asyncio.run(worker.drain())
    assert balances(engine, group_id)["EUR"] == {"Ana": 0, "Raj": 0}
    assert outbox_texts(engine, "ru")[-1].startswith("↩ Removed: Snacks")


def test_an_outbound_failure_is_retried_then_parked_as_dead(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    make_room(engine, "Retry", ["Ana", "Raj"], "rr")
    say(engine, "rr", "Ana", "help", "h1")
    say(engine, "rr", "Ana", "who owes what?", "h2")
    asyncio.run(worker_for(engine, settings, clock).drain())
    adapter = FlakyAdapter(failures=1)
    dispatcher = Dispatcher(
        engine, {"web": adapter}, clock=clock, max_attempts=3, backoff_seconds=10
    )
    asyncio.run(dispatcher.drain())  # the first try fails; the second message waits its turn
    assert adapter.sent == []
    clock.advance(seconds=11)
    asyncio.run(dispatcher.drain())
    assert [p["template"] for _, _, p in adapter.sent] == ["help", "balances"]

    say(engine, "rr", "Ana", "help", "h3")
    asyncio.run(worker_for(engine, settings, clock).drain())
    adapter.failures = 99
    for _ in range(3):
        asyncio.run(dispatcher.drain())
        clock.advance(seconds=3600)
    with SqlUnitOfWork(engine) as uow:
        assert uow.outbox.counts() == {"sent": 2, "dead": 1}
        dead = next(o for o in uow.outbox.for_conversation("web:rr") if o.status == "dead")
        assert dead.attempts == 3 and dead.last_error == "provider is down"
        assert uow.outbox.retry(dead.id, clock())  # an operator retries after the fix
        uow.commit()
    adapter.failures = 0
    asyncio.run(dispatcher.drain())
    with SqlUnitOfWork(engine) as uow:
        assert uow.outbox.counts() == {"sent": 3}


def test_unparseable_and_hostile_text_gets_a_helpful_reply_and_is_kept_for_review(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    group_id = make_room(engine, "Hostile", ["Ana", "Raj"], "rh")
    texts = [
        "I paid 60 for something with Zed",
        "'; DROP TABLE entries; --",
        "\x00\x01" * 10,
        "<script>alert(1)</script> paid 5",
        "9" * 400,
    ]
    for n, text in enumerate(texts):
        say(engine, "rh", "Ana", text, f"h{n}")
    asyncio.run(worker_for(engine, settings, clock).drain())
    with SqlUnitOfWork(engine) as uow:
        counts = uow.inbox.counts()
        review = [i for i in uow.inbox.pending_of(["web:rh"], 50).get("web:rh", [])]
    assert counts == {"done": len(texts)}
    assert review == []
    with engine.connect() as conn:
        flagged = conn.execute(
            select(func.count()).select_from(t.inbox).where(t.inbox.c.needs_review.is_(True))
        ).scalar()
    assert flagged >= 1
    assert outbox_texts(engine, "rh")  # something helpful was said
    assert balances(engine, group_id) == {}


def test_a_failing_message_rolls_back_alone_and_its_conversation_waits_in_order(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    """A round applies several conversations in one transaction: one message that fails
    sends the round to the careful path, where it is rolled back to its savepoint, counted,
    and retried before its conversation's later messages; the other conversations' messages
    of the same round are kept, once."""
    rooms = {room: make_room(engine, f"Round {room}", ["Ana", "Raj"], room) for room in "abc"}
    for room in rooms:
        say(engine, room, "Ana", "I paid 10 for tea, split with Raj", f"{room}1")
    say(engine, "b", "Ana", "I paid 30 for cake, split with Raj", "b2")
    worker = worker_for(engine, settings, clock)
    original = worker.conversation.apply
    fail = {"b1": 2}  # the first message of room b fails twice, then works

    def flaky(uow: SqlUnitOfWork, turn: Any) -> Any:
        outcome = original(uow, turn)  # its entry is written, then the failure undoes it
        pid = turn.message.message_id.removeprefix("m-")
        if fail.get(pid, 0) > 0:
            if uow.savepoints:  # counted once per try: the fast path fails first, then this
                fail[pid] -= 1
            raise RuntimeError("the ledger said no")
        return outcome

    worker.conversation.apply = flaky  # type: ignore[method-assign]
    asyncio.run(worker.run_once("w"))
    assert balances(engine, rooms["a"])["EUR"] == {"Ana": 500, "Raj": -500}
    assert balances(engine, rooms["c"])["EUR"] == {"Ana": 500, "Raj": -500}
    assert balances(engine, rooms["b"]) == {}  # b1 rolled back, b2 waits behind it
    with engine.connect() as conn:
        rows = {p: s for p, s in conn.execute(select(t.inbox.c.provider_id, t.inbox.c.status))}
        attempts = conn.execute(
            select(t.inbox.c.attempts).where(t.inbox.c.provider_id == "b1")
        ).scalar()
    assert rows == {"a1": "done", "b1": "pending", "b2": "pending", "c1": "done"}
    assert attempts == 1
    assert asyncio.run(worker.drain()) == 0  # fails once more: nothing handled, b2 waits
    assert balances(engine, rooms["b"]) == {}
    asyncio.run(worker.drain())  # now it works, and b2 after it
    assert balances(engine, rooms["b"])["EUR"] == {"Ana": 2000, "Raj": -2000}
    with SqlUnitOfWork(engine) as uow:
        assert uow.inbox.pending_of(["web:b"], 50) == {}
        recorded = [e.entry.description for e in uow.ledger.entries(rooms["b"], by_date=False)]
    assert [d.lower() for d in recorded] == ["tea", "cake"]  # in the order they were said


def test_a_round_is_applied_without_savepoints_unless_something_fails(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    """The fast path: a round of expenses, payments and a balances question in two rooms is
    applied with no SAVEPOINT at all (four round trips a message saved), its replies and
    completions written together at the end, with the same result."""
    from sqlalchemy import event

    rooms = {room: make_room(engine, f"Fast {room}", ["Ana", "Raj", "Mia"], room) for room in "ab"}
    texts = ["I paid 30 for lunch for everyone", "I gave Raj 5", "who owes what?"]
    for room in rooms:
        for n, text in enumerate(texts):
            say(engine, room, "Ana", text, f"{room}{n}")
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()[:3]).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert asyncio.run(worker_for(engine, settings, clock).run_once("w")) == 6
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not [s for s in seen if s.startswith(("SAVEPOINT", "RELEASE"))]
    # the round's six replies and six completions: one executemany each
    assert seen.count("INSERT INTO OUTBOX") == 1
    assert seen.count("UPDATE INBOX SET") == 1
    for group_id in rooms.values():
        assert balances(engine, group_id)["EUR"] == {"Ana": 2500, "Raj": -1500, "Mia": -1000}
    with engine.connect() as conn:
        replies = conn.execute(select(func.count()).select_from(t.outbox)).scalar()
    assert replies == 6


def test_a_batch_that_fits_a_round_is_claimed_and_applied_in_one_transaction(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    """With the offline parser a small batch needs no lease: its conversations are locked,
    read, applied and done in one transaction; a batch bigger than a round is leased."""
    from sqlalchemy import event

    group_id = make_room(engine, "Quick", ["Ana", "Raj"], "q")
    say(engine, "q", "Ana", "I paid 10 for tea, split with Raj", "q1")
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()[:2]).upper())

    worker = worker_for(engine, settings, clock)
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert asyncio.run(worker.run_once("w")) == 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "UPDATE CONVERSATION_LEASES" not in seen
    assert balances(engine, group_id)["EUR"] == {"Ana": 500, "Raj": -500}

    worker.round_size = 2
    for n in range(3):
        say(engine, "q", "Ana", f"I paid {n + 1}0 for tea, split with Raj", f"r{n}")
    seen.clear()
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert asyncio.run(worker.run_once("w")) == 3
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "UPDATE CONVERSATION_LEASES" in seen  # leased: three messages, rounds of two
    assert balances(engine, group_id)["EUR"] == {"Ana": 3500, "Raj": -3500}


def test_a_nested_block_left_unfinished_sends_the_round_to_the_careful_path(
    engine: Engine, settings: Settings, clock: Clock
) -> None:
    """Without savepoints a nested block that wrote and was then left without commit cannot
    be undone: the unit of work is spoiled, the round rolled back whole and applied again with
    savepoints, where leaving the block undoes just its own write."""
    group_id = make_room(engine, "Spoiled", ["Ana", "Raj"], "s")
    say(engine, "s", "Ana", "I paid 10 for tea, split with Raj", "s1")
    worker = worker_for(engine, settings, clock)
    original = worker.conversation.apply
    modes: list[bool] = []

    def half_done(uow: SqlUnitOfWork, turn: Any) -> Any:
        modes.append(uow.savepoints)
        with uow:  # a write that is not committed: must not survive
            uow.ledger.add_member(group_id, "Ghost", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        return original(uow, turn)

    worker.conversation.apply = half_done  # type: ignore[method-assign]
    assert asyncio.run(worker.run_once("w")) == 1
    assert modes[0] is False and modes[-1] is True and modes.count(True) == 1  # fast, careful
    assert balances(engine, group_id)["EUR"] == {"Ana": 500, "Raj": -500}
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.member_by_name(group_id, "Ghost") is None
        assert uow.inbox.pending_of(["web:s"], 50) == {}


def test_with_gemini_a_round_is_parsed_outside_the_transaction(
    engine: Engine, clock: Clock
) -> None:
    """With Gemini configured, a round is read in one snapshot, parsed outside any transaction
    (only the unsure message goes to Gemini, and both are parsed at once), then applied."""
    from chipin.parsing.gemini import GeminiUnavailable

    class SlowGemini:
        def __init__(self) -> None:
            self.texts: list[str] = []
            self.recorded_before: list[bool] = []

        async def parse(self, text: str, ctx: Any) -> Any:
            self.texts.append(text)
            with engine.connect() as conn:
                self.recorded_before.append(
                    conn.execute(select(func.count()).select_from(t.entries)).scalar() != 0
                )
            await asyncio.sleep(0.05)
            raise GeminiUnavailable("timeout")

    gemini = SlowGemini()
    settings = Settings(PARSER="auto", DEFAULT_CURRENCY="EUR")
    a = make_room(engine, "Auto A", ["Ana", "Raj"], "ga")
    b = make_room(engine, "Auto B", ["Ana", "Raj"], "gb")
    say(engine, "ga", "Ana", "45 museum", "g1")
    say(engine, "gb", "Ana", "I paid 10 for tea, split with Raj", "g2")
    conversation = ConversationEngine(settings, gemini=gemini, clock=clock)  # type: ignore[arg-type]
    assert not conversation.offline
    worker = Worker(engine, conversation, clock=clock)
    assert asyncio.run(worker.drain()) == 2
    assert gemini.texts == ["45 museum"]
    assert gemini.recorded_before == [False]  # parsed before the round was applied
    assert balances(engine, b)["EUR"] == {"Ana": 500, "Raj": -500}
    assert balances(engine, a) == {}
    assert outbox_texts(engine, "ga")[0].startswith("Who paid the 45")  # the rules' question
