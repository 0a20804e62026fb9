"""Writes the bundled sample exports in sample_data/ (deterministic: run it again, get the same files).

Two cohorts, shaped like real exports:
- data-eng-2026-12 (Australia/Sydney, deadline 2026-12-04): a Google Forms signup sheet (US-style
  timestamps) and an LMS completion report (UTC 'Z' timestamps, some with offsets), ~320 signups;
- ux-2026-12 (America/New_York, deadline 2026-12-03, welcome at completion): another form with
  other column names, ~60 signups.

The messy cases real exports have are planted on purpose: whitespace and capitals in emails,
duplicate signups, invalid emails, missing names, non-ASCII names, a name carrying a header
injection and one carrying HTML, completions with no signup, exact duplicate completion rows, an
unreadable timestamp, completions either side of the deadline in the cohort's zone but not in UTC.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1] / "sample_data"
FIRST = ["Olivia", "Liam", "Charlotte", "Noah", "Amelia", "Oliver", "Isla", "Jack", "Mia", "William", "Ava",
         "Henry", "Grace", "Leo", "Chloe", "Lucas", "Ella", "Thomas", "Harper", "James", "Sophie", "Ethan",
         "Ruby", "Samuel", "Zara", "Daniel", "Priya", "Arjun", "Mei", "Hiroshi", "Fatima", "Omar", "Aisha",
         "Mateo", "Lucia", "Tane", "Aroha", "Kofi", "Ngozi", "Sven"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin", "White",
        "Anderson", "Thompson", "Lee", "Walker", "Harris", "Ryan", "Robinson", "Kelly", "King", "Davis",
        "Patel", "Singh", "Chen", "Wang", "Kim", "Tanaka", "Haddad", "Khan", "Garcia", "Rossi", "Mensah"]
SPECIAL_NAMES = ["José Álvarez", "Zoë Brontë", "王芳", "Ngũgĩ wa Thiong'o", "Siobhán O'Connor",
                 "Łukasz Żółć", "Søren Kierkegård", "Nguyễn Thị Minh Khai"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com.au", "bigpond.com", "icloud.com", "uni.edu.au", "proton.me"]


def person(rng: random.Random, i: int, name: str | None = None) -> tuple[str, str]:
    name = name or f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    local = "".join(ch for ch in name.lower().replace(" ", ".") if ch.isascii() and (ch.isalnum() or ch == "."))
    return name, f"{local or 'learner'}.{i}@{rng.choice(DOMAINS)}"


def data_eng(rng: random.Random) -> None:
    tz = ZoneInfo("Australia/Sydney")
    deadline_end = dt.datetime(2026, 12, 5, 0, 0, tzinfo=tz)  # end of 2026-12-04, Sydney
    signups, completions = [], []

    def signup(name, email, when, source="Website"):
        signups.append({"Timestamp": when.astimezone(tz).strftime("%m/%d/%Y %H:%M:%S"), "Full Name": name,
                        "Email": email, "Phone": f"04{rng.randint(10000000, 99999999)}",
                        "How did you hear about us?": source})

    def complete(email, when, score=None, fmt="Z"):
        if fmt == "Z":
            stamp = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif fmt == "offset":
            stamp = when.astimezone(tz).isoformat(timespec="seconds")
        else:
            stamp = fmt
        completions.append({"user_email": email, "course_id": "DE-2026-12", "completed_at": stamp,
                            "score": score if score is not None else rng.randint(70, 100)})

    start = dt.datetime(2026, 10, 20, 9, 0, tzinfo=tz)
    people = []
    for i in range(300):
        name, email = person(rng, i, SPECIAL_NAMES[i] if i < len(SPECIAL_NAMES) else None)
        when = start + dt.timedelta(minutes=rng.randint(0, 35 * 24 * 60))  # up to ~24 Nov
        people.append((name, email, when))
    # Late signups inside the reminder window (a reminder still goes to each).
    for j, day in enumerate([1, 2, 3, 3]):
        name, email = person(rng, 300 + j)
        people.append((name, email, dt.datetime(2026, 12, day, 10 + j, 15, tzinfo=tz)))

    for i, (name, email, when) in enumerate(people):
        shown = email
        if i % 23 == 0:
            shown = f"  {email.upper()} "  # capitals and stray spaces, as typed into a form
        signup(name, shown, when, rng.choice(["Website", "Friend", "LinkedIn", "Newsletter"]))
        roll = rng.random()
        if roll < 0.62:  # on time, spread over the weeks before the deadline
            done = when + dt.timedelta(hours=rng.randint(2, 24 * 20))
            done = min(done, deadline_end - dt.timedelta(hours=rng.randint(1, 60)))
            complete(email if i % 7 else email.upper(), max(done, when + dt.timedelta(hours=1)),
                     fmt="Z" if i % 5 else "offset")
        elif roll < 0.70:  # late: after the deadline
            complete(email, deadline_end + dt.timedelta(hours=rng.randint(2, 40)))
        # else: never completes -> reminder, then cancellation

    # Duplicate signups: the same person again, once with different capitals.
    for i in (10, 50, 90, 130, 170):
        name, email, when = people[i]
        signup(name, email.capitalize() if i % 20 else email, when + dt.timedelta(days=2))
    # Rows a validator must quarantine.
    signup("Jane Doe", "jane.doe@", start + dt.timedelta(days=3))
    signup("Bob Builder", "bob at example.com", start + dt.timedelta(days=4))
    signup("", "nameless.learner@gmail.com", start + dt.timedelta(days=5))
    signup("   ", "blank.name@outlook.com", start + dt.timedelta(days=6))
    signup("Ana Lima", "", start + dt.timedelta(days=6))
    # Names that must not break an email: a header injection and markup.
    signup("Mallory Example\r\nBcc: everyone@attacker.example", "mallory.example@gmail.com",
           start + dt.timedelta(days=7))
    signup("<b>Eve</b> & <script>alert(1)</script>", "eve.markup@proton.me", start + dt.timedelta(days=8))
    complete("eve.markup@proton.me", start + dt.timedelta(days=9))
    # Either side of the deadline in Sydney, on the same UTC date (2026-12-04).
    signup("Early Bird", "early.bird@uni.edu.au", start + dt.timedelta(days=1))
    complete("early.bird@uni.edu.au", dt.datetime(2026, 12, 4, 12, 30, tzinfo=dt.timezone.utc))  # 23:30 Sydney: on time
    signup("Night Owl", "night.owl@uni.edu.au", start + dt.timedelta(days=1))
    complete("night.owl@uni.edu.au", dt.datetime(2026, 12, 4, 13, 30, tzinfo=dt.timezone.utc))  # 00:30 next day: late
    # An exact duplicate completion row (the LMS exported it twice): collapses to one.
    complete(completions[5]["user_email"], None, completions[5]["score"], fmt=completions[5]["completed_at"])
    # A completion whose time cannot be read: that customer is held, not cancelled.
    signup("Tom Unclear", "tom.unclear@icloud.com", start + dt.timedelta(days=2))
    complete("tom.unclear@icloud.com", None, fmt="yesterday afternoon")
    # Completions with no signup (someone enrolled outside the form): listed, never emailed.
    for k in range(4):
        complete(f"walk.in.{k}@example.org", dt.datetime(2026, 11, 20 + k, 3, 0, tzinfo=dt.timezone.utc))

    rng.shuffle(completions)
    folder = ROOT / "data-eng-2026-12"
    folder.mkdir(parents=True, exist_ok=True)
    # A form export lists responses in the order they arrived.
    signups.sort(key=lambda r: dt.datetime.strptime(r["Timestamp"], "%m/%d/%Y %H:%M:%S"))
    write(folder / "signups.csv", signups)
    write(folder / "completions.csv", completions)


def ux(rng: random.Random) -> None:
    tz = ZoneInfo("America/New_York")
    deadline_end = dt.datetime(2026, 12, 4, 0, 0, tzinfo=tz)
    signups, completions = [], []
    for i in range(60):
        name, email = person(rng, 1000 + i)
        when = dt.datetime(2026, 11, 1, 9, tzinfo=tz) + dt.timedelta(hours=rng.randint(0, 24 * 25))
        signups.append({"Submitted On": when.strftime("%Y-%m-%d %H:%M"), "Learner": name, "E-mail Address": email,
                        "Company": rng.choice(["Acme", "Globex", "Initech", ""])})
        roll = rng.random()
        if roll < 0.7:
            done = min(when + dt.timedelta(hours=rng.randint(5, 24 * 12)), deadline_end - dt.timedelta(hours=3))
            # The course platform writes local time without an offset.
            completions.append({"Email": email, "Finished": done.strftime("%Y-%m-%d %H:%M:%S"), "Status": "complete"})
        elif roll < 0.8:
            done = deadline_end + dt.timedelta(hours=rng.randint(1, 30))
            completions.append({"Email": email, "Finished": done.strftime("%Y-%m-%d %H:%M:%S"), "Status": "complete"})
    folder = ROOT / "ux-2026-12"
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "signups.csv", signups)
    write(folder / "completions.csv", completions)


def write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    rng = random.Random(20261204)
    data_eng(rng)
    ux(rng)
    print(f"sample exports written under {ROOT}")
