"""Announcements: segment selection, dry run, drafts into real Dovecot once per contact, resumable."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from rapport.mail.draft.context import Promotion
from rapport.mail.draft.install import install_default_templates
from rapport.mail.draft.render import load_template
from rapport.mail.send.announce import parse_segment, run_announcement, summary_line
from rapport.store.book.accounts import create_account
from rapport.store.book.activities import list_activities
from rapport.store.book.contacts import create_contact, list_contacts
from rapport.store.book.deals import create_deal
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
def test_drafts_land_once_per_contact_and_rerun_adds_none(
        home: Path, imap_user, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from rapport.mail.send import announce_delivery

    monkeypatch.setattr(announce_delivery, "DRAFT_BATCH", 2)  # a Ctrl-C between two batches of drafts
    box = imap_user.mailbox_config("work")
    opened, won = _build(home, "[[mailbox]]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    template = load_template(opened.workspace.templates_dir, "promotion")
    args = dict(segment_text="stage=Won tier=key tag=chemicals", promotion=PROMO)
    dry = run_announcement(opened.db, opened.workspace, opened.config, template, **args)
    assert (dry.eligible, dry.delivered, dry.opted_out, dry.no_email) == (3, 0, 1, 1)
    assert str(dry.first["Subject"]) == "Winter offer for Acme"
    assert imap_user.flags("Drafts") == {}

    def crash(count: int, total: int) -> None:  # Ctrl-C after the first batch (two)
        if count == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_announcement(opened.db, opened.workspace, opened.config, template, mode="drafts",
                         progress=crash, **args)
    assert len(imap_user.flags("Drafts")) == 2
    rest = run_announcement(opened.db, opened.workspace, opened.config, template,
                            mode="drafts", **args)
    assert (rest.delivered, rest.already) == (1, 2)
    # Where to look, as the mail client lists it (issue 14: drafts were hard to find).
    assert "; saved in the IMAP folder Drafts of mailbox work" in summary_line(rest)
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
    from rapport.mail.config import SmtpSettings

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
    from rapport.mail.config import SmtpSettings

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
    from rapport.store.mailstore.announcements import find_announcement, journal

    db = open_database(path)
    found = find_announcement(db, "promotion", "winter OFFER")
    assert found is not None
    assert {c: r.status for c, r in journal(db, found.id).items()} == {7: "done", 8: "started"}
    assert db.execute("SELECT count(*) FROM announcements").fetchone()[0] == 1
    db.close()


def _cli(home: Path, *args: str) -> int:
    from rapport.tui.cli.main import main

    return main(["--home", str(home), "announce", "promotion", *args])


def _journal_rows(home: Path) -> int:
    opened = open_workspace(home)
    try:
        return opened.db.execute("SELECT count(*) FROM announcements").fetchone()[0]
    finally:
        opened.close()


def test_cli_modes_are_exclusive_and_dry_runs_leave_no_trace(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    opened, _ = _build(home)
    opened.close()
    promo = ["--promo-name", "Winter offer", "--starts", "2026-12-01", "--ends", "2027-01-31"]
    for both in (["--dry-run", "--drafts"], ["--dry-run", "--send"], ["--drafts", "--send"]):
        with pytest.raises(SystemExit) as exited:
            _cli(home, "--segment", "stage=Won", *promo, *both)
        assert exited.value.code == 2
        assert "not allowed with argument" in capsys.readouterr().err
    assert not (home / "outbox").exists()
    assert _cli(home, "--segment", "stage=Won", *promo, "--dry-run", "--limit", "1") == 0
    assert capsys.readouterr().out.rstrip().endswith(
        "would reach 1 of 3 eligible contacts; already done 0; skipped 1 opted out, "
        "1 without email")
    assert _journal_rows(home) == 0  # a dry run writes nothing, not even the announcement
    for empty in ("", "  "):
        assert _cli(home, "--segment", empty, *promo) == 2
        assert "the segment is empty" in capsys.readouterr().err
    assert _cli(home, "--segment", "all", *promo) == 0
    assert "would reach 4 of 4 eligible contacts" in capsys.readouterr().out
    assert _cli(home, "--segment", "all", *promo, "--drafts", "--limit", "2") == 0
    assert "drafted 2 of 4" in capsys.readouterr().out
    assert len(list((home / "outbox").iterdir())) == 2
    assert _cli(home, "--segment", "all", *promo) == 0
    assert "would reach 2 of 4 eligible contacts; already done 2" in capsys.readouterr().out


def test_promotion_from_options_merged_over_the_file(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    opened, _ = _build(home)
    opened.close()
    promo = home / "promo.toml"
    promo.write_text('name = "Winter offer"\nproducts = ["Old"]\nstart = 2026-12-01\n'
                     'end = 2027-01-31\nlink = "https://old.example"\n')
    assert _cli(home, "--segment", "account=Acme", "--promotion", str(promo), "--product", "Gasket",
                "--product", "Seal", "--ends", "2027-02-28", "--link", "https://new.example") == 0
    out = capsys.readouterr().out
    assert "- Gasket\n- Seal\n" in out and "Old" not in out
    assert "1 December to 28 February 2027" in out and "https://new.example" in out
    assert _cli(home, "--segment", "all", "--promo-name", "Spring", "--starts", "2026-03-01",
                "--ends", "2026-04-30") == 0
    assert "Subject: Spring for Acme" in capsys.readouterr().out
    assert _cli(home, "--segment", "all", "--promo-name", "X", "--starts", "soon") == 2
    assert "start must be a date" in capsys.readouterr().err


def test_dry_run_preview_is_decoded(home: Path, capsys: pytest.CaptureFixture) -> None:
    opened, won = _build(home)
    create_contact(opened.db, account_id=won.id, name="Zoë Ærø", emails=["zoe@acme.example"])
    opened.close()
    assert _cli(home, "--segment", "account=Acme", "--promo-name", "Offre d'été", "--starts",
                "2026-06-01", "--ends", "2026-08-31", "--limit", "1") == 0
    out = capsys.readouterr().out
    assert "Subject: Offre d'été for Acme" in out
    assert "=?utf-8?" not in out and "=C3" not in out and "Content-Transfer-Encoding" not in out


NASTY = ("Boss <ceo@evil.example>, Ann", "Doe, Jane", 'Evil "Quote', "Plain Name")


def test_names_never_add_recipients_and_bad_contacts_are_skipped(
        home: Path, smtp_server, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    """Built-ins quote names (contact.address); a template joining name and address is refused
    for the contacts whose name would add a recipient, and the run goes on without them."""
    opened, _ = _build(home, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
                             'security = "plain"\n')
    gamma = create_account(opened.db, "Gamma")
    create_deal(opened.db, gamma.id, "Deal", "Won / support", pipeline=opened.config.pipeline)
    for i, name in enumerate(NASTY):
        create_contact(opened.db, account_id=gamma.id, name=name, emails=[f"g{i}@gamma.example"])
    old_style = (opened.workspace.templates_dir / "promotion.j2").read_text().replace(
        "{{ contact.address }}", "{{ contact.name }} <{{ contact.email }}>")
    (opened.workspace.templates_dir / "old_style.j2").write_text(old_style)
    opened.close()
    promo = ["--promo-name", "Winter offer", "--starts", "2026-12-01", "--ends", "2027-01-31",
             "--segment", "account=Gamma", "--send", "--rate", "6000/min"]
    from rapport.tui.cli.main import main

    assert main(["--home", str(home), "announce", "old_style", *promo]) == 0
    out = capsys.readouterr().out
    assert "skipped \"Boss <ceo@evil.example>, Ann\" <g0@gamma.example>: template 'old_style': " \
           "the rendered to has 2 addresses where the template writes 1" in out
    assert "skipped \"Doe, Jane\" <g1@gamma.example>:" in out
    assert 'skipped "Evil \\"Quote" <g2@gamma.example>: To: ' in out
    assert out.rstrip().endswith("sent 1 of 4 eligible contacts; already done 0; skipped 0 "
                                 "opted out, 0 without email; 3 with bad data")
    assert [r.recipients for r in smtp_server.received] == [["g3@gamma.example"]]
    # The built-in quotes every name: each contact gets exactly one message, to itself only.
    assert main(["--home", str(home), "announce", "promotion", *promo]) == 0
    got = {r.recipients[0]: r for r in smtp_server.received[1:]}
    assert sorted(got) == [f"g{i}@gamma.example" for i in range(4)]  # another template: anew
    assert all(len(r.recipients) == 1 for r in got.values())
    assert str(got["g0@gamma.example"].message["To"]) == (
        '"Boss <ceo@evil.example>, Ann" <g0@gamma.example>')
    assert got["g1@gamma.example"].message["To"].addresses[0].display_name == "Doe, Jane"
    assert "Dear Jane," in got["g1@gamma.example"].message.get_content()


def test_next_years_promotion_of_the_same_name_is_a_new_announcement(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    """Name + start date identify a promotion: a moved end date is the same announcement,
    next year's start is a new one, and the dry run says why everyone counts again."""
    opened, _ = _build(home)
    opened.close()
    this_year = ["--promo-name", "Winter offer", "--starts", "2026-12-01", "--ends", "2027-01-31"]
    assert _cli(home, "--segment", "stage=Won", *this_year, "--drafts") == 0
    out = capsys.readouterr().out
    assert "drafted 3 of 3" in out and f"; saved in {home / 'outbox'}\n" in out, out
    longer = [*this_year[:4], "--ends", "2027-02-28"]
    assert _cli(home, "--segment", "stage=Won", *longer, "--drafts") == 0
    assert "drafted 0 of 3 eligible contacts; already done 3" in capsys.readouterr().out
    next_year = ["--promo-name", "WINTER offer", "--starts", "2027-12-01", "--ends", "2028-01-31"]
    assert _cli(home, "--segment", "stage=Won", *next_year) == 0
    out = capsys.readouterr().out
    assert ("note: a new announcement: 'WINTER offer' from 2027-12-01; the same template "
            "announced it from 2026-12-01 (3 reached), and those contacts are reached again"
            ) in out
    assert "would reach 3 of 3 eligible contacts; already done 0" in out
    assert _cli(home, "--segment", "stage=Won", *next_year, "--drafts") == 0
    assert "drafted 3 of 3" in capsys.readouterr().out
    assert len(list((home / "outbox").iterdir())) == 6
    assert _cli(home, "--segment", "stage=Won", *next_year) == 0
    out = capsys.readouterr().out
    assert "note:" not in out and "already done 3" in out


