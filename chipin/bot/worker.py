"""The worker: claims a conversation, then handles its pending messages in arrival order.

For each message: parse outside any transaction (a Gemini call may take seconds), then in ONE
transaction renew the lease (a fence: a worker that lost its lease writes nothing), apply the
message through the conversation engine, queue the rendered replies in the outbox and mark the
message done. A crash leaves either nothing or everything of a message; a message that keeps
failing is parked as failed after a few tries so its conversation moves on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import structlog
from sqlalchemy import Engine

from chipin.bot.claims import drain, keep_claiming
from chipin.bot.conversation import ConversationEngine
from chipin.bot.messages import Reply
from chipin.bot.render import render
from chipin.bot.turns import Outcome, Turn
from chipin.store.inbox import InboxItem
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.worker")


class LeaseLost(Exception):
    """Another worker took this conversation over (our lease expired): stop, write nothing."""


class Worker:
    def __init__(
        self,
        engine: Engine,
        conversation: ConversationEngine,
        *,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        max_attempts: int = 3,
        batch: int = 50,
        on_outbox: Callable[[], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.conversation = conversation
        self.lease = lease
        self.max_attempts = max_attempts
        self.batch = batch
        self.on_outbox = on_outbox or (lambda: None)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)

    # -- database steps (blocking; run in a thread from the async loop) ---------------------

    def _claim(self, holder: str) -> tuple[str, list[InboxItem]] | None:
        with self.uow() as uow:
            key = uow.inbox.claim_conversation(holder, self.clock(), self.lease)
            if key is None:
                uow.commit()
                return None
            items = uow.inbox.pending(key, self.batch)
            uow.commit()
        return key, items

    def _release(self, key: str, holder: str) -> None:
        with self.uow() as uow:
            uow.inbox.release(key, holder)
            uow.commit()

    def _apply(self, holder: str, turn: Turn) -> Outcome | None:
        now = self.clock()
        with self.uow() as uow:
            if not uow.inbox.renew(turn.conversation_key, holder, now, self.lease):
                raise LeaseLost(turn.conversation_key)
            outcome = self.conversation.apply(uow, turn)
            group = self.conversation.group_of(uow, turn.message)
            locale = group.locale if group else "en_US"
            for n, reply in enumerate(outcome.replies):
                self._queue_reply(uow, turn, n, reply, locale, now)
            if turn.message.action_id:
                self._queue_answer(uow, turn, outcome, now)
            if not uow.inbox.complete(
                turn.inbox_id,
                now,
                result=outcome.result,
                entry_id=outcome.entry_id,
                needs_review=outcome.needs_review,
            ):
                return None  # someone else finished it: roll back what we wrote
            uow.commit()
        return outcome

    def _queue_reply(
        self, uow: SqlUnitOfWork, turn: Turn, n: int, reply: Reply, locale: str, now: dt.datetime
    ) -> None:
        message = turn.message
        if reply.private and message.action_id:
            return  # said in the press's acknowledgement instead (see _queue_answer)
        payload = render(message.channel, reply, locale=locale)
        if message.message_id:
            payload["reply_to"] = message.message_id
        kind = "send"
        if reply.edit and message.action_message_id:
            kind, payload["message_id"] = "edit", message.action_message_id
        uow.outbox.add(
            channel=message.channel,
            conversation_key=turn.conversation_key,
            recipient=message.chat_id,
            kind=kind,
            payload=payload,
            now=now,
            inbox_id=turn.inbox_id,
            dedupe_key=f"inbox-{turn.inbox_id}-{n}",
        )

    def _queue_answer(
        self, uow: SqlUnitOfWork, turn: Turn, outcome: Outcome, now: dt.datetime
    ) -> None:
        """Every button press is acknowledged (Telegram shows a spinner until it is)."""
        private = next((r for r in outcome.replies if r.private), None)
        text = str(private.context.get("text", "")) if private else ""
        uow.outbox.add(
            channel=turn.message.channel,
            conversation_key=turn.conversation_key,
            recipient=turn.message.chat_id,
            kind="answer",
            payload={"action_id": turn.message.action_id, "text": text},
            now=now,
            inbox_id=turn.inbox_id,
            dedupe_key=f"inbox-{turn.inbox_id}-answer",
        )

    def _fail(self, item: InboxItem, error: str) -> str:
        with self.uow() as uow:
            status = uow.inbox.record_failure(item.id, error, self.clock(), self.max_attempts)
            uow.commit()
        return status

    # -- the loop ------------------------------------------------------------------------------

    async def run_once(self, holder: str) -> int:
        """Handle one conversation's pending messages; returns how many were handled."""
        claimed = await asyncio.to_thread(self._claim, holder)
        if claimed is None:
            return 0
        key, items = claimed
        handled = 0
        try:
            for item in items:
                try:
                    turn = await self.conversation.prepare(self.uow, item)
                    outcome = await asyncio.to_thread(self._apply, holder, turn)
                except LeaseLost:
                    log.warning("chipin.lease_lost", conversation=key, inbox_id=item.id)
                    return handled
                except Exception as exc:  # every failure is logged and counted, never lost
                    status = await asyncio.to_thread(
                        self._fail, item, f"{type(exc).__name__}: {exc}"
                    )
                    log.exception("chipin.message_failed", inbox_id=item.id, status=status)
                    if status == "pending":
                        return handled  # retry later, still in order
                    continue
                handled += 1
                if outcome is not None and outcome.replies:
                    self.on_outbox()
        finally:
            await asyncio.to_thread(self._release, key, holder)
        return handled

    async def run(
        self, stop: asyncio.Event, wake: asyncio.Event, *, concurrency: int = 8, poll: float = 0.2
    ) -> None:
        """Run ``concurrency`` claimers until ``stop`` is set; ``wake`` cuts the idle wait."""
        await asyncio.gather(
            *(keep_claiming(self.run_once, "worker", stop, wake, poll) for _ in range(concurrency))
        )

    async def drain(self, *, limit: int = 10_000) -> int:
        """Handle everything pending now (tests, `chipin chat`, `run-once` style use)."""
        return await drain(self.run_once, limit=limit)
