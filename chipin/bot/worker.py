"""The worker: claims a batch of conversations, then handles their pending messages in
arrival order (so each conversation's in its own order).

The messages go in rounds, each applied in ONE transaction: renew the leases (a fence: a
worker that lost a lease writes nothing for that conversation), then apply each message
through the conversation engine, queue the rendered replies in the outbox and mark it done.
With the offline parser a message is read and parsed in that transaction too. With Gemini
configured, a round holds at most one message per conversation: it is read in one snapshot and
parsed outside any transaction (a Gemini call may take seconds), all of the round's parses at
once, before the round is applied.

A round is applied first on the fast path: no savepoints, and the round's replies and
completions written at its end with one executemany each. If anything goes wrong there (a
message fails, was finished elsewhere, or a nested block could not undo its writes) the round
is rolled back whole and applied again with a SAVEPOINT per message: a message that fails
rolls back to its savepoint alone, its failure is counted in the same transaction, its
conversation's later messages wait, and after a few tries it is parked as failed so its
conversation moves on. A crash leaves either nothing or everything of a round. A
conversation's lease is released in the transaction of its last message.

Batching is what makes the worker fast: a transaction and a claim per round instead of four
transactions per message, and on the fast path about four statements per recorded expense
(``bench/pipeline.py --profile`` prints the difference).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine

from chipin.bot.claims import Wakeup, drain, keep_claiming
from chipin.bot.conversation import ConversationEngine, ToParse
from chipin.bot.messages import Reply
from chipin.bot.render import render
from chipin.bot.turns import Outcome, Turn
from chipin.store.inbox import InboxItem, done_row
from chipin.store.uow import SqlUnitOfWork, StaleMessages

log = structlog.get_logger("chipin.worker")


@dataclass(slots=True)
class Handled:
    """What became of one message of a round."""

    item: InboxItem
    status: str
    """"done"; "lost" (our lease was taken over: nothing written); "pending" (failed, to be
    tried again later, its conversation stops here for now); "failed" (parked); "waiting"
    (after a message of its conversation that failed: untouched, still pending)."""
    outcome: Outcome | None = None
    error: BaseException | None = None


@dataclass(slots=True)
class Claim:
    """The conversations a claimer holds and their messages still to handle, in order."""

    holder: str
    queues: dict[str, deque[InboxItem]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)


class Worker:
    def __init__(
        self,
        engine: Engine,
        conversation: ConversationEngine,
        *,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        max_attempts: int = 3,
        batch: int = 50,
        conversations: int = 4,
        round_size: int = 24,
        on_outbox: Callable[[], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.conversation = conversation
        self.lease = lease
        self.max_attempts = max_attempts
        self.batch = batch
        """Messages per conversation per claim, at most."""
        self.conversations = conversations
        """Conversations per claim, at most."""
        self.round_size = round_size
        """Messages per transaction, at most: a message takes one or two savepoints, and
        PostgreSQL keeps only 64 subtransactions per transaction in shared memory (past that,
        every snapshot anywhere must look them up on disk)."""
        self.on_outbox = on_outbox or (lambda: None)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)

    # -- database steps (blocking; run in a thread from the async loop) ---------------------

    def claim(self, holder: str) -> Claim:
        with self.uow() as uow:
            keys = uow.inbox.claim_conversations(
                holder, self.clock(), self.lease, self.conversations
            )
            items = uow.inbox.pending_of(keys, self.batch * len(keys)) if keys else {}
            uow.commit()
        return Claim(holder, {k: deque(items.get(k, ())) for k in keys}, set(keys))

    def release(self, keys: list[str], holder: str) -> None:
        with self.uow() as uow:
            uow.inbox.release_many(keys, holder)
            uow.commit()

    def read(self, items: list[InboxItem]) -> list[Turn | ToParse | BaseException]:
        """Step 1's reads for a round, in one read-only snapshot."""
        steps: list[Turn | ToParse | BaseException] = []
        with self.uow(readonly=True) as uow:
            for item in items:
                try:
                    steps.append(self.conversation.read(uow, item))
                except Exception as exc:  # counted as a failure of this message when applied
                    uow.rollback()  # a failed statement must not poison the others' reads
                    steps.append(exc)
        return steps

    def apply_round(
        self,
        holder: str,
        turns: list[tuple[InboxItem, Turn | BaseException | None]],
        last: set[str],
    ) -> list[Handled]:
        """Apply a round in one transaction, in arrival order (a turn of None is read and
        parsed there too: the offline parser needs no step outside). ``last``: the
        conversations with nothing after this round, whose leases are released in it.

        First without savepoints (:meth:`_apply_fast`); if anything in the round goes wrong
        it is rolled back whole and applied again here, each message in its own savepoint: a
        conversation whose message fails (to be tried again) or whose lease was lost stops, and
        its later messages in the round are left pending, untouched."""
        fast = self._apply_fast(holder, turns, last)
        if fast is not None:
            return fast
        now = self.clock()
        handled: list[Handled] = []
        with self.uow() as uow:
            keys = list(dict.fromkeys(item.conversation_key for item, _ in turns))
            held = uow.inbox.renew_many(keys, holder, now, self.lease)
            release = {k for k in keys if k in held and k in last}
            stopped: set[str] = set()
            for item, turn in turns:
                key = item.conversation_key
                if key not in held:
                    handled.append(Handled(item, "lost"))
                    continue
                if key in stopped:
                    handled.append(Handled(item, "waiting"))
                    continue
                failure = turn if isinstance(turn, BaseException) else None
                if not isinstance(turn, BaseException):
                    try:
                        outcome = self.apply_one(uow, item, turn, now)
                        handled.append(Handled(item, "done", outcome))
                        continue
                    except Exception as exc:  # its savepoint is rolled back; the others stay
                        failure = exc
                assert failure is not None
                error = f"{type(failure).__name__}: {failure}"
                status = uow.inbox.record_failure(item.id, error, now, self.max_attempts)
                handled.append(Handled(item, status, error=failure))
                if status == "pending":  # to be tried again later, before what follows it
                    stopped.add(key)
                    release.add(key)
            if release:
                uow.inbox.release_many(sorted(release), holder)
            uow.commit()
        return handled

    def _apply_fast(
        self,
        holder: str,
        turns: list[tuple[InboxItem, Turn | BaseException | None]],
        last: set[str],
    ) -> list[Handled] | None:
        """The round in one transaction with no savepoint at all (they cost four round trips
        per message): None, with nothing kept, when any message fails, was finished elsewhere
        or left something it could not undo, or a lease was lost — the caller then applies the
        round again with savepoints, which sorts each case out."""
        if any(isinstance(turn, BaseException) for _, turn in turns):
            return None
        now = self.clock()
        with SqlUnitOfWork(self.engine, savepoints=False) as uow:
            keys = list(dict.fromkeys(item.conversation_key for item, _ in turns))
            if uow.inbox.renew_many(keys, holder, now, self.lease) != set(keys):
                return None
            handled = self._apply_held(uow, turns, now)
            if handled is None:
                return None
            if release := sorted(k for k in keys if k in last):
                uow.inbox.release_many(release, holder)
            uow.commit()
        return handled

    def _apply_held(
        self,
        uow: SqlUnitOfWork,
        turns: list[tuple[InboxItem, Turn | BaseException | None]],
        now: dt.datetime,
    ) -> list[Handled] | None:
        """Apply ``turns`` in ``uow`` (no savepoints) with their replies and completions held
        and then written together; None at the first thing that goes wrong (a message fails,
        was finished elsewhere, or spoiled the unit of work): the caller must roll back."""
        self.conversation.prefetch(uow, (item for item, _ in turns))
        handled: list[Handled] = []
        for item, turn in turns:
            assert not isinstance(turn, BaseException)
            try:
                outcome = self._apply_message(uow, item, turn, now, later=True)
            except Exception as exc:  # applied again with savepoints, which records it
                log.debug("chipin.round_retried", inbox_id=item.id, error=repr(exc))
                return None
            if outcome is None or uow.spoiled:
                return None
            handled.append(Handled(item, "done", outcome))
        try:
            uow.flush()  # the replies and completions: one executemany each
        except StaleMessages:
            return None
        return handled

    def apply_one(
        self, uow: SqlUnitOfWork, item: InboxItem, turn: Turn | None, now: dt.datetime
    ) -> Outcome | None:
        """Apply a message, queue its replies and mark it done, in a savepoint of ``uow``;
        None (and nothing kept) when another worker finished it already."""
        with uow:
            outcome = self._apply_message(uow, item, turn, now)
            if outcome is None:
                return None  # leaving without commit rolls back to the savepoint
            uow.commit()
        return outcome

    def _apply_message(
        self,
        uow: SqlUnitOfWork,
        item: InboxItem,
        turn: Turn | None,
        now: dt.datetime,
        *,
        later: bool = False,
    ) -> Outcome | None:
        """Apply a message, queue its replies and mark it done; None when another worker
        finished it already (the caller must then undo what this wrote). ``later``: the
        replies and the completion are held back for the round's flush."""
        if turn is None:
            turn = self.conversation.prepare_offline(uow, item)
        outcome = self.conversation.apply(uow, turn)
        group = self.conversation.group_of(uow, turn.message)
        locale = group.locale if group else "en_US"
        rows = [
            row
            for n, reply in enumerate(outcome.replies)
            if (row := self._reply_row(turn, n, reply, locale, now)) is not None
        ]
        if turn.message.action_id:
            rows.append(self._answer_row(turn, outcome, now))
        done = done_row(turn.inbox_id, now, outcome.result, outcome.entry_id, outcome.needs_review)
        if later:
            for row in rows:
                uow.add_later(row)
            uow.complete_later(done)
            return outcome
        for row in rows:
            uow.outbox.add(**row)
        return outcome if uow.inbox.complete_many([done]) == 1 else None

    def _reply_row(
        self, turn: Turn, n: int, reply: Reply, locale: str, now: dt.datetime
    ) -> dict[str, Any] | None:
        """The outbox row of a reply (``OutboxQueue.add``'s arguments); None for a private
        reply to a button press, which is said in the press's acknowledgement instead."""
        message = turn.message
        if reply.private and message.action_id:
            return None
        payload = render(message.channel, reply, locale=locale)
        if message.message_id:
            payload["reply_to"] = message.message_id
        kind = "send"
        if reply.edit and message.action_message_id:
            kind, payload["message_id"] = "edit", message.action_message_id
        return {
            "channel": message.channel,
            "conversation_key": turn.conversation_key,
            "recipient": message.chat_id,
            "kind": kind,
            "payload": payload,
            "now": now,
            "inbox_id": turn.inbox_id,
            "dedupe_key": f"inbox-{turn.inbox_id}-{n}",
        }

    def _answer_row(self, turn: Turn, outcome: Outcome, now: dt.datetime) -> dict[str, Any]:
        """Every button press is acknowledged (Telegram shows a spinner until it is)."""
        private = next((r for r in outcome.replies if r.private), None)
        text = str(private.context.get("text", "")) if private else ""
        return {
            "channel": turn.message.channel,
            "conversation_key": turn.conversation_key,
            "recipient": turn.message.chat_id,
            "kind": "answer",
            "payload": {"action_id": turn.message.action_id, "text": text},
            "now": now,
            "inbox_id": turn.inbox_id,
            "dedupe_key": f"inbox-{turn.inbox_id}-answer",
        }

    # -- the loop ------------------------------------------------------------------------------

    async def _finish(self, step: Turn | ToParse | BaseException) -> Turn | BaseException:
        if isinstance(step, BaseException):
            return step
        try:
            return await self.conversation.finish(step)
        except Exception as exc:  # counted as a failure of this message when applied
            return exc

    def _next_round(self, todo: list[InboxItem]) -> list[InboxItem]:
        """The messages to apply together next, in arrival order. With the offline parser a
        round may hold several messages of one conversation (each is read in the transaction,
        after the one before it); otherwise at most one per conversation, since its parse
        was read before the round's transaction and must see what came before it."""
        if self.conversation.offline:
            return todo[: self.round_size]
        seen: set[str] = set()
        for n, item in enumerate(todo[: self.round_size]):
            if item.conversation_key in seen:
                return todo[:n]
            seen.add(item.conversation_key)
        return todo[: self.round_size]

    def claim_and_apply(self) -> int | None:
        """The offline parser's shortcut for a batch that fits in one round: its
        conversations locked (not leased), read, applied and done in ONE transaction on the
        fast path — no lease written, renewed or released, no second transaction (four
        statements and a commit of the eleven a single message's round cost). None, with
        nothing kept, when the batch is bigger than a round or anything goes wrong: the caller
        then takes the leased way, which sorts each case out."""
        now = self.clock()
        with SqlUnitOfWork(self.engine, savepoints=False) as uow:
            locked = uow.inbox.lock_free_conversations(now, self.conversations)
            if not locked:
                return 0
            if expired := [key for key, holder in locked.items() if holder is not None]:
                uow.inbox.end_leases(expired)  # a slow holder's renewal now fails: its fence
            found = uow.inbox.pending_of(list(locked), self.round_size + 1)
            todo = sorted((i for items in found.values() for i in items), key=lambda i: i.id)
            if len(todo) > self.round_size:
                return None
            handled = self._apply_held(uow, [(item, None) for item in todo], now)
            if handled is None:
                return None
            uow.commit()
        if any(h.outcome is not None and h.outcome.replies for h in handled):
            self.on_outbox()
        return len(handled)

    async def run_once(self, holder: str) -> int:
        """Handle a batch of conversations' pending messages; returns how many were handled."""
        if self.conversation.offline:
            quick = await asyncio.to_thread(self.claim_and_apply)
            if quick is not None:
                return quick
        claim = await asyncio.to_thread(self.claim, holder)
        if not claim.held:
            return 0
        count = 0
        # arrival order across the claimed conversations too: someone who joins a group and
        # then asks for their balances in a private chat is answered in that order
        todo = sorted((i for q in claim.queues.values() for i in q), key=lambda i: i.id)
        try:
            while todo:
                items = self._next_round(todo)
                del todo[: len(items)]
                turns: list[Turn | BaseException | None] = [None] * len(items)
                if not self.conversation.offline:
                    steps = await asyncio.to_thread(self.read, items)
                    turns = list(await asyncio.gather(*(self._finish(s) for s in steps)))
                last = {i.conversation_key for i in items} - {i.conversation_key for i in todo}
                handled = await asyncio.to_thread(
                    self.apply_round, holder, list(zip(items, turns, strict=True)), last
                )
                claim.held -= last
                stop: set[str] = set()
                for done in handled:
                    key = done.item.conversation_key
                    if done.status == "done":
                        count += 1
                    elif done.status == "lost":
                        log.warning("chipin.lease_lost", conversation=key, inbox_id=done.item.id)
                        stop.add(key)
                    elif done.status in ("pending", "failed"):  # logged, counted, never lost
                        log.error(
                            "chipin.message_failed",
                            inbox_id=done.item.id,
                            status=done.status,
                            exc_info=done.error,
                        )
                        if done.status == "pending":
                            stop.add(key)  # released in the round's transaction
                if stop:  # lost, or to be tried again later: its later messages wait
                    claim.held -= stop
                    todo = [i for i in todo if i.conversation_key not in stop]
                if any(d.outcome is not None and d.outcome.replies for d in handled):
                    self.on_outbox()
        finally:
            if claim.held:  # claimed with nothing to do, or cut short by an error
                await asyncio.to_thread(self.release, sorted(claim.held), holder)
        return count

    async def run(
        self, stop: asyncio.Event, wake: Wakeup, *, concurrency: int = 8, poll: float = 0.2
    ) -> None:
        """Run ``concurrency`` claimers until ``stop`` is set; ``wake`` cuts the idle wait."""
        await asyncio.gather(
            *(keep_claiming(self.run_once, "worker", stop, wake, poll) for _ in range(concurrency))
        )

    async def drain(self, *, limit: int = 10_000) -> int:
        """Handle everything pending now (tests, `chipin chat`, `run-once` style use)."""
        return await drain(self.run_once, limit=limit)