def test_a_journal_from_before_start_dates_is_kept_by_the_next_run(home: Path) -> None:
    """A journal keyed by the promotion's name alone (before the start date counted) belongs to
    the first run after the upgrade, whatever its start: its contacts are not reached again."""
    opened, _ = _build(home)
    db = opened.db
    db.execute("INSERT INTO announcements (template, promotion, campaign, segment, created_utc)"
               " VALUES ('promotion', 'winter offer', '', 'stage=Won', '2026-11-01T00:00:00Z')")
    [contact] = [c for c in list_contacts(db) if c.email == "ann0@acme.example"]
    db.execute("INSERT INTO announcement_recipients (announcement_id, contact_id, email, status,"
               " mode, message_id) VALUES (1, ?, 'ann0@acme.example', 'done', 'drafts', 'old@x')",
               [contact.id])
    db.conn.commit()
    template = load_template(opened.workspace.templates_dir, "promotion")
    args = dict(segment_text="stage=Won", promotion=PROMO)
    dry = run_announcement(db, opened.workspace, opened.config, template, **args)
    assert (dry.already, dry.planned, dry.earlier_note) == (1, 2, "")
    drafted = run_announcement(db, opened.workspace, opened.config, template, mode="drafts",
                               **args)
    assert (drafted.delivered, drafted.already) == (2, 1)
    assert db.execute("SELECT id, promotion FROM announcements").fetchall() == [
        (1, "winter offer\t2026-12-01")]
    opened.close()
