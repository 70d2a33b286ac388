"""Tests `rapport demo`: a deterministic, complete demo book and Maildir, rebuilt safely."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import stat
from datetime import date
from pathlib import Path

import pytest

from rapport.store.book import activities, deals
from rapport.store.errors import WorkspaceError
from rapport.store.io.export import export
from rapport.store.session import OpenWorkspace
from rapport.store.views import today as today_view
from rapport.tui.cli.main import main
from rapport.tui.demo.build import MARKER, build_demo
from rapport.tui.demo.maildir import ANSWERED_AFTER_DAYS

TODAY = date(2026, 11, 20)
SIZE = {"accounts": 12, "contacts": 30, "deals": 20, "messages": 400}


def _build(home: Path) -> OpenWorkspace:
    return build_demo(home, today=TODAY, **SIZE)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> OpenWorkspace:
    opened = _build(tmp_path_factory.mktemp("demo") / "home")
    yield opened
    opened.close()


def book_text(opened: OpenWorkspace) -> str:
    out = io.StringIO()
    for kind in ("accounts", "contacts", "deals"):
        export(opened.db, kind, "csv", out)
    return out.getvalue()


def maildir_digest(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((home / "Maildir").rglob("*")) if p.is_file()
    }


def test_demo_is_deterministic(demo: OpenWorkspace, tmp_path: Path) -> None:
    again = _build(tmp_path / "again")
    try:
        assert book_text(again) == book_text(demo)
        assert maildir_digest(tmp_path / "again") == maildir_digest(demo.workspace.config_dir)
    finally:
        again.close()


def test_demo_book_covers_the_pipeline(demo: OpenWorkspace) -> None:
    db, pipeline = demo.db, demo.config.pipeline
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("accounts", "contacts", "deals")}
    assert counts == {"accounts": 12, "contacts": 30, "deals": 20}
    all_deals = deals.list_deals(db)
    assert {d.stage for d in all_deals} == set(pipeline.names)
    open_deals = [d for d in all_deals if pipeline.get(d.stage).kind == "open"]
    assert any(d.next_action_due and d.next_action_due < TODAY for d in open_deals), "overdue"
    assert any(deals.is_rotting(d, pipeline, TODAY) for d in open_deals), "rotting"
    assert any(not deals.is_rotting(d, pipeline, TODAY) for d in open_deals)
    kinds: dict[str, int] = {}
    resolved = set()
    for account_id, in db.execute("SELECT id FROM accounts").fetchall():
        for a in activities.list_activities(db, account_id):
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
            if a.kind == "objection":
                resolved.add(a.resolved)
    assert {"note", "call", "meeting", "objection", "stage_change"} <= set(kinds)
    assert resolved == {True, False}, "objections both open and resolved"
    tiers = {row[0] for row in db.execute("SELECT tier FROM accounts")}
    assert tiers == {"key", "standard"}
    assert demo.config.me.email and demo.config.raw["maildir"][0]["path"].endswith("Maildir")


def test_demo_maildir_looks_like_real_mail(demo: OpenWorkspace) -> None:
    root = demo.workspace.config_dir / "Maildir"
    inbox, sent = list((root / "cur").iterdir()), list((root / ".Sent" / "cur").iterdir())
    assert len(inbox) + len(sent) == 400 and inbox and sent
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in inbox[:20])
    parsed = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
              for p in inbox + sent]
    assert all(not m.defects and m["Message-ID"] and m["Date"] for m in parsed)
    ids = {m["Message-ID"] for m in parsed}
    replies = [m for m in parsed if m["In-Reply-To"]]
    assert replies and all(m["In-Reply-To"] in ids for m in replies)
    assert any(m.get_content_type() == "multipart/alternative" for m in parsed)
    senders = {m["From"].addresses[0].domain for m in parsed}
    assert "gmail.com" in senders or "outlook.com" in senders or "gmx.de" in senders
    assert any(not name.endswith(":2,S") and ":2," in name for name in (p.name for p in inbox))


def test_demo_mail_is_ingested(demo: OpenWorkspace) -> None:
    db = demo.db
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 400
    folders = {(r[0], r[1]) for r in db.execute("SELECT mailbox, name FROM folders")}
    assert {("demo", "INBOX"), ("demo", "Sent")} <= folders
    linked = db.execute("SELECT count(DISTINCT message_id) FROM message_accounts").fetchone()[0]
    assert 300 < linked < 400, "most mail is linked to accounts, the unknown senders are not"
    rules = {r[0] for r in db.execute("SELECT rule FROM message_accounts")}
    assert rules == {"contact", "domain"}
    without_mail = db.execute("SELECT count(*) FROM accounts a WHERE NOT EXISTS"
                              " (SELECT 1 FROM message_accounts ma WHERE ma.account_id = a.id)")
    assert without_mail.fetchone()[0] == 0, "every account's timeline has mail"


def test_demo_fills_today(demo: OpenWorkspace) -> None:
    """Today shows every kind of line, and only a few old client mails were never answered."""
    items = today_view.today_items(demo.db, TODAY, demo.config.stale_after_days)
    sections = {item.section for item in items}
    assert sections == {"due", "stale", "unanswered"}
    stale = [item for item in items if item.section == "stale"]
    assert 0 < len(stale) < SIZE["accounts"] // 2
    waiting = [date.fromisoformat(item.day) for item in items if item.section == "unanswered"]
    recent = [day for day in waiting if (TODAY - day).days <= ANSWERED_AFTER_DAYS]
    assert recent and len(recent) * 2 > len(waiting), "mostly recent mail is waiting"
    client_mail = demo.db.execute(
        "SELECT count(*) FROM messages m JOIN message_accounts ma ON ma.message_id = m.id"
        " WHERE m.direction = 'in'").fetchone()[0]
    assert len(waiting) * 10 < client_mail


def test_demo_refuses_foreign_folders_and_rebuilds_its_own(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(WorkspaceError, match="not a Rapport demo folder"):
        build_demo(precious, accounts=2, contacts=2, deals=2, messages=5)
    assert (precious / "thesis.txt").read_text() == "do not delete"

    home = tmp_path / "demo"
    assert main(["demo", "--home", str(home), "--no-tui"]) == 0
    assert main(["--home", str(home), "status"]) == 0
    (home / "left-over").write_text("x")
    build_demo(home, accounts=2, contacts=2, deals=2, messages=5).close()
    assert (home / MARKER).exists() and not (home / "left-over").exists()


def private_modes(root: Path) -> dict[str, str]:
    """Every folder and file under `root` (itself included) that is not 0700 / 0600."""
    wrong = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path.relative_to(root.parent))] = oct(mode)
    return wrong


def test_demo_folders_and_files_are_private_under_a_loose_umask(tmp_path: Path,
                                                                umask_022: None) -> None:
    """The Maildir and its Maildir++ .Sent were created 0755 by mkdir(parents=True)."""
    home = tmp_path / "shared" / "demo"
    build_demo(home, today=TODAY, accounts=3, contacts=5, deals=3, messages=40).close()
    assert (home / "Maildir" / ".Sent" / "cur").is_dir()
    assert any((home / "Maildir" / "cur").iterdir())
    assert private_modes(home) == {}
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o700


def test_default_demo_home_is_private_under_xdg_data_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None) -> None:
    data_home = tmp_path / "xdg-data-for-demo"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    assert main(["demo", "--no-tui"]) == 0
    home = data_home / "rapport-demo"
    assert (home / MARKER).exists() and (home / "rapport.db").exists()
    assert (home / "Maildir" / ".Sent").is_dir()
    assert private_modes(home) == {}


def test_demo_mail_is_never_dated_after_now() -> None:
    """Built today, the demo's newest mail is not later in the day than the moment of the build."""
    import random
    from datetime import UTC, datetime

    from rapport.tui.demo.data import INDUSTRIES
    from rapport.tui.demo.maildir import DemoAccount, Person, generate_mail

    before = datetime.now(UTC)
    client = Person("Ann Client", "ann@acme.example")
    accounts = [DemoAccount(name="Acme", domain="acme.example", industry=INDUSTRIES[0], contacts=[client])]
    mail = generate_mail(random.Random(7), me=Person("Sam", "sam@rapport.example"), company="Rapport",
                         accounts=accounts, total=300, today=before.date(), days=3)
    assert max(m.when for m in mail) <= datetime.now(UTC)


