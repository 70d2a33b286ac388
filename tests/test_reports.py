"""Report figures on a hand-built March 2026 book, and the CLI's formats agreeing with each other.

Book (tests/report_workspace.py), default pipeline, report for 2026-03 run on 2026-04-10, so the
"as of" figures stop at 2026-04-01T00:00:00Z (last day counted: 31 March).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from report_workspace import (
    CREATED,
    MARCH,
    ME,
    NOW,
    STALE_AFTER_DAYS,
    Mail,
    backdate,
    build_report_workspace,
    move_on,
    save_mails,
    set_raw,
)

from rapport.store.book.accounts import create_account
from rapport.store.book.activities import add_activity
from rapport.store.book.deals import create_deal, move_deal
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError
from rapport.store.reports.figures import (
    AccountActivity,
    ClosedDeal,
    ForecastMonth,
    KeyAccount,
    Report,
    StageFigures,
    build_report,
    deals_as_of,
)
from rapport.store.reports.period import Period, parse_period
from rapport.store.session import open_workspace
from rapport.store.views.queries import pipeline_rows
from rapport.store.views.today import today_items
from rapport.tui.render.report_formats import csv_rows, render_csv, render_json, render_md

RAPPORT = [sys.executable, "-m", "rapport.tui.cli.main"]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report_workspace(tmp_path_factory.mktemp("report") / "ws")


@pytest.fixture(scope="module")
def report(book: Path) -> Report:
    opened = open_workspace(book)
    try:
        return build_report(
            opened.db, Pipeline(), MARCH, stale_after_days=STALE_AFTER_DAYS, now=NOW
        )
    finally:
        opened.close()


def test_pipeline_by_stage_covers_every_deal(report: Report) -> None:
    # weighted = value x (explicit probability, else stage default):
    #   Prospect: upsell 2000 x 25% (explicit)                   = 500
    #   Needs identified: support 1200 x 35%                      = 420
    #   Proposal presented: renewal 10000 x 50%                   = 5000
    #   Closing: pilot 8000 x 80%                                  = 6400
    #   Won / support: licence 6000 + training 4000 + big 20000 = 30000 x 100%
    #   Referral: extension 3000 + rollout 7000 (there since 3 April) = 10000 x 100%
    #   Lost: audit 5000 + migration 1500 + expansion 2500 (since 6 April) = 9000 x 0%
    assert report.stages == (
        StageFigures("Prospect", "open", 1, 2000.0, 500.0),
        StageFigures("Appointment", "open", 0, 0.0, 0.0),
        StageFigures("Needs identified", "open", 1, 1200.0, 420.0),
        StageFigures("Proposal presented", "open", 1, 10000.0, 5000.0),
        StageFigures("Objections", "open", 0, 0.0, 0.0),
        StageFigures("Closing", "open", 1, 8000.0, 6400.0),
        StageFigures("Won / support", "won", 3, 30000.0, 30000.0),
        StageFigures("Referral", "won", 2, 10000.0, 10000.0),
        StageFigures("Lost", "lost", 3, 9000.0, 0.0),
    )
    assert report.total_deals == 12
    # Open: 2000 + 1200 + 10000 + 8000; weighted 500 + 420 + 5000 + 6400.
    assert (report.open_value, report.open_weighted) == (21200.0, 12320.0)


def test_won_and_lost_are_the_stage_changes_inside_the_period(report: Report, book: Path) -> None:
    # training won in February, big won and migration lost in April: all outside March.
    # rollout (won 18 March, Won / support -> Referral on 3 April) and expansion (won 22 March,
    # lost on 6 April) are March wins: their history says so, whatever their stage now.
    assert [(d.title, d.stage, d.value, d.closed_utc) for d in report.won] == [
        ("Cobalt licence", "Won / support", 6000.0, "2026-03-12T10:00:00Z"),
        ("Acme rollout", "Won / support", 7000.0, "2026-03-18T10:00:00Z"),
        ("Cobalt expansion", "Won / support", 2500.0, "2026-03-22T15:00:00Z"),
        ("Borealis extension", "Referral", 3000.0, "2026-03-25T16:00:00Z"),
    ]
    assert report.lost == (
        ClosedDeal(
            report.lost[0].deal_id,
            report.lost[0].account_id,
            "Cobalt",
            "Cobalt audit",
            "Lost",
            5000.0,
            "EUR",
            "2026-03-05T09:00:00Z",
            5000.0,  # in the base currency, EUR itself
        ),
    )
    # 6000 + 7000 + 2500 + 3000 = 18500 won; audit's 5000 lost.
    assert (report.won_value, report.lost_value) == (18500.0, 5000.0)

    # April: big won on 5 April (from Closing); rollout's move on 3 April was from a won stage
    # to another, no new win. Lost: migration 2 April 1500 + expansion 6 April 2500 (from a won
    # stage: still a loss) = 4000.
    opened = open_workspace(book)
    try:
        april = build_report(opened.db, Pipeline(), MARCH.shifted(1),
                             stale_after_days=STALE_AFTER_DAYS, now=NOW)
    finally:
        opened.close()
    assert [(d.title, d.value, d.closed_utc) for d in april.won] == [
        ("Borealis big deal", 20000.0, "2026-04-05T09:00:00Z"),
    ]
    assert [(d.title, d.stage, d.value, d.closed_utc) for d in april.lost] == [
        ("Echo migration", "Lost", 1500.0, "2026-04-02T09:00:00Z"),
        ("Cobalt expansion", "Lost", 2500.0, "2026-04-06T09:00:00Z"),
    ]
    assert (april.won_value, april.lost_value) == (20000.0, 4000.0)


def test_won_and_lost_follow_each_deals_stage_history(tmp_path: Path) -> None:
    # Deals created in Closing on 5 January, then moved (all 10:00):
    #   Twice     1000: won 3 Mar, back to Closing 10 Mar, won 20 Mar -> one March win, 20 Mar
    #   Reopened  2000: lost 9 Mar, back to Closing 4 Apr             -> a March loss; April none
    #   Then lost 4000: won 5 Mar, lost 25 Mar                        -> March win and loss
    #   Earlier   8000: won 10 Feb, Won / support -> Referral 12 Mar  -> February's win only
    # Born won 16000: created in Referral on 15 March 12:00, never moved -> a March win.
    # March won: Then lost (5th), Born won (15th), Twice (20th) = 4000 + 16000 + 1000 = 21000;
    # lost: Reopened (9th), Then lost (25th) = 2000 + 4000 = 6000. February won: Earlier 8000.
    home = tmp_path / "ws"
    opened = open_workspace(home)
    won, lost, closing = "Won / support", "Lost", "Closing"
    try:
        db, pipe = opened.db, Pipeline()
        client = create_account(db, "Client").id
        for title, value, moves in [
            ("Twice", 1000, [(won, "03-03"), (closing, "03-10"), (won, "03-20")]),
            ("Reopened", 2000, [(lost, "03-09"), (closing, "04-04")]),
            ("Then lost", 4000, [(won, "03-05"), (lost, "03-25")]),
            ("Earlier", 8000, [(won, "02-10"), ("Referral", "03-12")]),
        ]:
            deal = create_deal(db, client, title, closing, pipeline=pipe, value=value)
            backdate(db, "deals", deal.id, "created_utc", CREATED)
            move_on(db, deal.id, [(stage, f"2026-{day}T10:00:00Z") for stage, day in moves])
        born = create_deal(db, client, "Born won", "Referral", pipeline=pipe, value=16000)
        for column in ("created_utc", "stage_changed_utc"):
            backdate(db, "deals", born.id, column, "2026-03-15T12:00:00Z")
        reports = {
            period.label: build_report(db, pipe, period, stale_after_days=30, now=NOW)
            for period in (MARCH.shifted(-1), MARCH, MARCH.shifted(1))
        }
    finally:
        opened.close()

    def closed(deals: tuple[ClosedDeal, ...]) -> list[tuple[str, str, float, str]]:
        return [(d.title, d.stage, d.value, d.closed_utc[:10]) for d in deals]

    march = reports["2026-03"]
    assert closed(march.won) == [
        ("Then lost", won, 4000.0, "2026-03-05"),
        ("Born won", "Referral", 16000.0, "2026-03-15"),
        ("Twice", won, 1000.0, "2026-03-20"),
    ]
    assert closed(march.lost) == [
        ("Reopened", lost, 2000.0, "2026-03-09"),
        ("Then lost", lost, 4000.0, "2026-03-25"),
    ]
    assert (march.won_value, march.lost_value) == (21000.0, 6000.0)
    assert closed(reports["2026-02"].won) == [("Earlier", won, 8000.0, "2026-02-10")]
    assert (reports["2026-04"].won, reports["2026-04"].lost) == ((), ())


def test_forecast_groups_open_deals_by_expected_close_month(report: Report) -> None:
    # April: renewal 10000 (w 5000) + pilot 8000 (w 6400); May: upsell 2000 (w 500);
    # support has no expected close.
    assert report.forecast == (
        ForecastMonth("2026-04", 2, 18000.0, 11400.0),
        ForecastMonth("2026-05", 1, 2000.0, 500.0),
        ForecastMonth("no date", 1, 1200.0, 420.0),
    )


def test_activity_per_account_in_the_period(report: Report) -> None:
    # Acme: in a1; out o1, o3 (the draft d1 and April's a3 do not count); call, meeting, one March note.
    # Borealis: in b1, b2; out o2; two calls. Cobalt: in c1 (its meeting is in April).
    # Dormant and Echo did nothing in March; the gmail sender matches no account.
    assert [
        (a.account, a.mails_in, a.mails_out, a.calls, a.meetings, a.notes) for a in report.activity
    ] == [
        ("Acme", 1, 2, 1, 1, 1),
        ("Borealis", 2, 1, 2, 0, 0),
        ("Cobalt", 1, 0, 0, 0, 0),
    ]
    assert isinstance(report.activity[0], AccountActivity)


def test_median_first_response_to_client_mail(report: Report) -> None:
    # A wait starts at a thread's first client mail after our last mail in it; follow-ups
    # before our reply belong to it. March client mail: a1, b1, b2, c1 (4; the gmail message
    # is no client's, a2 is February's, a3 April's). Waits begun in March:
    #   a1 02 Mar 09:00 -> o1 02 Mar 11:30                = 2.5 h
    #   b1 16 Mar 08:00 (b2 at 09:00 is a follow-up) -> o2 16 Mar 14:00 = 6 h (one wait, not two)
    #   c1 28 Mar 10:00, never answered (the draft d1 is no reply)
    # a2 -> o3 began in February. Median of 2.5 and 6 = 4.25 h; 2 of 3 waits answered.
    fr = report.first_response
    assert (fr.inbound, fr.waits, fr.answered, fr.unanswered, fr.median_hours) == (
        4,
        3,
        2,
        1,
        4.25,
    )


def test_first_response_counts_each_wait_once(tmp_path: Path) -> None:
    home = build_report_workspace(tmp_path / "ws", with_mail=False)
    opened = open_workspace(home)
    try:
        create_account(opened.db, "Delta", domains=["delta.example"])
        save_mails(opened.db, DELTA_MAIL)
        report = build_report(opened.db, Pipeline(), MARCH, stale_after_days=30, now=NOW)
    finally:
        opened.close()
    # Waits begun in March, by thread:
    #   t1: t1a 05 Mar 09:00 (+ follow-up t1b 10:00) -> r1 13:00 = 4 h; t1c 06 Mar 08:00 -> r2
    #       09:30 = 1.5 h (a new wait: it came after our reply)
    #   t2: began 27 Feb (t2b on 01 Mar is a follow-up in February's wait): not a March wait
    #   t3: t3a 10 Mar 08:00, in INBOX and Archive (one Message-ID, one wait) -> r3 18:00 = 10 h
    #   t4: t4a 30 Mar 12:00 -> r4 01 Apr 12:00 = 24 h (answered after the period still counts)
    #   t5: we wrote first (05 09:00); the client's t5a 12 Mar 11:00 -> r5 13 Mar 11:00 = 24 h
    #   t6: t6a 20 Mar, unanswered
    # 6 waits, 5 answered: median of 1.5, 4, 10, 24, 24 = 10 h.
    # Client mails in March: t1a t1b t1c t2b t3a t4a t5a t6a = 8 (t3a once).
    fr = report.first_response
    assert (fr.inbound, fr.waits, fr.answered, fr.unanswered, fr.median_hours) == (
        8,
        6,
        5,
        1,
        10.0,
    )
    # The duplicate Message-ID is one mail in the activity table too; out: r1 r2 r3 r5 t5o t2r.
    delta = next(a for a in report.activity if a.account == "Delta")
    assert (delta.mails_in, delta.mails_out) == (8, 6)


D = "dan@delta.example"
DELTA_MAIL: list[Mail] = [
    ("INBOX", "t1a@delta", "2026-03-05T09:00:00Z", D, ME, ()),
    ("INBOX", "t1b@delta", "2026-03-05T10:00:00Z", D, ME, ("t1a@delta",)),
    ("Sent", "t1r1@me", "2026-03-05T13:00:00Z", ME, D, ("t1a@delta", "t1b@delta")),
    ("INBOX", "t1c@delta", "2026-03-06T08:00:00Z", D, ME, ("t1a@delta", "t1b@delta", "t1r1@me")),
    ("Sent", "t1r2@me", "2026-03-06T09:30:00Z", ME, D,
     ("t1a@delta", "t1b@delta", "t1r1@me", "t1c@delta")),
    ("INBOX", "t2a@delta", "2026-02-27T10:00:00Z", D, ME, ()),
    ("INBOX", "t2b@delta", "2026-03-01T10:00:00Z", D, ME, ("t2a@delta",)),
    ("Sent", "t2r@me", "2026-03-02T10:00:00Z", ME, D, ("t2a@delta", "t2b@delta")),
    ("INBOX", "t3a@delta", "2026-03-10T08:00:00Z", D, ME, ()),
    ("Archive", "t3a@delta", "2026-03-10T08:00:00Z", D, ME, ()),
    ("Sent", "t3r@me", "2026-03-10T18:00:00Z", ME, D, ("t3a@delta",)),
    ("INBOX", "t4a@delta", "2026-03-30T12:00:00Z", D, ME, ()),
    ("Sent", "t4r@me", "2026-04-01T12:00:00Z", ME, D, ("t4a@delta",)),
    ("Sent", "t5o@me", "2026-03-05T09:00:00Z", ME, D, ()),
    ("INBOX", "t5a@delta", "2026-03-12T11:00:00Z", D, ME, ("t5o@me",)),
    ("Sent", "t5r@me", "2026-03-13T11:00:00Z", ME, D, ("t5o@me", "t5a@delta")),
    ("INBOX", "t6a@delta", "2026-03-20T12:00:00Z", D, ME, ()),
]  # fmt: skip


def test_open_objections_as_of_the_end_of_the_period(report: Report) -> None:
    # Acme's (8 March) is open: 31 - 8 = 23 days old. Cobalt's (20 March) was resolved only on
    # 5 April, so it was open on 31 March: 11 days. Borealis's was resolved on 18 March.
    assert [(o.account, o.subject, o.age_days) for o in report.open_objections] == [
        ("Acme", "Price too high <b>&amp; | pipes", 23),
        ("Cobalt", "Delivery late", 11),
    ]


def test_stale_accounts(report: Report) -> None:
    # Last contact before 1 April: Acme meeting 10 March (21 days), Borealis call 20 March,
    # Cobalt mail c1 28 March; Echo's call on 10 February is 18 + 31 = 49 days old;
    # Dormant was never contacted. Threshold 30 days.
    assert [(s.account, s.last_contact_utc, s.days_since) for s in report.stale_accounts] == [
        ("Dormant", None, None),
        ("Echo", "2026-02-10T11:00:00Z", 49),
    ]


def test_key_accounts(report: Report) -> None:
    # As of 31 March. Won value up to then: licence 6000 (Cobalt) + training 4000 (Acme) +
    # extension 3000 (Borealis) + rollout 7000 (Acme) + expansion 2500 (Cobalt, lost only in
    # April) = 22500 (the big deal is won in April).
    # Acme: training 4000 + rollout 7000 = 11000 / 22500 = 48.9 %, won in March 7000 (rollout,
    # 18 March; training was February; rollout is in Acme's open deals neither); last contact
    # the meeting of 10 March (the note of 11 March is not contact). Open: renewal (its action
    # due 20 March is overdue on 31 March) then upsell (no action) = 12000; one objection,
    # 8 March, 31 - 8 = 23 days old.
    # Borealis: 3000 / 22500 = 13.3 %, won in March 3000 (extension, 25 March); last contact the
    # call of 20 March. Open: pilot (call CFO, due 5 April) and the big deal, in Closing all March
    # and won only on 5 April (no action) = 28000; its objection was resolved on 18 March.
    def deals(k: KeyAccount) -> list[tuple[object, ...]]:
        return [
            (d.title, d.stage, d.value, d.next_action, d.next_action_due, d.overdue)
            for d in k.open_deals
        ]

    acme, borealis = report.key_accounts
    assert (acme.account, acme.won_value, acme.won_in_period, acme.revenue_share) == (
        "Acme",
        11000.0,
        7000.0,
        48.9,
    )
    assert acme.last_contact_utc == "2026-03-10T14:00:00Z"
    assert deals(acme) == [
        ("Acme renewal", "Proposal presented", 10000.0, "send terms", "2026-03-20", True),
        ("Acme upsell", "Prospect", 2000.0, "", None, False),
    ]
    assert acme.open_value == 12000.0
    assert [(o.subject, o.age_days) for o in acme.open_objections] == [
        ("Price too high <b>&amp; | pipes", 23)
    ]
    assert [d.title for d in acme.overdue_deals] == ["Acme renewal"]
    assert (acme.next_action, acme.next_action_due) == ("send terms", "2026-03-20")

    assert (borealis.account, borealis.won_value, borealis.won_in_period) == (
        "Borealis",
        3000.0,
        3000.0,
    )
    assert (borealis.revenue_share, borealis.last_contact_utc) == (13.3, "2026-03-20T10:00:00Z")
    assert deals(borealis) == [
        ("Borealis pilot", "Closing", 8000.0, "call CFO", "2026-04-05", False),
        ("Borealis big deal", "Closing", 20000.0, "", None, False),
    ]
    assert (borealis.open_value, borealis.open_objections, borealis.overdue_deals) == (
        28000.0,
        (),
        (),
    )


def test_deal_stages_as_of_a_moment_come_from_the_history(book: Path) -> None:
    opened = open_workspace(book)
    try:
        def stage_of(title: str, as_of: str) -> str | None:
            deals = deals_as_of(opened.db, Pipeline(), as_of)
            return next((d.stage for d in deals if d.title == title), None)

        # Created in Closing on 5 January, won on 5 April 09:00.
        assert stage_of("Borealis big deal", "2026-04-01T00:00:00Z") == "Closing"
        assert stage_of("Borealis big deal", "2026-04-05T09:00:00Z") == "Closing"
        assert stage_of("Borealis big deal", "2026-04-05T09:00:01Z") == "Won / support"
        # Won on 18 March, Referral from 3 April 10:00; expansion Lost from 6 April 09:00.
        assert stage_of("Acme rollout", "2026-04-01T00:00:00Z") == "Won / support"
        assert stage_of("Acme rollout", "2026-04-03T10:00:01Z") == "Referral"
        assert stage_of("Cobalt expansion", "2026-04-06T09:00:00Z") == "Won / support"
        assert stage_of("Cobalt expansion", "2026-04-06T09:00:01Z") == "Lost"
        # Never moved: its current stage. Before it was created: not there at all.
        assert stage_of("Acme renewal", "2026-02-01T00:00:00Z") == "Proposal presented"
        assert stage_of("Acme renewal", "2026-01-01T00:00:00Z") is None
    finally:
        opened.close()


def test_json_holds_the_hand_derived_figures(report: Report) -> None:
    # The same figures the tests above derive, as a script reading the JSON sees them.
    data = json.loads(render_json(report))
    assert data["period"] == {
        "label": "2026-03",
        "from": "2026-03-01",
        "to": "2026-03-31",
        "as_of": "2026-04-01T00:00:00Z",
    }
    assert [(s["stage"], s["deals"], s["value"], s["weighted"]) for s in data["stages"]] == [
        ("Prospect", 1, 2000.0, 500.0),
        ("Appointment", 0, 0.0, 0.0),
        ("Needs identified", 1, 1200.0, 420.0),
        ("Proposal presented", 1, 10000.0, 5000.0),
        ("Objections", 0, 0.0, 0.0),
        ("Closing", 1, 8000.0, 6400.0),
        ("Won / support", 3, 30000.0, 30000.0),
        ("Referral", 2, 10000.0, 10000.0),
        ("Lost", 3, 9000.0, 0.0),
    ]
    assert data["totals"] == {
        "deals": 12,
        "open_deals": 4,
        "open_value": 21200.0,
        "open_weighted": 12320.0,
        "won_deals": 4,
        "won_value": 18500.0,
        "lost_deals": 1,
        "lost_value": 5000.0,
        "not_converted": 0,
    }
    assert [(d["title"], d["value"]) for d in data["won"]] == [
        ("Cobalt licence", 6000.0),
        ("Acme rollout", 7000.0),
        ("Cobalt expansion", 2500.0),
        ("Borealis extension", 3000.0),
    ]
    assert data["forecast"] == [
        {"month": "2026-04", "deals": 2, "value": 18000.0, "weighted": 11400.0, "not_converted": 0},
        {"month": "2026-05", "deals": 1, "value": 2000.0, "weighted": 500.0, "not_converted": 0},
        {"month": "no date", "deals": 1, "value": 1200.0, "weighted": 420.0, "not_converted": 0},
    ]
    assert data["activity"][0] == {
        "account": "Acme", "mails_in": 1, "mails_out": 2, "calls": 1, "meetings": 1, "notes": 1,
    }  # fmt: skip
    assert data["first_response"] == {
        "inbound": 4, "waits": 3, "answered": 2, "unanswered": 1, "median_hours": 4.25,
    }  # fmt: skip
    assert [(o["account"], o["age_days"]) for o in data["open_objections"]] == [
        ("Acme", 23),
        ("Cobalt", 11),
    ]
    assert data["stale_accounts"] == [
        {"account": "Dormant", "last_contact": None, "days_since": None},
        {"account": "Echo", "last_contact": "2026-02-10T11:00:00Z", "days_since": 49},
    ]
    acme = data["key_accounts"][0]
    renewal, upsell = acme["open_deals"]
    assert data["open_complaints"] == [
        {"activity_id": acme["open_complaints"][0]["activity_id"], "account": "Acme",
         "date": "2026-03-09T09:00:00Z", "subject": "Invoice sent twice", "age_days": 22},
        {"activity_id": data["key_accounts"][1]["open_complaints"][0]["activity_id"],
         "account": "Borealis", "date": "2026-03-19T09:00:00Z", "subject": "Pallets damaged",
         "age_days": 12},
    ]  # fmt: skip
    assert [c["subject"] for c in acme["open_complaints"]] == ["Invoice sent twice"]
    skip = ("open_deals", "open_objections", "open_complaints")
    assert {k: v for k, v in acme.items() if k not in skip} == {
        "account": "Acme",
        "won_value": 11000.0,
        "won_in_period": 7000.0,
        "revenue_share": 48.9,
        "last_contact": "2026-03-10T14:00:00Z",
        "open_value": 12000.0,
        "not_converted": 0,
        "next_action": "send terms",
        "next_action_due": "2026-03-20",
        "overdue_actions": [
            {"deal_id": renewal["deal_id"], "title": "Acme renewal", "next_action": "send terms",
             "next_action_due": "2026-03-20"},
        ],
    }  # fmt: skip
    assert {k: v for k, v in renewal.items() if k != "deal_id"} == {
        "title": "Acme renewal", "stage": "Proposal presented", "value": 10000.0,
        "currency": "EUR", "base_value": 10000.0, "next_action": "send terms",
        "next_action_due": "2026-03-20", "overdue": True,
    }  # fmt: skip
    assert (upsell["title"], upsell["next_action"], upsell["overdue"]) == ("Acme upsell", "", False)
    assert [(o["subject"], o["age_days"]) for o in acme["open_objections"]] == [
        ("Price too high <b>&amp; | pipes", 23)
    ]
    borealis = data["key_accounts"][1]
    assert (borealis["won_in_period"], borealis["open_value"]) == (3000.0, 28000.0)
    assert [d["title"] for d in borealis["open_deals"]] == ["Borealis pilot", "Borealis big deal"]


def test_csv_is_the_json_flattened(report: Report) -> None:
    data = json.loads(render_json(report))
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert len(rows) == len(list(csv_rows(report)))
    # Rebuild each stage from its rows: the same list as the JSON's.
    stage_rows: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["section"] == "stages":
            stage_rows.setdefault(row["item"], {})[row["field"]] = row["value"]
    assert [
        {
            "stage": s,
            "kind": f["kind"],
            "deals": int(f["deals"]),
            "value": float(f["value"]),
            "weighted": float(f["weighted"]),
            "not_converted": int(f["not_converted"]),
        }
        for s, f in stage_rows.items()
    ] == data["stages"]
    lines = render_csv(report).splitlines()
    renewal = data["key_accounts"][0]["open_deals"][0]["deal_id"]
    for line in [
        "totals,,won_value,18500.0",
        "first_response,,median_hours,4.25",
        "first_response,,waits,3",
        "key_accounts,Acme,revenue_share,48.9",
        "key_accounts,Acme,won_in_period,7000.0",
        "key_accounts,Borealis,won_in_period,3000.0",
        f"key_accounts,Acme,open_deals.{renewal}.title,Acme renewal",
        f"key_accounts,Acme,open_deals.{renewal}.next_action_due,2026-03-20",
        f"key_accounts,Acme,open_deals.{renewal}.overdue,true",
        f"key_accounts,Acme,overdue_actions.{renewal}.next_action,send terms",
        "stale_accounts,Dormant,last_contact,",
    ]:
        assert line in lines


def test_markdown_has_the_figures_and_a_section_per_key_account(report: Report) -> None:
    md = render_md(report)
    assert "| Won / support | 3 | 30,000.00 | 30,000.00 |" in md
    assert "| Prospect | 1 | 2,000.00 | 500.00 |" in md
    assert (
        "Median first response: 4.25 h (2 of 3 client waits answered, 1 unanswered; "
        "4 client mails)." in md
    )
    assert "| 2026-04 | 2 | 18,000.00 | 11,400.00 |" in md
    key = md[md.index("## Key accounts") :]
    acme, borealis = key.split("### Acme")[1].split("### Borealis")
    assert acme.strip().splitlines()[0] == (
        "Revenue share 48.9% (11,000.00 won up to the end of the period); won in the period "
        "7,000.00; last contact 2026-03-10; 2 open deals worth 12,000.00, 1 open objection, "
        "1 open complaint, 1 overdue action."
    )
    assert "Open complaints:\n\n| Raised | Complaint | Age (days) |\n|---|---|---|\n" in acme
    assert "| 2026-03-19 | Pallets damaged | 12 |" in borealis
    assert "| Acme renewal | Proposal presented | 10,000.00 EUR | send terms | 2026-03-20 (overdue) |" in acme
    assert "| Acme upsell | Prospect | 2,000.00 EUR | none |  |" in acme
    # Book text is escaped: a pipe cannot split the table, <b> and &amp; stay literal text.
    assert "| 2026-03-08 | Price too high \\<b\\>\\&amp; \\| pipes | 23 |" in acme
    assert "Overdue actions:\n\n| Deal | Next action | Due |\n|---|---|---|\n" in acme
    assert "| Borealis big deal | Closing | 20,000.00 EUR | none |  |" in borealis
    assert "won in the period 3,000.00" in borealis
    assert "Open objections:" not in borealis and "Overdue actions:" not in borealis
    # The account-wide table of open objections holds both (Cobalt is not a key account).
    assert "| Acme | 2026-03-08 | Price too high \\<b\\>\\&amp; \\| pipes | 23 |" in md


def test_markdown_opens_with_the_figures_a_manager_reads_first(report: Report) -> None:
    md = render_md(report)
    title, _, scope, _, glance_title, _, *rest = md.splitlines()
    assert title == "# Rapport report: March 2026"
    # The pipeline is the book now (run on 10 April); the "as of" figures stop on 31 March.
    assert scope == (
        "Period 2026-03-01 to 2026-03-31 (UTC); pipeline and forecast as they stand at "
        "2026-04-10 12:00 UTC; objections, stale and key accounts as of the end of 2026-03-31; "
        "values in EUR."
    )
    assert glance_title == "## At a glance"
    # The hand-derived figures of the tests above.
    assert rest[:8] == [
        "- **Open pipeline: 21,200.00** (4 deals, weighted 12,320.00)",
        "- **Won in the period: 18,500.00** (4 deals)",
        "- **Lost in the period: 5,000.00** (1 deal)",
        "- **Median first response: 4.25 h** (2 of 3 client waits answered)",
        "- **Open objections: 2** (the oldest 23 days)",
        "- **Open complaints: 2** (the oldest 22 days)",
        "- **Stale accounts: 2** (no contact for 30 days or more)",
        "- **Key accounts: 2** (1 overdue action, 1 open objection, 2 open complaints)",
    ]
    assert "## Open complaints\n\n| Account | Raised | Complaint | Age (days) |" in md
    assert "| Acme | 2026-03-09 | Invoice sent twice | 22 |\n| Borealis | 2026-03-19 |" in md
    assert (
        "Open pipeline: 4 deals worth 21,200.00, weighted 12,320.00; 12 deals in all stages, "
        "won and lost included." in md
    )
    assert "Won 4 deals, 18,500.00; lost 1 deal, 5,000.00." in md
    # Activity adds up (Acme 1/2/1/1/1, Borealis 2/1/2/0/0, Cobalt 1/0/0/0/0).
    assert "| Cobalt | 1 | 0 | 0 | 0 | 0 |\n| **Total** | **4** | **3** | **3** | **1** | **1** |" in md
    assert "## Stale accounts (no contact for 30 days or more)" in md
    # Key accounts side by side before their own sections.
    key = md[md.index("## Key accounts") : md.index("### Acme")]
    assert "| Acme | 48.9% | 11,000.00 | 7,000.00 | 2026-03-10 | 2 | 12,000.00 | 1 | 1 | 1 |" in key
    assert "| Borealis | 13.3% | 3,000.00 | 3,000.00 | 2026-03-20 | 2 | 28,000.00 | 0 | 1 | 0 |" in key


def test_report_titles_and_as_of_for_a_running_or_custom_period(book: Path) -> None:
    opened = open_workspace(book)
    try:
        april = build_report(opened.db, Pipeline(), parse_period(month="2026-04", start=None,
                             end=None, today=NOW.date()), stale_after_days=30, now=NOW)
        span = build_report(opened.db, Pipeline(), Period(date(2026, 3, 5), date(2026, 3, 20)),
                            stale_after_days=30, now=NOW)
    finally:
        opened.close()
    # April is still running on 10 April: the "as of" figures are now's.
    assert "objections, stale and key accounts as of 2026-04-10 12:00 UTC;" in render_md(april)
    assert render_md(span).startswith("# Rapport report: 2026-03-05 to 2026-03-20\n")
    assert "as of the end of 2026-03-20;" in render_md(span)


# Book text an import or a mail can carry: terminal escapes, a bell, spreadsheet formulas.
ESCAPED_NAME = "Evil\x1b]0;pwned\x07 GmbH\x1b[31m"
FORMULA_NAME = "=cmd|' /C calc'!A0"
FORMULA_SUBJECT = "=1+1"


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = build_report_workspace(tmp_path_factory.mktemp("hostile") / "ws", with_mail=False)
    opened = open_workspace(home)
    try:
        db = opened.db
        evil = create_account(db, "Evil", tier="key").id
        formula = create_account(db, FORMULA_NAME, tier="key").id
        deal = create_deal(db, formula, "@SUM(A1:A9)", "Closing", pipeline=Pipeline(),
                           value=700, next_action="+call now", next_action_due=date(2026, 3, 30))
        backdate(db, "deals", deal.id, "created_utc", CREATED)
        slow = add_activity(db, evil, "objection", subject="Too slow", date_utc="2026-03-03T10:00:00Z")
        add_activity(db, formula, "objection", subject=FORMULA_SUBJECT,
                     date_utc="2026-03-04T10:00:00Z")
        # The store cleans text it is given; an older workspace still holds it raw.
        set_raw(db, "accounts", evil, "name", ESCAPED_NAME)
        set_raw(db, "activities", slow.id, "subject", "Too slow\x07\x1b[2J\u202e")
    finally:
        opened.close()
    return home


@pytest.mark.parametrize("fmt", ["md", "csv", "json", "html"])
def test_no_format_carries_terminal_escapes(hostile_book: Path, fmt: str) -> None:
    result = _run(hostile_book, "report", "--month", "2026-03", "--format", fmt)
    assert result.returncode == 0, result.stderr
    for control in ("\x1b", "\x07", "\x9b", "\r", "\u202e"):
        assert control not in result.stdout
    # The escape went whole (payload too); the name around it is kept.
    assert "pwned" not in result.stdout and "Evil GmbH" in result.stdout
    if fmt == "json":
        assert "\\u001b" not in result.stdout
        names = [k["account"] for k in json.loads(result.stdout)["key_accounts"]]
        assert "Evil GmbH" in names and FORMULA_NAME in names  # JSON keeps text as it is


def test_csv_cells_never_start_a_formula(hostile_book: Path) -> None:
    result = _run(hostile_book, "report", "--month", "2026-03", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # Quoted, not dropped: the text reads back after the leading apostrophe.
    assert ["key_accounts", "'" + FORMULA_NAME, "won_value", "0.0"] in rows
    assert ["open_objections", rows_item(rows, "'" + FORMULA_SUBJECT), "subject",
            "'" + FORMULA_SUBJECT] in rows
    assert ["key_accounts", "'" + FORMULA_NAME, "next_action", "'+call now"] in rows
    # Numbers stay numbers: the figures are not quoted.
    assert ["totals", "", "won_value", "18500.0"] in rows
    assert ["stages", "Closing", "value", "8700.0"] in rows


def rows_item(rows: list[list[str]], value: str) -> str:
    """The `item` of the first row whose value is `value`."""
    return next(row[1] for row in rows if row[3] == value)


def test_won_deals_weigh_in_full_and_lost_ones_not_at_all(tmp_path: Path) -> None:
    # Each deal was given 30 % (40 % for the lost one) while open. Once won it is certain, once
    # lost it is gone: Referral 18,000 x 100 % = 18,000; Lost 5,000 x 0 % = 0; the open
    # Closing deal keeps its own 30 %: 10,000 x 30 % = 3,000 (not the stage's 80 %).
    opened = open_workspace(tmp_path / "ws")
    try:
        db, pipe = opened.db, Pipeline()
        client = create_account(db, "Client").id
        for title, value, probability, stage in [
            ("Referred", 18000, 30, "Referral"),
            ("Gone", 5000, 40, "Lost"),
            ("Open", 10000, 30, None),
        ]:
            deal = create_deal(db, client, title, "Closing", pipeline=pipe, value=value,
                               probability=probability)
            if stage:
                move_deal(db, deal.id, stage, pipeline=pipe)
        report = build_report(db, pipe, MARCH, stale_after_days=30, now=NOW)
        pane = {r.stage.name: r.stage for r in pipeline_rows(db, pipe, date(2026, 4, 10))}
    finally:
        opened.close()
    weighted = {s.stage: s.weighted for s in report.stages}
    assert (weighted["Referral"], weighted["Lost"], weighted["Closing"]) == (18000.0, 0.0, 3000.0)
    # The pipeline pane uses the same rule, so the two never disagree.
    assert (pane["Referral"].weighted, pane["Lost"].weighted, pane["Closing"].weighted) == (
        18000.0,
        0.0,
        3000.0,
    )
    assert Pipeline().win_probability("won / SUPPORT", 10) == 100.0
    assert Pipeline().win_probability("Prospect", None) == 10.0
    assert Pipeline().win_probability("Gone from config", None) == 0.0


def test_forecast_across_a_year_boundary(tmp_path: Path) -> None:
    # Open deals closing in November and December 2026 and January 2027 (Prospect, 10 %), an
    # undated one, and a won deal dated January (not forecast: it is closed).
    opened = open_workspace(tmp_path / "ws")
    try:
        db, pipe = opened.db, Pipeline()
        client = create_account(db, "Client").id
        for title, value, close, stage in [
            ("Jan b", 3000, date(2027, 1, 31), "Prospect"),
            ("Dec", 2000, date(2026, 12, 31), "Prospect"),
            ("Jan a", 1000, date(2027, 1, 1), "Prospect"),
            ("Nov", 500, date(2026, 11, 30), "Prospect"),
            ("Undated", 700, None, "Prospect"),
            ("Won in Jan", 9000, date(2027, 1, 15), "Won / support"),
        ]:
            create_deal(db, client, title, stage, pipeline=pipe, value=value, expected_close=close)
        report = build_report(db, pipe, MARCH, stale_after_days=30, now=NOW)
    finally:
        opened.close()
    # Month by month in calendar order, 2026-12 before 2027-01, "no date" last.
    assert report.forecast == (
        ForecastMonth("2026-11", 1, 500.0, 50.0),
        ForecastMonth("2026-12", 1, 2000.0, 200.0),
        ForecastMonth("2027-01", 2, 4000.0, 400.0),
        ForecastMonth("no date", 1, 700.0, 70.0),
    )


def test_today_and_report_agree_on_stale_accounts(tmp_path: Path) -> None:
    # On 31 March with a 30-day threshold: A's last call (1 March) is 30 days old, so stale;
    # B has only a note (not contact: the manager writing to themselves), so never contacted;
    # C's call on 2 March is 29 days old; D raised an objection on 20 March (contact), E a
    # complaint on 10 February, 49 days before: contact too, so stale but not "never".
    opened = open_workspace(tmp_path / "ws")
    try:
        db = opened.db
        acts = {"A": "call", "B": "note", "C": "call", "D": "objection", "E": "complaint"}
        days = {"A": "2026-03-01", "B": "2026-03-25", "C": "2026-03-02", "D": "2026-03-20",
                "E": "2026-02-10"}
        for name, kind in acts.items():
            account = create_account(db, name).id
            add_activity(db, account, kind, subject="x", date_utc=f"{days[name]}T09:00:00Z")
        report = build_report(
            db, Pipeline(), MARCH, stale_after_days=30, now=datetime(2026, 3, 31, 12, tzinfo=UTC)
        )
        today = today_items(db, date(2026, 3, 31), 30)
    finally:
        opened.close()
    assert [(s.account, s.days_since) for s in report.stale_accounts] == [
        ("B", None), ("E", 49), ("A", 30),
    ]  # fmt: skip
    assert [(i.account_name, i.day) for i in today if i.section == "stale"] == [
        ("B", ""),
        ("E", "2026-02-10"),
        ("A", "2026-03-01"),
    ]


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RAPPORT, "--home", str(home), *args], capture_output=True, text=True, timeout=60
    )


def test_cli_json_stages_match_status(book: Path) -> None:
    result = _run(book, "report", "--month", "2026-03", "--format", "json")
    assert result.returncode == 0, result.stderr
    stages = json.loads(result.stdout)["stages"]
    status = _run(book, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert {s["stage"]: s["deals"] for s in stages} == json.loads(status.stdout)["deals_by_stage"]
    assert sum(s["deals"] for s in stages) == 12


def test_cli_formats_and_output_file(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "march.csv"
    result = _run(
        book,
        "report",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--format",
        "csv",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.stat().st_mode & 0o777 == 0o600
    assert "totals,,won_value,18500.0" in out.read_text().splitlines()
    md = _run(book, "report", "--month", "2026-03")
    assert md.returncode == 0 and "# Rapport report: March 2026" in md.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "--month '2026-13': expected YYYY-MM"),
        (["--month", "march"], "expected YYYY-MM"),
        (["--from", "2026-03-01"], "--from and --to go together"),
        (["--from", "2026-03-01", "--to", "31/03/2026"], "--to '31/03/2026': expected a date"),
        (["--from", "2026-03-10", "--to", "2026-03-01"], "is before --from"),
        (["--month", "2026-03", "--from", "2026-03-01", "--to", "2026-03-02"], "not both"),
        # The day after the period must still be a date (year 9999 is the last one).
        (["--from", "2026-01-01", "--to", "9999-12-31"], "--to '9999-12-31' is out of range"),
        (["--month", "9999-12"], "--month '9999-12' is out of range"),
        (["--month", "0000-12"], "expected YYYY-MM"),
        # argparse's own errors are one line too, not its usage block.
        (["--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
        (["--month"], "argument --month: expected one argument"),
    ],
)
def test_bad_dates_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = _run(tmp_path / "ws", "report", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws").exists()  # a refused command creates nothing


def test_period_parsing_and_shifting() -> None:
    today = date(2026, 11, 22)
    assert parse_period(month=None, start=None, end=None, today=today) == Period(
        date(2026, 11, 1), date(2026, 11, 30)
    )
    feb = parse_period(month="2024-02", start=None, end=None, today=today)
    assert (feb.end, feb.label, feb.end_utc) == (
        date(2024, 2, 29),
        "2024-02",
        "2024-03-01T00:00:00Z",
    )
    assert feb.shifted(-2) == Period(date(2023, 12, 1), date(2023, 12, 31))
    span = Period(date(2026, 3, 1), date(2026, 3, 10))
    assert span.shifted(1) == Period(date(2026, 3, 11), date(2026, 3, 20))
    with pytest.raises(InputError):
        parse_period(month="2026-00", start=None, end=None, today=today)
    # The last reportable month and day, and no step past either end of the calendar.
    last = parse_period(month="9999-11", start=None, end=None, today=today)
    assert last.end_utc == "9999-12-01T00:00:00Z"
    with pytest.raises(InputError, match="out of range"):
        last.shifted(1)
    with pytest.raises(InputError, match="out of range"):
        Period(date(9999, 12, 30), date(9999, 12, 30)).shifted(1)
    with pytest.raises(InputError, match="out of range"):
        Period(date(1, 1, 1), date(1, 1, 31)).shifted(-1)


def test_report_reads_one_snapshot_while_a_sync_writes(tmp_path: Path) -> None:
    # Another connection (a background sync, a second terminal) commits a won deal while the
    # report is being computed, right after its second query. Every section must still be
    # the state before it: twelve deals, 18,500 won in March, the same key-account figures.
    home = build_report_workspace(tmp_path / "ws", with_mail=False)
    reader, writer = open_workspace(home), open_workspace(home)
    statements: list[str] = []

    def sync_lands(sql: str) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(sql)
        if len(statements) == 2 and sql is statements[-1]:  # the first read took the snapshot
            acme = writer.db.execute("SELECT id FROM accounts WHERE name = 'Acme'").fetchone()[0]
            deal = create_deal(writer.db, acme, "Late arrival", "Won / support",
                               pipeline=Pipeline(), value=50_000)
            for column in ("created_utc", "stage_changed_utc"):
                backdate(writer.db, "deals", deal.id, column, "2026-03-30T12:00:00Z")

    try:
        reader.db.conn.set_trace_callback(sync_lands)
        during = build_report(reader.db, Pipeline(), MARCH, stale_after_days=30, now=NOW)
        reader.db.conn.set_trace_callback(None)
        after = build_report(reader.db, Pipeline(), MARCH, stale_after_days=30, now=NOW)
    finally:
        reader.close()
        writer.close()
    assert len(statements) > 5  # the write landed in the middle, not after the report
    assert (during.total_deals, during.won_value) == (12, 18500.0)
    assert [k.won_value for k in during.key_accounts] == [11000.0, 3000.0]
    # The write did land: the next report sees it in every section (created won on 30 March:
    # a March win, 18500 + 50000; Acme 11000 + 50000).
    assert (after.total_deals, after.won_value) == (13, 68500.0)
    assert [k.won_value for k in after.key_accounts] == [61000.0, 3000.0]


def test_markdown_never_turns_book_text_into_markup(report: Report) -> None:
    # Rendered by a GFM-like parser (markdown-it: tables, strikethrough, linkify): book text
    # must come out as the same text, with no link, strike, emphasis or extra cell.
    from markdown_it import MarkdownIt

    hostile = (
        "~~struck~~ **bold** _em_ [x](http://y.example) https://evil.example/p "
        "www.evil.example evil.com mailto:bob@evil.example <b>|</b> `code`"
    )

    def rendered(subject: str) -> str:
        objection = dataclasses.replace(report.open_objections[0], subject=subject)
        return MarkdownIt("gfm-like").render(
            render_md(dataclasses.replace(report, open_objections=(objection,)))
        )

    # The report's own bold (headlines, totals) is the same with a harmless objection.
    html, plain = rendered(hostile), rendered("plain words")
    for markup in ("<a ", "<s>", "<del>", "<strong>", "<em>", "<code>", "<b>"):
        assert html.count(markup) == plain.count(markup), markup
    literal = hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<td>{literal}</td>" in html


def test_one_currency_is_stated(report: Report) -> None:
    # Several currencies, rates and deals left unconverted: tests/test_money_report.py.
    assert "values in EUR." in render_md(report)
    assert json.loads(render_json(report))["currencies"] == ["EUR"]


def test_cli_format_choices_are_the_renderers() -> None:
    # The CLI writes the list out (so parsing other commands skips the report code): keep in step.
    from rapport.tui.cli import reportcmds
    from rapport.tui.render.report_formats import FORMATS

    assert reportcmds.FORMATS == FORMATS
