"""Provides `build_demo`: a deterministic demo workspace (book, pipeline, timeline and mail).

The book is written through the store API and the mail through the real Maildir ingest path
(`rapport.mail.sync.maildir.sync_maildir`), so the demo shows what real use looks like. Everything
comes from one seeded `random.Random`; dates are relative to `today`, so for a given day and
seed the workspace is identical. Parametrised sizes let the TUI benchmark build 10k accounts and
100k messages with the same code.
"""

from __future__ import annotations

import json
import random
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import platformdirs
from sqlite_utils import Database

from rapport.mail.send.unsubscribe import unsubscribe_rules
from rapport.mail.sync.maildir import sync_maildir
from rapport.store.book import accounts as acc
from rapport.store.book import activities as act
from rapport.store.book import contacts as con
from rapport.store.book import deals as dls
from rapport.store.book.stages import Pipeline, Stage
from rapport.store.config import DEFAULT_CONFIG
from rapport.store.errors import WorkspaceError
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.store.timeutil import to_utc_text
from rapport.store.workspace import make_private_dir, write_private_file
from rapport.tui.demo import data
from rapport.tui.demo.maildir import DemoAccount, Person, generate_mail, write_maildir

MARKER = ".rapport-demo"
MAILBOX = "demo"
DEFAULT_SEED = 2026
ME = Person("Alex Morgan", "alex.morgan@halden-supply.com", "Key Account Manager")
COMPANY = "Halden Industrial Supply"
REGIONS = {
    "de": "DACH", "at": "DACH", "ch": "DACH", "nl": "Benelux", "be": "Benelux", "fr": "France",
    "co.uk": "UK", "com": "International", "it": "Italy", "se": "Nordics", "es": "Iberia",
    "pl": "CEE",
}
REGION_WORDS = ("Nord", "Süd", "West", "Ost", "Iberia", "Benelux", "Nordic", "Austria",
                "Polska", "Italia", "UK", "Schweiz")
# Deals per stage in a 60-deal demo (every stage present; the rest follows these weights).
STAGE_WEIGHTS = (10, 8, 8, 9, 6, 5, 7, 3, 4)
# About one account in twelve has gone quiet: no mail, call or meeting for 35-120 days.
QUIET_SHARE = 1 / 12
QUIET_DAYS = (35, 120)

Progress = Callable[[str], None]


def default_demo_home() -> Path:
    """`rapport-demo` in the XDG data folder (~/.local/share/rapport-demo)."""
    return Path(platformdirs.user_data_dir()) / "rapport-demo"


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in folded.lower()).split())


def prepare_home(home: Path) -> None:
    """Empty `home` for a rebuild, refusing any folder that is not a previous demo."""
    if home.exists():
        if not home.is_dir():
            raise WorkspaceError(f"{home} is a file, not a demo folder")
        if any(home.iterdir()) and not (home / MARKER).exists():
            raise WorkspaceError(
                f"refusing to replace {home}: it is not a Rapport demo folder "
                f"(no {MARKER} marker); pass another --home"
            )
        try:
            shutil.rmtree(home)
        except OSError as exc:
            raise WorkspaceError(f"cannot remove the old demo {home}: {exc.strerror}") from exc
    make_private_dir(home)
    write_private_file(
        home / MARKER, "A Rapport demo workspace: `rapport demo` deletes and rebuilds it.\n"
    )


def demo_config(maildir: Path) -> str:
    """The default config.toml with the demo's [me] and its [[maildir]] source."""
    text = DEFAULT_CONFIG.replace('name = ""', f'name = "{ME.name}"', 1)
    text = text.replace('email = ""', f'email = "{ME.email}"', 1)
    signature = f"{ME.name}\n{ME.role}, {COMPANY}\n+49 40 555 0100"
    text = text.replace('signature = """\n"""', f'signature = """\n{signature}\n"""', 1)
    return text + f"\n[[maildir]]\nname = \"{MAILBOX}\"\npath = {json.dumps(str(maildir))}\n"


@dataclass
class _Plan:
    """One demo deal before it is written: its stage path and its dates."""

    account: DemoAccount
    account_id: int
    title: str
    stage: Stage
    path: list[Stage]
    created: date
    stage_changed: date
    last_activity: date


