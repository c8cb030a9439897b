"""Button presses: confirm or cancel a draft, add a guest, undo or restore an entry.

Only the author of a draft or entry may press its buttons; a pressed button is idempotent
(a double-tapped Confirm records once)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from chipin.bot.messages import Action, Reply
from chipin.bot.views import entry_view
from chipin.core import services
from chipin.core.commands import DeleteEntry, RestoreEntry
from chipin.core.ledger_doc import parse_entry
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


from chipin.bot.entries import record
from chipin.bot.replies import notice, undo_button
from chipin.bot.turns import Outcome, Scene


def on_action(
    engine: ConversationEngine, uow: SqlUnitOfWork, scene: Scene, data: str, now: dt.datetime
) -> Outcome:
    verb, _, raw_id = data.partition(":")
    result: dict[str, Any] = {"action": data}
    if not raw_id.isdigit():
        return Outcome(replies=[notice("That button is not mine.", private=True)], result=result)
    target = int(raw_id)
    if verb in ("c", "x"):
        return resolve_draft(uow, scene, target, confirm=verb == "c", now=now, result=result)
    if verb in ("u", "r"):
        return undo_or_restore(uow, scene, target, undo=verb == "u", now=now, result=result)
    return Outcome(replies=[notice("That button is not mine.", private=True)], result=result)


def resolve_draft(
    uow: SqlUnitOfWork,
    scene: Scene,
    draft_id: int,
    *,
    confirm: bool,
    now: dt.datetime,
    result: dict[str, Any],
) -> Outcome:
    found = uow.drafts.get(draft_id)
    if found is None or found.group_id != scene.group.id:
        return Outcome(replies=[notice("That button has expired.", private=True)], result=result)
    if found.author_id != scene.sender.id:
        author = next(
            (m.name for m in uow.ledger.members(scene.group.id) if m.id == found.author_id),
            "its author",
        )
        return Outcome(
            replies=[notice(f"Only {author} can answer this.", private=True)],
            result=result | {"outcome": "not author"},
        )
    if found.status != "pending":
        word = {"confirmed": "already recorded", "cancelled": "already cancelled"}.get(
            found.status, "expired"
        )
        return Outcome(
            replies=[notice(f"This was {word}.", private=True)],
            result=result | {"outcome": found.status},
        )
    if found.kind == "member":
        return resolve_guest(uow, scene, found.id, found.body["name"], confirm, now, result)
    if found.kind == "recurring":
        return resolve_recurring(uow, scene, found.id, found.body, confirm, now, result)
    entry, problems = parse_entry(
        found.kind,
        found.body,
        [m.name for m in uow.ledger.members(scene.group.id)],
        scene.group.currency,
    )
    if entry is None:
        uow.drafts.resolve(found.id, "cancelled", now)
        return Outcome(
            replies=[
                notice(
                    "I can't record this any more: " + "; ".join(p.message for p in problems),
                    edit=True,
                )
            ],
            result=result | {"outcome": "invalid"},
        )
    if not uow.drafts.resolve(found.id, "confirmed" if confirm else "cancelled", now):
        return Outcome(
            replies=[
                Reply(
                    "draft_resolved", {"outcome": "expired", "entry": entry_view(entry)}, edit=True
                )
            ],
            result=result | {"outcome": "expired"},
        )
    if not confirm:
        if found.inbox_id is not None:
            uow.inbox.flag_for_review(found.inbox_id)  # a cancelled draft teaches the parser
        return Outcome(
            replies=[
                Reply(
                    "draft_resolved",
                    {"outcome": "cancelled", "entry": entry_view(entry)},
                    edit=True,
                )
            ],
            result=result | {"outcome": "cancelled"},
        )
    done = record(uow, scene, entry, now, result, external_id=f"draft-{found.id}")
    if done.entry_id is not None:
        uow.drafts.set_entry(found.id, done.entry_id)
        done.replies = [
            Reply(
                "draft_resolved",
                {"outcome": "confirmed", "entry": entry_view(entry, done.entry_id)},
                actions=(undo_button(done.entry_id),),
                edit=True,
            )
        ]
    return done


def resolve_guest(
    uow: SqlUnitOfWork,
    scene: Scene,
    draft_id: int,
    name: str,
    confirm: bool,
    now: dt.datetime,
    result: dict[str, Any],
) -> Outcome:
    if not uow.drafts.resolve(draft_id, "confirmed" if confirm else "cancelled", now):
        return Outcome(replies=[notice("This question expired.", edit=True)], result=result)
    if not confirm:
        return Outcome(
            replies=[notice(f"OK, I won't add {name}.", edit=True)],
            result=result | {"outcome": "cancelled"},
        )
    uow.ledger.add_member(scene.group.id, name, now, is_guest=True)
    return Outcome(
        replies=[notice(f"Added {name} to {scene.group.name}.", edit=True)],
        result=result | {"outcome": "member added", "member": name},
    )


def undo_or_restore(
    uow: SqlUnitOfWork,
    scene: Scene,
    entry_id: int,
    *,
    undo: bool,
    now: dt.datetime,
    result: dict[str, Any],
    edit: bool = True,
) -> Outcome:
    stored = uow.ledger.entry(scene.group.id, entry_id)
    if stored is None:
        return Outcome(replies=[notice("That entry is gone.", private=True)], result=result)
    if stored.author is not None and stored.author != scene.sender.name:
        return Outcome(
            replies=[notice(f"Only {stored.author} can change this entry.", private=True)],
            result=result | {"outcome": "not author"},
        )
    if undo:
        services.delete_entry(
            DeleteEntry(scene.group.id, entry_id, actor=scene.sender.name), uow, clock=lambda: now
        )
        reply = Reply(
            "undone",
            {"entry": entry_view(stored.entry, entry_id)},
            actions=(Action("Restore", f"r:{entry_id}"),),
            edit=edit,
        )
    else:
        services.restore_entry(
            RestoreEntry(scene.group.id, entry_id, actor=scene.sender.name), uow, clock=lambda: now
        )
        reply = Reply(
            "restored",
            {"entry": entry_view(stored.entry, entry_id)},
            actions=(undo_button(entry_id),),
            edit=edit,
        )
    return Outcome(
        replies=[reply],
        result=result | {"outcome": "undone" if undo else "restored", "entry_id": entry_id},
        entry_id=entry_id,
    )


def resolve_recurring(
    uow: SqlUnitOfWork,
    scene: Scene,
    draft_id: int,
    body: dict[str, Any],
    confirm: bool,
    now: dt.datetime,
    result: dict[str, Any],
) -> Outcome:
    from chipin.bot.planning import confirm_recurring

    if not uow.drafts.resolve(draft_id, "confirmed" if confirm else "cancelled", now):
        return Outcome(replies=[notice("This question expired.", edit=True)], result=result)
    if not confirm:
        return Outcome(
            replies=[notice("OK, nothing set up.", edit=True)],
            result=result | {"outcome": "cancelled"},
        )
    created = confirm_recurring(uow, scene, body, now)
    if created is None:
        return Outcome(
            replies=[notice("I can't set this up any more (the group changed).", edit=True)],
            result=result | {"outcome": "invalid"},
        )
    rule_id, described = created
    return Outcome(
        replies=[
            notice(
                f"🔁 Set up as recurring entry #{rule_id}: {described}. "
                f"Stop it with /recurring cancel {rule_id}.",
                edit=True,
            )
        ],
        result=result | {"outcome": "recurring set", "rule_id": rule_id},
    )
