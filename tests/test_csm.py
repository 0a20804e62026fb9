"""CSM assignment (issue 13, step 7): within capacity, sticky, matched on the named attributes,
least loaded or round robin, the same on a rerun; over capacity the customer waits."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from onboarding.cohorts import read_yaml
from onboarding.decisions.csm import Newcomer, place
from onboarding.errors import ConfigError
from onboarding.journeys import Csm, journeys_from

ROOT = Path(__file__).resolve().parents[1]
T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
ROSTER = (Csm("Priya", "priya@x.com", 2, (("language", "en"),)), Csm("Jonas", "jonas@x.com", 2, (("language", "de"),)),
          Csm("Mia", "mia@x.com", 3, (("language", "en"),)))


def people(*specs):
    return [Newcomer(f"{n}@c.org", T0 + dt.timedelta(hours=i), (("language", lang),) if lang else ())
            for i, (n, lang) in enumerate(specs)]


def test_least_loaded_within_capacity_matching_language_and_the_rest_wait():
    out = place(ROSTER, {"old@c.org": "priya@x.com"},
                people(("a", "en"), ("b", "de"), ("c", "en"), ("d", None), ("e", "de"), ("f", "de"), ("g", "en")),
                match=("language",))
    # d asks for no language: the least loaded (Jonas and Mia at 1; Jonas first in the roster).
    assert out.assigned == {"a@c.org": "mia@x.com", "b@c.org": "jonas@x.com", "c@c.org": "priya@x.com",
                            "d@c.org": "jonas@x.com", "g@c.org": "mia@x.com"}
    assert out.waiting == ("e@c.org", "f@c.org")  # German, and Jonas is full: they wait, the instructor is told
    assert out.load == {"priya@x.com": 2, "jonas@x.com": 2, "mia@x.com": 2}


def test_a_language_matches_as_the_emails_read_it():
    """A customer written to in German (``DE``, `` de-AT ``) gets the German-speaking CSM, as one
    with ``de`` does; a value that is no language (a path, markup) asks for none."""
    out = place(ROSTER, {}, people(("a", " DE "), ("b", "de-AT"), ("c", "../de"), ("d", "<b>de</b>")),
                match=("language",))
    assert out.assigned["a@c.org"] == out.assigned["b@c.org"] == "jonas@x.com"
    # No language asked for: the least loaded, in roster order (Jonas is full).
    assert (out.assigned["c@c.org"], out.assigned["d@c.org"]) == ("priya@x.com", "mia@x.com")
    roster = (Csm("Jonas", "jonas@x.com", 2, (("language", "DE"),)),)
    assert place(roster, {}, people(("a", "de")), match=("language",)).assigned == {"a@c.org": "jonas@x.com"}


def test_round_robin_goes_on_after_the_last_one_assigned():
    out = place(ROSTER, {}, people(("a", None), ("b", None), ("c", None), ("d", None)), method="round_robin",
                last_assigned="jonas@x.com")
    assert list(out.assigned.values()) == ["mia@x.com", "priya@x.com", "jonas@x.com", "mia@x.com"]


def test_an_assignment_is_sticky_even_when_the_roster_changes():
    out = place(ROSTER[1:], {"a@c.org": "priya@x.com"}, people(("a", "en"), ("b", "en")), match=("language",))
    assert out.assigned == {"b@c.org": "mia@x.com"}  # a keeps Priya, who has left the roster


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["en", "de", None])), min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(0, 200), st.sampled_from(["en", "de", None])), max_size=25),
       st.sampled_from(["least_loaded", "round_robin"]), st.booleans())
def test_for_any_roster_and_arrivals(caps, arrivals, method, matching):
    roster = [Csm(f"C{i}", f"c{i}@x.com", cap, (("language", lang),) if lang else ()) for i, (cap, lang) in enumerate(caps)]
    newcomers = [Newcomer(f"p{i}@c.org", T0 + dt.timedelta(minutes=m), (("language", lang),) if lang else ())
                 for i, (m, lang) in enumerate(arrivals)]
    match = ("language",) if matching else ()
    out = place(roster, {}, newcomers, method, match)
    # Never over capacity; everyone placed or waiting, once.
    assert all(out.load[c.email] <= c.capacity for c in roster)
    assert sorted([*out.assigned, *out.waiting]) == sorted(n.email for n in newcomers)
    # Matched on language when asked.
    wants = {n.email: dict(n.attributes).get("language") for n in newcomers}
    by_email = {c.email: c for c in roster}
    assert all(not matching or not wants[p] or by_email[c].attribute("language") == wants[p]
               for p, c in out.assigned.items())
    # Someone waits only when no CSM that could take them had room.
    for p in out.waiting:
        assert all(out.load[c.email] >= c.capacity for c in roster
                   if not matching or not wants[p] or c.attribute("language") == wants[p])
    # The same on a rerun; and a second night keeps every assignment (sticky).
    assert place(roster, {}, list(reversed(newcomers)), method, match) == out
    again = place(roster, out.assigned, newcomers, method, match)
    assert again.assigned == {} or set(again.assigned) <= set(out.waiting)


def test_the_roster_is_checked_when_the_journey_file_is_read(tmp_path):
    doc = read_yaml(ROOT / "config" / "journeys.yaml")
    j = journeys_from(doc, ROOT / "config" / "journeys.yaml")["saas-onboarding"]
    assert [c.name for c in j.csms] == ["Priya Raman", "Jonas Weber", "Mia Chen"] and j.csm_match == ("language",)
    saas = doc["journeys"]["saas-onboarding"]
    for change, message in (({"csms": [{"name": "A", "email": "a@x.com, b@x.com", "capacity": 3}]}, "is not one email"),
                            ({"csms": [{"name": "A", "email": "a@x.com", "capacity": 0}]}, "capacity: expected"),
                            ({"csm_assignment": "random"}, "csm_assignment: expected one of"),
                            ({"csm_match": ["timezone"]}, "csm_match: 'timezone' is not an attribute"),
                            ({"csms": [], "csm_match": []}, "stage 'csm': assign_csm: needs the journey's 'csms' roster")):
        bad = {"journeys": {"saas-onboarding": {**saas, **change}}}
        path = tmp_path / "j.yaml"
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(ConfigError, match=message):
            journeys_from(read_yaml(path), path)
