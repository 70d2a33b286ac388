"""Provides `build_report_workspace`: a small book with hand-checkable report figures for March 2026.

Everything goes through the store's own API (accounts, deals, activities, and messages through
`save_batch`, the path synced mail takes). The store stamps creations, stage changes and resolutions
with the real clock, so those moments are backdated afterwards with one UPDATE each.

The hand-derived figures are in tests/test_reports.py next to the assertions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlite_utils import Database

from rapport.store.book.accounts import create_account
from rapport.store.book.activities import add_activity, resolve_objection
from rapport.store.book.deals import create_deal, move_deal
from rapport.store.book.stages import Pipeline
from rapport.store.reports.period import Period
from rapport.store.session import open_workspace

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
# The report is run on 10 April, after the period: "as of" figures stop at 1 April 00:00.
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
ME = "me@rapport.example"
STALE_AFTER_DAYS = 30
CREATED = "2026-01-05T09:00:00Z"


def set_raw(db: Database, table: str, row_id: int, column: str, value: str) -> None:
    """Store `value` as it is, past the store's own cleaning: what an older workspace (written
    before text was cleaned at ingest) or any other writer may hold. Readers must cope."""
    db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [value, row_id])
    db.conn.commit()


def backdate(db: Database, table: str, row_id: int, column: str, moment: str) -> None:
    """Set one stored moment the store stamped with the real clock (the book is in 2026)."""
    set_raw(db, table, row_id, column, moment)


def _deals(db: Database, ids: dict[str, int]) -> dict[str, int]:
    pipe = Pipeline()
    deals: dict[str, int] = {}

    def deal(key: str, account: str, title: str, stage: str, value: float, **kw: object) -> int:
        deals[key] = create_deal(
            db, ids[account], title, stage, pipeline=pipe, value=value, **kw
        ).id
        # Every deal exists from early January, long before the periods the tests report on.
        backdate(db, "deals", deals[key], "created_utc", CREATED)
        return deals[key]

    deal(
        "renewal",
        "acme",
        "Acme renewal",
        "Proposal presented",
        10000,
        expected_close=date(2026, 4, 15),
        next_action="send terms",
        next_action_due=date(2026, 3, 20),
    )
    deal(
        "upsell",
        "acme",
        "Acme upsell",
        "Prospect",
        2000,
        probability=25,
        expected_close=date(2026, 5, 2),
    )
    deal(
        "pilot",
        "borealis",
        "Borealis pilot",
        "Closing",
        8000,
        expected_close=date(2026, 4, 30),
        next_action="call CFO",
        next_action_due=date(2026, 4, 5),
    )
    deal("support", "cobalt", "Cobalt support", "Needs identified", 1200)
    won, lost = "Won / support", "Lost"
    # (key, account, title, value, the moves out of Closing: (stage, when) oldest first)
    closed = [
        ("licence", "cobalt", "Cobalt licence", 6000, [(won, "2026-03-12T10:00:00Z")]),
        ("training", "acme", "Acme training", 4000, [(won, "2026-02-20T10:00:00Z")]),
        ("extension", "borealis", "Borealis extension", 3000, [("Referral", "2026-03-25T16:00:00Z")]),
        ("audit", "cobalt", "Cobalt audit", 5000, [(lost, "2026-03-05T09:00:00Z")]),
        ("migration", "echo", "Echo migration", 1500, [(lost, "2026-04-02T09:00:00Z")]),
        ("big", "borealis", "Borealis big deal", 20000, [(won, "2026-04-05T09:00:00Z")]),
        # Won in March and moved on in April (to another won stage; to Lost): March's wins
        # still, as their stage-change history says.
        ("rollout", "acme", "Acme rollout", 7000,
         [(won, "2026-03-18T10:00:00Z"), ("Referral", "2026-04-03T10:00:00Z")]),
        ("expansion", "cobalt", "Cobalt expansion", 2500,
         [(won, "2026-03-22T15:00:00Z"), (lost, "2026-04-06T09:00:00Z")]),
    ]  # fmt: skip
    for key, account, title, value, moves in closed:
        move_on(db, deal(key, account, title, "Closing", value), moves)
    return deals


def move_on(db: Database, deal_id: int, moves: list[tuple[str, str]]) -> None:
    """Move the deal through `moves` ((stage, when), oldest first), each dated `when`."""
    for stage, when in moves:
        move_deal(db, deal_id, stage, pipeline=Pipeline())
        _backdate_move(db, deal_id, when)


def _backdate_move(db: Database, deal_id: int, when: str) -> None:
    """Date the deal's last stage change `when`: on the deal and in its timeline history."""
    backdate(db, "deals", deal_id, "stage_changed_utc", when)
    change = db.execute(
        "SELECT max(id) FROM activities WHERE deal_id = ? AND kind = 'stage_change'", [deal_id]
    ).fetchone()[0]
    backdate(db, "activities", change, "date_utc", when)


