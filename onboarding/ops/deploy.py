"""Helpers for ``scripts/stack.sh`` (the production-shaped stack): databases and shared secrets.

    python -m onboarding.ops.deploy ensure-database URL      # create the PostgreSQL database if missing
    python -m onboarding.ops.deploy drop-database URL        # drop it (tests)
    python -m onboarding.ops.deploy secrets FILE             # print export lines for the stack's secrets

Every Airflow process of one deployment must share three secrets: the JWT secret (the api-server
signs the tokens the workers' tasks present), the Fernet key (connections are encrypted with it in
the metadata database) and the api secret key. Taken from the environment (a secrets manager, a
systemd EnvironmentFile, Kubernetes secrets); on a single machine, generated once into FILE (mode
600, never committed) when the environment does not give them.
"""
from __future__ import annotations

import os
import re
import secrets
import shlex
import sys
from pathlib import Path

def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": lambda: secrets.token_hex(48),
    "AIRFLOW__CORE__FERNET_KEY": _fernet_key,
    "AIRFLOW__API__SECRET_KEY": lambda: secrets.token_hex(32),
}


def _admin_and_name(url: str):
    import sqlalchemy as sa

    # Airflow's connection URIs say postgres://; SQLAlchemy wants postgresql (psycopg 3 here).
    u = sa.engine.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url))
    if u.get_backend_name() != "postgresql":
        raise SystemExit(f"not a PostgreSQL URL: {u.render_as_string(hide_password=True)}")
    return sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT"), u.database


def ensure_database(url: str) -> bool:
    """Create the URL's database on its server if it does not exist; True if created."""
    import sqlalchemy as sa

    admin, name = _admin_and_name(url)
    try:
        with admin.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return False
            # Identifiers cannot be bound parameters; quote it as PostgreSQL does.
            conn.execute(sa.text("CREATE DATABASE " + conn.dialect.identifier_preparer.quote(name)))
            return True
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    import sqlalchemy as sa

    admin, name = _admin_and_name(url)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS " + conn.dialect.identifier_preparer.quote(name)
                                 + " WITH (FORCE)"))
    finally:
        admin.dispose()


def secrets_exports(path: Path, env: dict[str, str] | None = None) -> str:
    """``export`` lines for the shared secrets: the environment's if set, else FILE's, else new
    ones written to FILE."""
    env = dict(os.environ if env is None else env)
    stored: dict[str, str] = {}
    if path.exists():
        # Readable by its owner only, whatever mode it was left with (a copy, an editor, a umask).
        os.chmod(path, 0o600)
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in SECRETS and value:
                stored[key] = value
    missing = [k for k in SECRETS if not env.get(k) and k not in stored]
    if missing:
        stored.update({k: SECRETS[k]() for k in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in stored.items()))
        os.chmod(path, 0o600)
    return "".join(f"export {k}={shlex.quote(env.get(k) or stored[k])}\n" for k in SECRETS)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "ensure-database":
        created = ensure_database(argv[1])
        print(f"database {'created' if created else 'exists'}", file=sys.stderr)
        return 0
    if len(argv) == 2 and argv[0] == "drop-database":
        drop_database(argv[1])
        return 0
    if len(argv) == 2 and argv[0] == "secrets":
        sys.stdout.write(secrets_exports(Path(argv[1])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