def _account_names(rng: random.Random, count: int) -> list[tuple[str, data.Industry]]:
    combos = [(root, ind, suffix) for root in data.COMPANY_ROOTS for ind in data.INDUSTRIES
              for suffix in ind.suffixes]
    rng.shuffle(combos)
    names: list[tuple[str, data.Industry]] = []
    for i in range(count):
        root, ind, suffix = combos[i % len(combos)]
        name = f"{root} {suffix}"
        if i >= len(combos):
            name += f" {REGION_WORDS[(i // len(combos) - 1) % len(REGION_WORDS)]}"
            if i >= len(combos) * (len(REGION_WORDS) + 1):
                name += f" {i}"
        names.append((name, ind))
    return names


def _build_accounts(opened: OpenWorkspace, rng: random.Random, count: int) -> list[DemoAccount]:
    result: list[DemoAccount] = []
    used_domains: set[str] = set()
    for index, (name, industry) in enumerate(_account_names(rng, count)):
        tld = rng.choice(data.TLDS)
        domain = f"{_slug(name)}.{tld}"
        while domain in used_domains:
            domain = f"{_slug(name)}-{index}.{tld}"
        used_domains.add(domain)
        domains = [domain]
        if rng.random() < 0.1:
            domains.append(f"{_slug(name.split()[0])}-group-{index}.com")
        tags = [industry.tag, REGIONS.get(tld, "International")]
        tier = "key" if rng.random() < 0.25 else "standard"
        account = acc.create_account(
            opened.db, name, domains=domains, tier=tier, tags=tags,
            owner=ME.name if rng.random() < 0.85 else "Jamie Chen",
            notes=rng.choice(data.NOTES) if rng.random() < 0.5 else "",
        )
        result.append(DemoAccount(account.name, domain, industry, account_id=account.id))
    for quiet in rng.sample(result, round(len(result) * QUIET_SHARE)):
        quiet.quiet_days = rng.randint(*QUIET_DAYS)
    return result


def _build_contacts(opened: OpenWorkspace, rng: random.Random, accounts: list[DemoAccount],
                    count: int) -> None:
    used: set[str] = set()
    for i in range(count):
        account = accounts[i % len(accounts)] if i < len(accounts) else rng.choice(accounts)
        first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
        local = f"{_slug(first)}.{_slug(last).replace('-', '')}"
        domain = account.domain
        if rng.random() < 0.03:
            domain = rng.choice(("gmail.com", "outlook.com", "web.de"))  # a contact on freemail
        email = f"{local}@{domain}"
        n = 2
        while email in used:
            email, n = f"{local}{n}@{domain}", n + 1
        used.add(email)
        role = rng.choice(data.ROLES)
        phone = f"+{rng.randint(30, 49)} {rng.randint(10, 999)} {rng.randint(100000, 9999999)}"
        con.create_contact(
            opened.db, account_id=account.account_id, name=f"{first} {last}",
            emails=[email], role=role, phone=phone, opted_out=rng.random() < 0.05,
        )
        account.contacts.append(Person(f"{first} {last}", email, role))


def _stage_path(pipeline: Pipeline, stage: Stage, rng: random.Random) -> list[Stage]:
    """The stages a deal went through to reach `stage` (lost deals drop out somewhere)."""
    open_and_won = [s for s in pipeline.stages if s.kind != "lost"]
    if stage.kind == "lost":
        cut = rng.randint(1, max(1, len([s for s in open_and_won if s.kind == "open"]) - 1))
        return [*open_and_won[:cut], stage]
    return open_and_won[: open_and_won.index(stage) + 1]


