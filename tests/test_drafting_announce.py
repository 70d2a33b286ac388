"""Announcements: segment selection, dry run, drafts into real Dovecot once per contact, resumable."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from rapport.mail.announce import parse_segment, run_announcement
from rapport.mail.draft_context import Promotion
from rapport.mail.drafting import install_default_templates, load_template
from rapport.store.accounts import create_account
from rapport.store.activities import list_activities
from rapport.store.contacts import create_contact
from rapport.store.deals import create_deal
from rapport.store.errors import InputError
from rapport.store.session import open_workspace

PROMO = Promotion("Winter offer", ("Solvent X",), date(2026, 12, 1), date(2027, 1, 31))


def _build(home: Path, extra: str = ""):  # noqa: ANN202
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[me]\nname = "Sam"\nemail = "sam@rapport.example"\n' + extra)
    opened = open_workspace(home)
    db, pipeline = opened.db, opened.config.pipeline
    won = create_account(db, "Acme", tier="key", tags=["chemicals"])
    create_deal(db, won.id, "Supply", "Won / support", pipeline=pipeline)
    for i in range(3):
        create_contact(db, account_id=won.id, name=f"Ann {i}", emails=[f"ann{i}@acme.example"])
    create_contact(db, account_id=won.id, name="Opted Out", emails=["oo@acme.example"],
                   opted_out=True)
    create_contact(db, account_id=won.id, name="No Mail")
    other = create_account(db, "Beta", tier="key", tags=["chemicals"])
    create_deal(db, other.id, "Trial", "Prospect", pipeline=pipeline)
    create_contact(db, account_id=other.id, name="Bea", emails=["bea@beta.example"])
    install_default_templates(opened.workspace)
    return opened, won


def test_segment_parsing() -> None:
    names = ["Prospect", "Won / support", "Referral"]
    seg = parse_segment('stage=Won,Referral tier=key tag="chemicals"', names)
    assert seg.stages == ("Won / support", "Referral") and seg.tiers == ("key",)
    with pytest.raises(InputError, match="use stage=, tier="):
        parse_segment("colour=red", names)
    with pytest.raises(InputError, match="stage 'x' matches 0 stages"):
        parse_segment("stage=x", names)


@pytest.mark.dovecot
def test_drafts_land_once_per_contact_and_rerun_adds_none(home: Path, imap_user) -> None:  # noqa: ANN001
    box = imap_user.mailbox_config("work")
    opened, won = _build(home, "[[mailbox]]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    template = load_template(opened.workspace.templates_dir, "promotion")
    args = dict(segment_text="stage=Won tier=key tag=chemicals", promotion=PROMO)
    dry = run_announcement(opened.db, opened.workspace, opened.config, template, **args)
    assert (dry.eligible, dry.delivered, dry.opted_out, dry.no_email) == (3, 0, 1, 1)
    assert str(dry.first["Subject"]) == "Winter offer for Acme"
    assert imap_user.flags("Drafts") == {}

    def crash(count: int) -> None:  # an interrupted run: Ctrl-C after the second draft
        if count == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_announcement(opened.db, opened.workspace, opened.config, template, mode="drafts",
                         progress=crash, **args)
    assert len(imap_user.flags("Drafts")) == 2
    rest = run_announcement(opened.db, opened.workspace, opened.config, template,
                            mode="drafts", **args)
    assert (rest.delivered, rest.already) == (1, 2)
    again = run_announcement(opened.db, opened.workspace, opened.config, template,
                             mode="drafts", **args)
    assert again.delivered == 0
    flags = imap_user.flags("Drafts")
    assert len(flags) == 3 and all(b"\\Draft" in f for f in flags.values())
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        data = client.fetch(client.search("ALL"), [b"BODY.PEEK[HEADER.FIELDS (TO)]"])
    to = sorted(d[b"BODY[HEADER.FIELDS (TO)]"].decode().strip() for d in data.values())
    assert to == [f"To: Ann {i} <ann{i}@acme.example>" for i in range(3)]
    assert [a.kind for a in list_activities(opened.db, won.id, kinds=["announcement"])] == [
        "announcement"]
    opened.close()


def test_send_through_smtp_with_limit(home: Path, smtp_server) -> None:  # noqa: ANN001
    from rapport.mail.smtp import SmtpSettings

    opened, _ = _build(home)
    template = load_template(opened.workspace.templates_dir, "promotion")
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "plain")
    args = dict(segment_text="tier=key", promotion=PROMO, mode="send", smtp=settings)
    first = run_announcement(opened.db, opened.workspace, opened.config, template, limit=2, **args)
    assert (first.eligible, first.delivered) == (4, 2)
    rest = run_announcement(opened.db, opened.workspace, opened.config, template, **args)
    assert rest.delivered == 2
    assert sorted(r.recipients[0] for r in smtp_server.received) == [
        "ann0@acme.example", "ann1@acme.example", "ann2@acme.example", "bea@beta.example"]
    opened.close()


pytest_plugins = ["smtp_fixture"]


def test_announce_cli_dry_run_and_errors(home: Path, capsys: pytest.CaptureFixture) -> None:
    from rapport.tui.cli.main import main

    opened, _ = _build(home)
    opened.close()
    promo = home / "promo.toml"
    promo.write_text('name = "Winter offer"\nstart = 2026-12-01\nend = 2027-01-31\n')
    assert main(["--home", str(home), "announce", "promotion", "--segment", "stage=Won",
                 "--promotion", str(promo)]) == 0
    out = capsys.readouterr().out
    assert "Subject: Winter offer for Acme" in out
    assert out.rstrip().endswith("would reach 3 of 3 eligible contacts; already done 0; "
                                 "skipped 1 opted out, 1 without email")
    assert main(["--home", str(home), "announce", "promotion", "--segment", "color=red"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["--home", str(home), "announce", "promotion", "--segment", "tier=key"]) == 2
    assert "'promotion' is undefined" in capsys.readouterr().err


def test_same_announcement_whatever_the_segment_text(home: Path, smtp_server) -> None:  # noqa: ANN001
    """Spelling, order or widening of the segment never reaches a contact a second time."""
    from rapport.mail.smtp import SmtpSettings

    opened, _ = _build(home)
    template = load_template(opened.workspace.templates_dir, "promotion")
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "plain")
    run = dict(promotion=PROMO, mode="send", smtp=settings)
    results = [run_announcement(opened.db, opened.workspace, opened.config, template,
                                segment_text=segment, **run)
               for segment in ("stage=Won", "stage=won", "stage=Won tier=key",
                               "tier=key stage=Won", "tier=key")]
    assert [r.delivered for r in results] == [3, 0, 0, 0, 1]  # the widening adds only Bea
    assert [r.already for r in results] == [0, 3, 3, 3, 3]
    got = sorted(r.recipients[0] for r in smtp_server.received)
    assert got == ["ann0@acme.example", "ann1@acme.example", "ann2@acme.example",
                   "bea@beta.example"]
    # The promotion's name identifies it whatever its case; a campaign name starts afresh.
    renamed = Promotion("WINTER  offer", PROMO.products, PROMO.start, PROMO.end)
    again = run_announcement(opened.db, opened.workspace, opened.config, template,
                             segment_text="tier=key", **{**run, "promotion": renamed})
    assert again.delivered == 0
    fresh = run_announcement(opened.db, opened.workspace, opened.config, template,
                             segment_text="tier=key", campaign="Reminder", **run)
    assert fresh.delivered == 4 and len(smtp_server.received) == 8
    opened.close()


def test_old_segment_keyed_journals_merge_on_upgrade(tmp_path: Path) -> None:
    """A workspace journaled by segment text (m003) keeps every reached contact reached."""
    from rapport.store.db import open_database
    from rapport.store.migrations import migrations

    path = tmp_path / "rapport.db"
    db = open_database(path, migrate=False)
    migrations.apply(db, stop_before="m005_announcement_identity")
    db.execute("INSERT INTO announcements VALUES (1, 'promotion|stage=Won|Winter offer',"
               " 'promotion', 'stage=Won', '2026-01-01T00:00:00Z')")
    db.execute("INSERT INTO announcements VALUES (2, 'promotion|tier=key|Winter offer',"
               " 'promotion', 'tier=key', '2026-01-02T00:00:00Z')")
    for ann, contact, status in ((1, 7, "done"), (2, 7, "started"), (2, 8, "started")):
        db.execute("INSERT INTO announcement_recipients VALUES (?, ?, 'x@y.example', ?,"
                   " 'send', 'm@x', NULL)", [ann, contact, status])
    db.conn.commit()
    db.close()
    from rapport.store.announcements import find_announcement, journal

    db = open_database(path)
    found = find_announcement(db, "promotion", "winter OFFER")
    assert found is not None
    assert {c: r.status for c, r in journal(db, found.id).items()} == {7: "done", 8: "started"}
    assert db.execute("SELECT count(*) FROM announcements").fetchone()[0] == 1
    db.close()
