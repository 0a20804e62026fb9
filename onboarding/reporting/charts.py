"""Charts where people would rather look than read: the cohort's funnel, completions per day
against the deadline and the reminder nights, and cohorts side by side.

Each chart is a Vega-Lite specification built with Altair and rendered on this machine by
vl-convert (no browser, no network): SVG for the Onboarding page, PNG for the summary email. The
numbers each chart shows are also written as text beside it (mail clients block images; screen
readers read text).
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from onboarding.words import STANDING_SHORT

FUNNEL_STEPS = (("signed_up", "signed up"), ("reminded", "reminded"), ("on_time", STANDING_SHORT["on_time"]),
                ("completed_late", STANDING_SHORT["completed_late"]), ("missed", STANDING_SHORT["missed"]),
                ("pending", STANDING_SHORT["pending"]), ("held", STANDING_SHORT["held"]))
STANDING_STEPS = tuple(s for s in FUNNEL_STEPS if s[0] != "reminded")  # what one run's standings show
COLORS = {"signed up": "#4c78a8", "reminded": "#9ecae9", "on time": "#54a24b", "completed late": "#eeca3b",
          "missed": "#e45756", "not yet": "#bab0ac", "on hold": "#b279a2"}
WIDTH = 320  # fits a phone (375 px) with the page's margins


def funnel_spec(funnel: dict[str, Any], steps: tuple[tuple[str, str], ...] = FUNNEL_STEPS) -> dict[str, Any]:
    """Customers per step of the cohort's funnel, one bar each, in the funnel's order."""
    import altair as alt

    rows = [{"step": label, "customers": int(funnel.get(key) or 0)} for key, label in steps]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("step:N", sort=[label for _, label in steps], title=None),
        x=alt.X("customers:Q", title="customers"))
    bars = base.mark_bar().encode(color=alt.Color("step:N", scale=alt.Scale(domain=list(COLORS),
                                                                             range=list(COLORS.values())),
                                                 legend=None))
    labels = base.mark_text(align="left", dx=3).encode(text="customers:Q")
    return (bars + labels).properties(width=WIDTH, title="Customers by standing").to_dict(validate=False)


def stage_funnel_spec(stages: list[dict[str, Any]], titles: dict[str, str]) -> dict[str, Any]:
    """A journey's stages in order: how many entered each and how many completed it, side by side
    (where the journey loses its customers)."""
    import altair as alt

    order = [titles.get(s["stage"], s["stage"]) for s in stages]
    rows = [{"stage": titles.get(s["stage"], s["stage"]), "what": what, "customers": int(s[key] or 0)}
            for s in stages for key, what in (("entered", "entered"), ("completed", "completed"))]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("stage:N", sort=order, title=None), yOffset=alt.YOffset("what:N", sort=["entered", "completed"]),
        x=alt.X("customers:Q", title="customers"))
    bars = base.mark_bar().encode(color=alt.Color("what:N", scale=alt.Scale(domain=["entered", "completed"],
                                                                              range=["#4c78a8", "#54a24b"]),
                                                  legend=alt.Legend(title=None, orient="bottom")))
    labels = base.mark_text(align="left", dx=3).encode(text="customers:Q")
    return (bars + labels).properties(width=WIDTH, title="Customers per stage").to_dict(validate=False)


def per_day(instants, tz: ZoneInfo) -> dict[dt.date, int]:
    """How many of ``instants`` (UTC, a pandas column or a list) fall on each day of ``tz``'s
    calendar, counted column-wise (a big cohort's completions in milliseconds)."""
    import pandas as pd

    times = pd.to_datetime(pd.Series(instants, dtype=object), utc=True).dropna()
    if times.empty:
        return {}
    counts = times.dt.tz_convert(tz).dt.date.value_counts()
    return {d: int(n) for d, n in sorted(counts.items())}


def completions_spec(completions: dict[dt.date, int], reminders: list[dt.datetime], deadline_at: dt.datetime,
                     tz: ZoneInfo) -> dict[str, Any]:
    """Completions per day (``per_day``, the cohort's own calendar) with the deadline and the
    reminder nights marked: did people finish before the deadline, and did they after a reminder?"""
    import altair as alt

    # Times go to Vega-Lite as the cohort's wall-clock text (no offset): Vega reads them and
    # draws the axis in one and the same zone, so a day is the cohort's day.
    rows = [{"day": d.isoformat() + "T00:00", "next": (d + dt.timedelta(days=1)).isoformat() + "T00:00",
             "completions": n} for d, n in sorted(completions.items())]
    wall = "%Y-%m-%dT%H:%M"
    nights = sorted({r.astimezone(tz).strftime(wall) for r in reminders})
    # The deadline last, so that it is drawn over a reminder night at the same moment.
    marks = [{"at": n, "what": "reminders"} for n in nights] + [
        {"at": deadline_at.astimezone(tz).strftime(wall), "what": "deadline"}]
    bars = alt.Chart(alt.Data(values=rows)).mark_bar(color="#4c78a8", stroke="white", strokeWidth=0.5).encode(
        x=alt.X("day:T", title=f"day ({tz.key})", axis=alt.Axis(format="%d %b")), x2="next:T",
        y=alt.Y("completions:Q", title="completions", scale=alt.Scale(zero=True)), y2=alt.datum(0))
    rules = alt.Chart(alt.Data(values=marks)).mark_rule(size=2).encode(
        x=alt.X("at:T"),
        strokeDash=alt.StrokeDash("what:N", scale=alt.Scale(domain=["deadline", "reminders"],
                                                             range=[[1, 0], [4, 3]]), legend=None),
        color=alt.Color("what:N", scale=alt.Scale(domain=["deadline", "reminders"], range=["#e45756", "#f58518"]),
                        legend=alt.Legend(title=None, orient="top")))
    return (bars + rules).properties(width=WIDTH, height=160, title="Completions per day").to_dict(validate=False)


def comparison_spec(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cohorts side by side: the share of each cohort on time, completed late and missed."""
    import altair as alt

    values = []
    for r in rows:
        n = r.get("signed_up") or 0
        for key in ("on_time", "completed_late", "missed"):
            values.append({"cohort": r["cohort_id"], "standing": STANDING_SHORT[key],
                           "share": (r.get(key) or 0) / n if n else 0.0})
    order = [STANDING_SHORT[k] for k in ("on_time", "completed_late", "missed")]
    return alt.Chart(alt.Data(values=values)).mark_bar().encode(
        y=alt.Y("cohort:N", title=None),
        x=alt.X("share:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of customers"),
        color=alt.Color("standing:N", scale=alt.Scale(domain=order, range=[COLORS[o] for o in order]),
                        legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("standing_order:Q"),
    ).transform_calculate(
        standing_order=f"indexof({order!r}, datum.standing)"
    ).properties(width=WIDTH, title="Cohorts compared").to_dict(validate=False)


# An email's chart, whole (axes and labels included), is this wide: the summary shows it at this
# width, not shrunk, so its text is read at EMAIL_FONT px on a phone (390 px less the margins).
EMAIL_WIDTH = 340
EMAIL_FONT = 14


def for_email(spec: dict[str, Any]) -> dict[str, Any]:
    """A chart for the summary email: its whole image ``EMAIL_WIDTH`` wide (Vega-Lite's ``fit``
    autosize), with text at ``EMAIL_FONT`` px. An image wider than the mail's column is shrunk by
    the mail client, and its 10 px labels with it."""
    font = {"labelFontSize": EMAIL_FONT, "titleFontSize": EMAIL_FONT}
    return {**spec, "width": EMAIL_WIDTH, "autosize": {"type": "fit-x", "contains": "padding"},
            "config": {**spec.get("config", {}), "axis": font, "legend": font,
                       "title": {"fontSize": EMAIL_FONT + 2}, "text": {"fontSize": EMAIL_FONT}}}


def svg(spec: dict[str, Any]) -> str:
    """The chart as an SVG document, for a web page."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec)


def png(spec: dict[str, Any]) -> bytes:
    """The chart as a PNG image (2x for sharp text on phones), for an email. A drawing already
    made as SVG (``{SVG_KEY: text}``: the journey map) is rasterised by the same renderer."""
    import vl_convert as vlc

    if SVG_KEY in spec:
        return vlc.svg_to_png(spec[SVG_KEY], scale=2)
    return vlc.vegalite_to_png(spec, scale=2)


SVG_KEY = "$svg"  # a drawing of our own (SVG text) among the Vega-Lite specifications to draw


def pngs_apart(specs: dict[str, dict[str, Any]], timeout: float = 90.0) -> dict[str, bytes]:
    """Several charts as PNG images, drawn by a fresh Python process of their own.

    The renderer (vl-convert) runs a JavaScript engine with threads of its own; a process forked
    after it started (an executor's worker forking a task) can deadlock in it. A task therefore
    never starts it in its own process: a child draws the charts and is given ``timeout``
    seconds, after which the report goes on without them (their numbers are in the text)."""
    import base64
    import json
    import subprocess
    import sys

    if not specs:
        return {}
    script = ("import base64, json, sys\n"
              "from onboarding.reporting.charts import png\n"
              "specs = json.load(sys.stdin)\n"
              "json.dump({k: base64.b64encode(png(v)).decode() for k, v in specs.items()}, sys.stdout)\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(specs), capture_output=True, text=True,
                          timeout=timeout, check=True)
    return {k: base64.b64decode(v) for k, v in json.loads(done.stdout).items()}