def _plan_deals(opened: OpenWorkspace, rng: random.Random, accounts: list[DemoAccount],
                count: int, today: date) -> list[_Plan]:
    pipeline = opened.config.pipeline
    stages = list(pipeline.stages)
    weights = [STAGE_WEIGHTS[i] if i < len(STAGE_WEIGHTS) else 5 for i in range(len(stages))]
    plans: list[_Plan] = []
    for i in range(count):
        stage = stages[i] if i < len(stages) else rng.choices(stages, weights)[0]
        account = accounts[i % len(accounts)]
        title = rng.choice(data.DEAL_KINDS).format(
            year=today.year + 1, product=rng.choice(account.industry.products).split()[0].title()
        )
        while title in account.deals:
            title += " II"
        account.deals.append(title)
        rotting = stage.rotting_days > 0 and stage.kind == "open" and rng.random() < 0.25
        idle = (stage.rotting_days + rng.randint(3, 40) if rotting
                else rng.randint(0, max(stage.rotting_days - 1, 2)))
        idle = max(idle, account.quiet_days)  # a quiet account's deals went quiet with it
        last_activity = today - timedelta(days=idle)
        stage_changed = last_activity - timedelta(days=rng.randint(0, 20))
        created = stage_changed - timedelta(days=rng.randint(10, 300))
        plans.append(_Plan(account, account.account_id, title, stage,
                           _stage_path(pipeline, stage, rng), created, stage_changed,
                           last_activity))
    return plans


def _moment(rng: random.Random, day: date) -> str:
    moment = datetime.combine(day, time(rng.randint(7, 17), rng.randint(0, 59)), tzinfo=UTC)
    # Nothing after the build, as for the demo's mail: a future note would top the timeline.
    return to_utc_text(min(moment, datetime.now(UTC)))


