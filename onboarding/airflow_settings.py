"""Reads ``airflow_settings.yaml`` and prints its connections as ``export AIRFLOW_CONN_*=...``
lines for a shell to evaluate (``eval "$(python -m onboarding.airflow_settings)"``).

``${VAR}`` and ``${VAR:-default}`` (nestable) are filled from the environment, so the file holds
no secrets. Empty values are dropped, so an unset secret never becomes an empty string.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from onboarding import settings

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^{}]|\{[^{}]*\})*))?\}")


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


def connections(path: Path | None = None, env: dict[str, str] | None = None) -> dict[str, dict]:
    """conn_id -> the connection in Airflow's JSON form."""
    import yaml

    env = dict(os.environ if env is None else env)
    env.setdefault("ONBOARDING_ROOT", str(settings.PROJECT_ROOT))
    doc = yaml.safe_load((path or settings.PROJECT_ROOT / "airflow_settings.yaml").read_text()) or {}
    out = {}
    for raw in (doc.get("airflow") or {}).get("connections") or []:
        c = _fill(raw, env)
        conn = {"conn_type": c.get("conn_type", "generic")}
        for key in ("host", "schema", "login", "password", "port"):
            if c.get(f"conn_{key}") not in (None, ""):
                conn[key] = c[f"conn_{key}"]
        if c.get("conn_extra"):
            conn["extra"] = c["conn_extra"]
        out[c["conn_id"]] = conn
    return out


def pools(path: Path | None = None, env: dict[str, str] | None = None) -> list[dict]:
    import yaml

    env = dict(os.environ if env is None else env)
    doc = yaml.safe_load((path or settings.PROJECT_ROOT / "airflow_settings.yaml").read_text()) or {}
    return [_fill(p, env) for p in (doc.get("airflow") or {}).get("pools") or []]


def apply_pools() -> None:
    """Create or update the pools in the Airflow that AIRFLOW_HOME points at (idempotent)."""
    import subprocess

    for p in pools():
        subprocess.run([sys.executable, "-m", "airflow", "pools", "set", p["pool_name"], str(p["pool_slot"]),
                        p.get("pool_description", "")], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    if sys.argv[1:] == ["--apply-pools"]:
        apply_pools()
        return
    for conn_id, conn in connections().items():
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        if var in os.environ:  # an explicit environment variable wins over the file
            continue
        print(f"export {var}={shlex.quote(json.dumps(conn))}")


if __name__ == "__main__":
    sys.exit(main())
