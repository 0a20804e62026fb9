"""``airflow_settings.yaml`` (Astro CLI's format) loaded into an Airflow, without the Astro CLI.

    python -m onboarding.ops.airflow_setup apply    # connections, variables, pools -> the metadata DB
    python -m onboarding.ops.airflow_setup          # connections as `export AIRFLOW_CONN_*=...` lines

``apply`` writes into the metadata database that AIRFLOW_HOME / AIRFLOW__DATABASE__* name
(SQLite or PostgreSQL), creating what is missing and updating what differs, so running it again
changes nothing. Connection passwords and extras are encrypted there with Airflow's Fernet key.

``${VAR}`` and ``${VAR:-default}`` (nestable) are filled from the environment, so the file holds
no secrets. Empty values are dropped, so an unset secret never becomes an empty string. A
connection may be given whole as ``conn_uri`` (e.g. ``${ONBOARDING_STATE_URI:-}``): when it is
set it replaces the entry's other fields.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from onboarding import paths

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^{}]|\{[^{}]*\})*))?\}")
_FIELDS = ("host", "schema", "login", "password", "port")


def expand(value: str, env: dict[str, str]) -> str:
    """Fill ${VAR} / ${VAR:-default} from ``env``, innermost first."""
    previous = None
    while previous != value:
        previous = value
        value = _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    return value


def _fill(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return expand(node, env)
    if isinstance(node, dict):
        return {k: v for k, v in ((k, _fill(v, env)) for k, v in node.items()) if v not in ("", None)}
    if isinstance(node, list):
        return [_fill(v, env) for v in node]
    return node


def _section(name: str, path: Path | None, env: dict[str, str] | None) -> list[dict]:
    import yaml

    env = dict(os.environ if env is None else env)
    env.setdefault("ONBOARDING_ROOT", str(paths.PROJECT_ROOT))
    doc = yaml.safe_load((path or paths.PROJECT_ROOT / "airflow_settings.yaml").read_text()) or {}
    return [_fill(item, env) for item in (doc.get("airflow") or {}).get(name) or []]


def from_uri(uri: str) -> dict:
    """A connection URI (``postgres://user:pw@host:5432/db``, ``sqlite:////path/state.db``) in
    Airflow's JSON form."""
    parts = urlsplit(uri)
    conn_type = {"postgresql": "postgres"}.get(parts.scheme.split("+")[0], parts.scheme.split("+")[0])
    if conn_type == "sqlite":
        # As SQLAlchemy reads it: sqlite:////abs/state.db is /abs/state.db, sqlite:///rel.db is rel.db.
        return {"conn_type": "sqlite", "host": unquote(parts.path[1:])}
    conn = {"conn_type": conn_type, "host": parts.hostname, "port": parts.port,
            "login": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "schema": unquote(parts.path.lstrip("/")) or None}
    return {k: v for k, v in conn.items() if v not in (None, "")}


def connections(path: Path | None = None, env: dict[str, str] | None = None) -> dict[str, dict]:
    """conn_id -> the connection in Airflow's JSON form."""
    out = {}
    for c in _section("connections", path, env):
        if c.get("conn_uri"):
            out[c["conn_id"]] = from_uri(c["conn_uri"])
            continue
        conn = {"conn_type": c.get("conn_type", "generic")}
        for key in _FIELDS:
            if c.get(f"conn_{key}") not in (None, ""):
                conn[key] = c[f"conn_{key}"]
        if c.get("conn_extra"):
            conn["extra"] = c["conn_extra"]
        out[c["conn_id"]] = conn
    return out


def variables(path: Path | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    """variable name -> value (a variable whose value is unset is left out)."""
    return {v["variable_name"]: str(v["variable_value"]) for v in _section("variables", path, env)
            if v.get("variable_value") not in (None, "")}


def pools(path: Path | None = None, env: dict[str, str] | None = None) -> list[dict]:
    return _section("pools", path, env)


def apply(path: Path | None = None, env: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Create or update the file's connections, variables and pools in the Airflow metadata
    database; what is already as the file says is left alone. Returns what was created, updated
    and left unchanged (``connection:onboarding_state``, ``variable:...``, ``pool:...``)."""
    import sqlalchemy as sa
    from airflow.models import Connection, Variable
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    done: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    with create_session() as session:
        for conn_id, spec in connections(path, env).items():
            want = {"conn_type": spec["conn_type"], **{k: spec.get(k) for k in _FIELDS},
                    "extra": json.dumps(spec["extra"], sort_keys=True) if spec.get("extra") else None}
            want["port"] = int(want["port"]) if want["port"] not in (None, "") else None
            row = session.scalar(sa.select(Connection).where(Connection.conn_id == conn_id))
            if row is None:
                session.add(Connection(conn_id=conn_id, **want))
                done["created"].append(f"connection:{conn_id}")
                continue
            have = {"conn_type": row.conn_type, **{k: getattr(row, k) for k in _FIELDS},
                    "extra": json.dumps(json.loads(row.extra), sort_keys=True) if row.extra else None}
            if have == want:
                done["unchanged"].append(f"connection:{conn_id}")
                continue
            for key, value in want.items():
                setattr(row, key, value)
            done["updated"].append(f"connection:{conn_id}")
        for key, value in variables(path, env).items():
            row = session.scalar(sa.select(Variable).where(Variable.key == key))
            if row is None:
                session.add(Variable(key=key, val=value))
                done["created"].append(f"variable:{key}")
            elif row.val != value:
                row.set_val(value)
                done["updated"].append(f"variable:{key}")
            else:
                done["unchanged"].append(f"variable:{key}")
        for p in pools(path, env):
            name, slots, description = p["pool_name"], int(p["pool_slot"]), p.get("pool_description", "")
            row = session.scalar(sa.select(Pool).where(Pool.pool == name))
            if row is not None and (row.slots, row.description or "") == (slots, description):
                done["unchanged"].append(f"pool:{name}")
                continue
            Pool.create_or_update_pool(name, slots, description, False, session=session)
            done["created" if row is None else "updated"].append(f"pool:{name}")
    return done


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["apply"]:
        done = apply()
        for what, names in done.items():
            if names:
                print(f"airflow_settings.yaml: {what} {', '.join(names)}")
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    for conn_id, conn in connections().items():
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        if var in os.environ:  # an explicit environment variable wins over the file
            continue
        print(f"export {var}={shlex.quote(json.dumps(conn))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
