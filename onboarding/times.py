"""Times as the project keeps them: aware datetimes in code, one text form in the state database."""
from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    """The one text form of a time in the state database: UTC, microseconds, 'Z'."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} has no time zone")
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def utcnow() -> dt.datetime:
    """Wall-clock time, for audit columns and leases only: decisions never read it."""
    return dt.datetime.now(dt.timezone.utc)


def sent_clock() -> dt.datetime:
    """When the ledger records an email as sent: the wall clock. The demo, replaying past nights,
    also sets ``ONBOARDING_SIMULATED_SINCE`` (the real moment it began the night): there an email
    is sent on the replayed night's clock (``ONBOARDING_SIMULATED_NOW``, running on from then),
    not on the day the demo happens to run."""
    import os

    since = os.environ.get("ONBOARDING_SIMULATED_SINCE")
    if not since or not os.environ.get("ONBOARDING_SIMULATED_NOW"):
        return utcnow()
    return clock() + (utcnow() - dt.datetime.fromisoformat(since))


def clock() -> dt.datetime:
    """The real time, as the rules that depend on it read it (no reminder once its deadline has
    passed in real time). The demo and the tests that replay past nights set
    ``ONBOARDING_SIMULATED_NOW`` (ISO 8601) to the night they replay; a deployment never sets it."""
    import os

    simulated = os.environ.get("ONBOARDING_SIMULATED_NOW")
    if simulated:
        moment = dt.datetime.fromisoformat(simulated)
        if moment.tzinfo is None:
            raise ValueError("ONBOARDING_SIMULATED_NOW needs a UTC offset")
        return moment.astimezone(dt.timezone.utc)
    return utcnow()


def iso_column(values) -> "pd.api.extensions.ExtensionArray":
    """A column of instants (UTC, or missing) in the state database's text form, all at once, as
    pandas' text column (Arrow's strings: a third of the memory of Python strings at a million)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    times = pd.to_datetime(pd.Series(values), utc=True)
    naive = times.dt.tz_localize(None).to_numpy("datetime64[us]")
    missing = times.isna().to_numpy()
    # A chunk at a time: the fixed-width text on the way costs 200 bytes a value, which at a
    # million was the largest moment of the validate and decide stages' memory.
    chunks = [pa.array(np.strings.add(np.datetime_as_string(naive[i:i + _ISO_CHUNK], unit="us"), "Z"),
                       type=pa.string(), mask=missing[i:i + _ISO_CHUNK])
              for i in range(0, len(naive), _ISO_CHUNK)]
    return pd.array(pa.chunked_array(chunks, type=pa.string()), dtype="str")


_ISO_CHUNK = 65_536