def test_demo_book_is_never_dated_after_now(tmp_path: Path) -> None:
    """Built today, no note, call, meeting or stage change is later than the build."""
    from datetime import UTC, datetime

    opened = build_demo(tmp_path / "home", today=datetime.now(UTC).date(), **SIZE)
    try:
        newest = opened.db.execute("SELECT max(date_utc) FROM activities").fetchone()[0]
    finally:
        opened.close()
    assert newest <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_demo_has_an_outlook_reply_chain_and_a_forward_the_reader_folds(demo: OpenWorkspace) -> None:
    """So a newcomer can see the reader fold Outlook history and a forward (issue 14)."""
    from rapport.store.mailstore.lookup import get_message
    from rapport.tui.app.screens.reader import fold_quotes

    db = demo.db
    outlook = db.execute("SELECT id FROM messages WHERE direction = 'in' AND body_text LIKE "
                         "'%-----Original Message-----%From: %Sent: %' LIMIT 1").fetchone()
    forward = db.execute("SELECT id FROM messages WHERE subject LIKE 'Fwd: %' AND body_text LIKE "
                         "'%---------- Forwarded message ---------%' LIMIT 1").fetchone()
    assert outlook and forward
    for row, folded in ((outlook, "of earlier mail folded"), (forward, "of earlier mail folded")):
        message = get_message(db, row[0])
        shown = fold_quotes(message.body_text, unfold=False).plain
        assert folded in shown, shown
        assert "Sent: " not in shown and "---------- Forwarded" not in shown, shown
        assert message.date_utc <= f"{TODAY.isoformat()}T23:59:59"
    assert "FYI, forwarding" in get_message(db, forward[0]).snippet
