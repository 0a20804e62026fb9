"""Writes the journey sample's exports in sample_data/saas-2026-11/ (deterministic: run it again, get
the same files): the second process this project automates, a SaaS product onboarding new accounts
in stages (config/journeys.yaml, journey ``saas-onboarding``; cohort file config/journey-cohorts.yaml).

- signups.csv: the product's account export, 240 accounts signing up from 26 Oct to 4 Dec 2026
  (Europe/London), with a marketing-consent column and the account's language (CSMs are matched on it);
- events.csv: the product's activity export in the long shape (one row per thing an account did:
  ``User Email, Event, Occurred At, Score, Link``), over the same five weeks and a few days more;
  each tool an account connects (step 13) is an event of its kind: ``calendar_integrated``,
  ``project_management_integrated``, ``notes_integrated``, ``communication_integrated``,
  ``social_integrated``.

The mess real data has is planted on purpose: addresses never verified, verified too late, details
never submitted, details submitted incomplete (the approver rejects them; some send them again),
queries the CSM answers and queries left open, quizzes failed and retaken, scores between the pass mark and the automatic approval (the CSM
decides), accounts that stop at a stage, queries, events for an address with no account, event
names the journey does not know, a score that is not a number, a formula in a cell, an impossible
date, capitals and spaces in addresses.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1] / "sample_data" / "saas-2026-11"
TZ = ZoneInfo("Europe/London")
FIRST = ["Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Katrin", "Lars",
         "Maya", "Nils", "Olga", "Paul", "Rosa", "Stefan", "Tara", "Uwe", "Vera", "Wim", "Yara", "Zoe",
         "Amir", "Bea", "Chidi", "Dana", "Emre", "Fiona"]
LAST = ["Schmidt", "Meyer", "Brown", "Clarke", "Novak", "Fischer", "Evans", "Hughes", "Kowalski", "Weber",
        "Patel", "Okafor", "Murphy", "Becker", "Rossi", "Dubois", "Jensen", "Silva", "Young", "Hall"]
COMPANIES = ["acme.io", "northwind.de", "globex.co.uk", "initech.com", "umbrella.eu", "hooli.com", "stark.dev"]
N = 240
TOOLS = ["calendar", "project_management", "notes", "communication", "social"]
START = dt.datetime(2026, 10, 26, 8, 0, tzinfo=TZ)


def at(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    rng = random.Random(20261126)
    signups, events = [], []
    for i in range(N):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{name.lower().replace(' ', '.')}.{i}@{rng.choice(COMPANIES)}"
        signed = START + dt.timedelta(days=39 * i / N, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
        shown = email.upper() if i % 37 == 5 else (f"  {email} " if i % 41 == 7 else email)
        # The account's language (CSMs are matched on it): German for the .de companies, a few
        # left empty (any CSM may take them); read from the domain, so the random draws stay as they were.
        language = "" if i % 13 == 3 else "de" if email.endswith(".de") else "en"
        signups.append({"Created": signed.strftime("%Y-%m-%d %H:%M"), "Name": name, "Email": shown,
                        "Marketing OK": "yes" if rng.random() < 0.7 else "no", "Language": language})
        r = rng.random()

        def ev(event: str, days: float, score: str = "", link: str = "") -> dt.datetime:
            t = signed + dt.timedelta(days=days, minutes=rng.randint(0, 300))
            events.append({"User Email": email, "Event": event, "Occurred At": at(t), "Score": score, "Link": link})
            return t

        ev("logged_in", 0.01)  # an event the journey does not read
        # 3 verification: 6% never, 4% after the 3 days.
        if r < 0.06:
            continue
        ev("email_verified", rng.uniform(3.2, 4.5) if r < 0.10 else rng.uniform(0.01, 1.5))
        if r < 0.10:
            continue
        # 5 details: 8% never submit; 14% submit them incomplete first (the approver rejects those),
        # and two in three of those send them again four to six days later.
        if r < 0.18:
            continue
        form = f"https://forms.example.com/details/{i:04d}"
        first = rng.uniform(0.5, 4.0)
        if r < 0.32:
            ev("details_submitted", first, link=f"{form}?complete=no")
            if rng.random() < 0.67:
                ev("details_submitted", first + rng.uniform(4, 6), link=f"{form}?v=2")
        else:
            ev("details_submitted", first, link=form)
        # 10 initial training quiz (pass 70, automatic at 85): 12% fail first and retake.
        if r > 0.95:
            continue  # stops here: never does the training
        quiz = first + rng.uniform(4, 10)
        if rng.random() < 0.12:
            ev("initial_quiz_completed", quiz, str(rng.randint(35, 69)), f"https://lms.example.com/quiz/{i:04d}/1")
            quiz += rng.uniform(2, 5)
        score = rng.choice([rng.randint(85, 100), rng.randint(85, 100), rng.randint(70, 84)])
        ev("initial_quiz_completed", quiz, str(score), f"https://lms.example.com/quiz/{i:04d}/2")
        # 12-14: profile, tools, exploring; 15 queries along the way.
        if rng.random() < 0.85:
            ev("profile_completed", quiz + rng.uniform(1, 6))
        if rng.random() < 0.25:
            asked = rng.uniform(0, 8)
            ticket = f"https://support.example.com/t/{1000 + i}"
            ev("query_asked", quiz + asked, link=ticket)
            if rng.random() < 0.6:  # the CSM answers most within a few days; the rest stay open
                ev("query_answered", quiz + asked + rng.uniform(0.2, 4), link=ticket)
        # 13: each tool connected is an event of its own kind; which kinds, from the account's
        # number (no draw of its own, so every other row stays as it was).
        for k in range(rng.randint(0, 3)):
            ev(f"{TOOLS[(i + 2 * k) % len(TOOLS)]}_integrated", quiz + rng.uniform(3, 9))
        if rng.random() < 0.8:
            ev("product_explored", quiz + rng.uniform(5, 12))
        # 18 advanced training quiz (pass 75, automatic at 90).
        if rng.random() < 0.5:
            ev("advanced_quiz_completed", quiz + rng.uniform(10, 18), str(rng.randint(60, 100)),
               f"https://lms.example.com/advanced/{i:04d}")
    # What real exports also hold.
    events += [
        {"User Email": "nobody.here@acme.io", "Event": "email_verified", "Occurred At": "2026-11-02T10:00:00Z",
         "Score": "", "Link": ""},  # no such account: never matched
        {"User Email": events[40]["User Email"], "Event": "initial_quiz_completed",
         "Occurred At": "2026-11-20T09:00:00Z", "Score": "n/a", "Link": ""},  # quarantined: not a number
        {"User Email": events[60]["User Email"], "Event": "=HYPERLINK(\"http://evil.example\",\"x\")",
         "Occurred At": "2026-11-21T09:00:00Z", "Score": "", "Link": ""},  # quarantined: not an event name
        {"User Email": events[80]["User Email"], "Event": "profile_completed", "Occurred At": "0001-01-01T00:00:00Z",
         "Score": "", "Link": ""},  # quarantined: impossible date
    ]
    events.sort(key=lambda e: e["Occurred At"])
    ROOT.mkdir(parents=True, exist_ok=True)
    for name, rows in (("signups.csv", signups), ("events.csv", events)):
        with open(ROOT / name, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(f"{ROOT}: {len(signups)} signups, {len(events)} event rows")


if __name__ == "__main__":
    main()