def _activities(db: Database, ids: dict[str, int]) -> None:
    acts = [
        ("acme", "call", "2026-03-03T09:00:00Z", ""),
        ("acme", "meeting", "2026-03-10T14:00:00Z", ""),
        ("acme", "note", "2026-03-11T08:00:00Z", ""),
        ("acme", "note", "2026-02-27T08:00:00Z", ""),
        ("borealis", "call", "2026-03-15T10:00:00Z", ""),
        ("borealis", "call", "2026-03-20T10:00:00Z", ""),
        ("cobalt", "meeting", "2026-04-03T10:00:00Z", ""),
        ("echo", "call", "2026-02-10T11:00:00Z", ""),
        ("acme", "objection", "2026-03-08T12:00:00Z", "Price too high <b>&amp; | pipes"),
    ]
    for account, kind, when, subject in acts:
        add_activity(db, ids[account], kind, subject=subject, date_utc=when)
    _resolved(db, ids, "objection", [
        ("borealis", "2026-02-15T12:00:00Z", "Contract terms", "2026-03-18T12:00:00Z"),
        ("cobalt", "2026-03-20T12:00:00Z", "Delivery late", "2026-04-05T12:00:00Z"),
    ])
    # Complaints (post-contract support issues), each before its account's last contact so the
    # contact figures stay those of the calls, meetings and mail above.
    add_activity(db, ids["borealis"], "complaint", subject="Pallets damaged",
                 date_utc="2026-03-19T09:00:00Z")
    _resolved(db, ids, "complaint", [
        ("acme", "2026-03-09T09:00:00Z", "Invoice sent twice", "2026-04-02T09:00:00Z"),
        ("cobalt", "2026-03-01T08:00:00Z", "Login broken", "2026-03-15T08:00:00Z"),
    ])


def _resolved(db: Database, ids: dict[str, int], kind: str,
              rows: list[tuple[str, str, str, str]]) -> None:
    """Objections or complaints (account, raised, subject, resolved), each resolved then."""
    for account, when, subject, resolved_at in rows:
        activity = add_activity(db, ids[account], kind, subject=subject, date_utc=when)
        resolve_objection(db, activity.id)
        backdate(db, "activities", activity.id, "resolved_utc", resolved_at)


# (folder, Message-ID, date, from, to, References: the thread so far, oldest first)
Mail = tuple[str, str, str, str, str, tuple[str, ...]]
FOLDER_ROLES = {"INBOX": "inbox", "Sent": "sent", "Drafts": "drafts", "Archive": ""}

MARCH_MAIL: list[Mail] = [
    ("INBOX", "a1@acme.example", "2026-03-02T09:00:00Z", "bob@acme.example", ME, ()),
    ("INBOX", "b1@borealis.example", "2026-03-16T08:00:00Z", "eve@borealis.example", ME, ()),
    ("INBOX", "b2@borealis.example", "2026-03-16T09:00:00Z", "eve@borealis.example", ME,
     ("b1@borealis.example",)),
    ("INBOX", "c1@cobalt.example", "2026-03-28T10:00:00Z", "kim@cobalt.example", ME, ()),
    ("INBOX", "a2@acme.example", "2026-02-25T10:00:00Z", "bob@acme.example", ME, ()),
    ("INBOX", "spam@gmail.com", "2026-03-05T10:00:00Z", "random@gmail.com", ME, ()),
    ("INBOX", "a3@acme.example", "2026-04-02T10:00:00Z", "bob@acme.example", ME, ()),
    ("Sent", "o1@rapport.example", "2026-03-02T11:30:00Z", ME, "bob@acme.example",
     ("a1@acme.example",)),
    ("Sent", "o2@rapport.example", "2026-03-16T14:00:00Z", ME, "eve@borealis.example",
     ("b1@borealis.example", "b2@borealis.example")),
    ("Sent", "o3@rapport.example", "2026-03-01T10:00:00Z", ME, "bob@acme.example",
     ("a2@acme.example",)),
    ("Drafts", "d1@rapport.example", "2026-03-15T10:00:00Z", ME, "bob@acme.example",
     ("a1@acme.example",)),
]  # fmt: skip


def save_mails(db: Database, mails: list[Mail]) -> None:
    """Store `mails` folder by folder through `save_batch`, as a sync would."""
    from rapport.store.mailstore.messages import NewMessage, get_or_create_folder, save_batch

    template = NewMessage(
        uid=0,
        message_id="",
        in_reply_to="",
        refs=(),
        date_utc="",
        from_name="",
        from_addr="",
        to=(),
        cc=(),
        reply_to=(),
        subject="",
        snippet="",
        body_text="",
        attachments=(),
        size=100,
        seen=True,
        answered=False,
        flagged=False,
        draft=False,
    )
    batches: dict[str, list[NewMessage]] = {name: [] for name in FOLDER_ROLES}
    for folder, mid, when, sender, to, refs in mails:
        batch = batches[folder]
        batch.append(
            replace(
                template,
                uid=len(batch) + 1,
                message_id=mid,
                date_utc=when,
                from_addr=sender,
                to=(("", to),),
                in_reply_to=refs[-1] if refs else "",
                refs=refs,
                subject=f"about {mid}",
                draft=folder == "Drafts",
            )
        )
    me = frozenset({ME})
    for name, role in FOLDER_ROLES.items():
        batch = batches[name]
        if not batch:
            continue
        folder = get_or_create_folder(db, "work", name, role)
        save_batch(
            db,
            folder.id,
            batch,
            last_uid=len(batch),
            uidvalidity=1,
            highestmodseq=None,
            my_addresses=me,
        )


def build_report_workspace(home: Path, *, with_mail: bool = True) -> Path:
    """Create the March 2026 book under `home` (config default: stale_after_days = 30)."""
    opened = open_workspace(home)
    db = opened.db
    try:
        ids = {
            "acme": create_account(db, "Acme", domains=["acme.example"], tier="key").id,
            "borealis": create_account(db, "Borealis", domains=["borealis.example"], tier="key").id,
            "cobalt": create_account(db, "Cobalt", domains=["cobalt.example"]).id,
            "dormant": create_account(db, "Dormant", domains=["dormant.example"]).id,
            "echo": create_account(db, "Echo", domains=["echo.example"]).id,
        }
        _deals(db, ids)
        _activities(db, ids)
        if with_mail:
            save_mails(db, MARCH_MAIL)
    finally:
        opened.close()
    return home