def _spread(start: date, end: date, n: int) -> list[date]:
    if n <= 0:
        return []
    span = max((end - start).days, 0)
    return [start + timedelta(days=span * (i + 1) // (n + 1)) for i in range(n)]


def _write_complaint(db: Database, plan: _Plan, deal_id: int, today: date) -> None:
    """Some won deals have a post-contract complaint, open or resolved. Own random stream, so the
    rest of the demo stays what it was."""
    rng = random.Random(f"complaint {plan.account_id} {plan.title}")
    if rng.random() > 0.4:
        return
    day = max(plan.stage_changed, today - timedelta(days=rng.randint(2, 40)))
    activity_id = act.insert_activity(db, plan.account_id, "complaint", deal_id=deal_id,
                                      body=rng.choice(data.COMPLAINTS), date_utc=_moment(rng, day))
    if rng.random() < 0.5:
        resolved = min(day + timedelta(days=rng.randint(1, 6)), today)
        act.resolve_objection(db, activity_id, when=_moment(rng, resolved))


def _write_deal(opened: OpenWorkspace, rng: random.Random, plan: _Plan, today: date) -> None:
    db, pipeline = opened.db, opened.config.pipeline
    deal = dls.create_deal(
        db, plan.account_id, plan.title, plan.stage.name, pipeline=pipeline,
        value=float(rng.choice((5, 8, 12, 18, 25, 40, 60, 90, 150, 250)) * 1000),
        probability=float(rng.choice((15, 30, 45, 70))) if rng.random() < 0.15 else None,
    )
    # Stage history, dated: each step is a stage_change activity as `>` in the TUI records.
    steps = _spread(plan.created, plan.stage_changed, len(plan.path) - 2) + [plan.stage_changed]
    for previous, stage, day in zip(plan.path, plan.path[1:], steps, strict=False):
        act.insert_activity(db, plan.account_id, "stage_change", deal_id=deal.id,
                            subject=f"{previous.name} → {stage.name}", date_utc=_moment(rng, day),
                            from_stage=previous.name, to_stage=stage.name)
    # Work on the deal: calls, meetings, notes up to its last activity.
    for day in _spread(plan.created, plan.last_activity, rng.randint(1, 4)) + [plan.last_activity]:
        kind = rng.choice(("call", "call", "meeting", "note"))
        pool = {"call": data.CALLS, "meeting": data.MEETINGS, "note": data.NOTES}[kind]
        contact = rng.choice(plan.account.contacts) if plan.account.contacts else None
        contact_row = con.find_contact_by_email(db, contact.email) if contact else None
        act.insert_activity(db, plan.account_id, kind, deal_id=deal.id,
                            contact_id=contact_row.id if contact_row else None,
                            body=rng.choice(pool), date_utc=_moment(rng, day))
    if any(s.name == "Objections" for s in plan.path) or rng.random() < 0.15:
        objection_day = plan.stage_changed - timedelta(days=rng.randint(0, 10))
        activity_id = act.insert_activity(
            db, plan.account_id, "objection", deal_id=deal.id, body=rng.choice(data.OBJECTIONS),
            date_utc=_moment(rng, objection_day))
        if plan.stage.name != "Objections" or rng.random() < 0.3:
            resolved_day = min(objection_day + timedelta(days=rng.randint(1, 9)), today)
            act.resolve_objection(db, activity_id, when=_moment(rng, resolved_day))
    if plan.stage.kind == "won":
        _write_complaint(db, plan, deal.id, today)
    if plan.stage.kind == "open":
        offset = rng.choice((-9, -4, -2, -1, 0, 0, 1, 2, 3, 5, 7, 10, 14, 21, 30))
        dls.set_next_action(db, deal.id, rng.choice(data.NEXT_ACTIONS),
                            today + timedelta(days=offset))
        dls.update_deal(db, deal.id, expected_close=today + timedelta(days=rng.randint(7, 180)))
    elif plan.stage.kind == "won":
        dls.update_deal(db, deal.id, expected_close=plan.stage_changed)
        if rng.random() < 0.5:
            dls.set_next_action(db, deal.id, "Ask for referral",
                                today + timedelta(days=rng.randint(-3, 20)))
    dls.backdate_deal(
        db, deal.id, created_utc=_moment(rng, plan.created),
        stage_changed_utc=_moment(rng, plan.stage_changed),
        last_activity_utc=to_utc_text(datetime.combine(plan.last_activity, time(18, 0),
                                                       tzinfo=UTC)),
    )


def _build_book(opened: OpenWorkspace, rng: random.Random, *, n_accounts: int,
                n_contacts: int, n_deals: int, today: date) -> list[DemoAccount]:
    with opened.db.atomic(), acc.relinking_once(opened.db):
        accounts = _build_accounts(opened, rng, n_accounts)
        _build_contacts(opened, rng, accounts, n_contacts)
        for plan in _plan_deals(opened, rng, accounts, n_deals, today):
            _write_deal(opened, rng, plan, today)
        # Account-level timeline entries for accounts with no deal, so no timeline is empty.
        for account in accounts[n_deals:]:
            act.insert_activity(opened.db, account.account_id, "note",
                                body=rng.choice(data.NOTES),
                                date_utc=_moment(rng, today - timedelta(days=rng.randint(5, 500))))
    return accounts


def ingest_maildir(opened: OpenWorkspace, maildir: Path) -> None:
    """Sync the demo Maildir through the real ingest path (the one `rapport sync` takes)."""
    summary = sync_maildir(opened.db, mailbox=MAILBOX, path=maildir,
                           my_addresses=opened.config.me.all_addresses,
                           unsubscribe=unsubscribe_rules(opened.config))
    errors = [summary.error] if summary.error else []
    errors += [f.error for f in summary.folders if f.error]
    if errors:
        raise WorkspaceError(f"demo mail could not be ingested: {errors[0]}")


def build_demo(
    home: Path,
    *,
    accounts: int = 40,
    contacts: int = 150,
    deals: int = 60,
    messages: int = 3000,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    progress: Progress | None = None,
) -> OpenWorkspace:
    """(Re)build the demo workspace at `home` and return it open. Deterministic per seed/day."""
    if accounts < 1:
        raise WorkspaceError("a demo needs at least one account")
    today = today or date.today()  # the user's calendar day, as the TUI counts it
    say = progress or (lambda _text: None)
    rng = random.Random(seed)
    home = Path(home).expanduser().absolute()
    prepare_home(home)
    maildir = home / "Maildir"
    write_private_file(home / "config.toml", demo_config(maildir))
    opened = open_workspace(home)
    try:
        say(f"building the demo book: {accounts} accounts, {contacts} contacts, {deals} deals")
        book = _build_book(opened, rng, n_accounts=accounts, n_contacts=contacts,
                           n_deals=max(deals, 0), today=today)
        say(f"writing {messages} messages to {maildir}")
        mail = generate_mail(rng, me=ME, company=COMPANY, accounts=book, total=messages,
                             today=today)
        write_maildir(maildir, mail, progress)
        say("ingesting the Maildir")
        ingest_maildir(opened, maildir)
    except BaseException:
        opened.close()
        raise
    return opened
