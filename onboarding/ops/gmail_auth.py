"""One-time Gmail authorisation for an OAuth user (the instructor's own account).

    .venv/bin/python -m onboarding.ops.gmail_auth --client-secrets client_secret.json

Runs Google's consent flow (google-auth-oauthlib, "installed app"): a browser opens, the
instructor signs in to the sending account and allows the two scopes the pipeline uses
(compose: create and send drafts; read-only: find an earlier send in Sent after an unclear
outcome). It then prints the ``onboarding_email`` connection to store in Airflow. The printed
refresh token is a secret: store it in a secrets backend or an environment variable, never in
a committed file. Get ``client_secret.json`` from Google Cloud Console (APIs & Services ->
Credentials -> OAuth client ID -> Desktop app), in a project with the Gmail API enabled.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys

from onboarding.google_api import GMAIL_SCOPES


def scopes(sheets: bool = False) -> list[str]:
    """Gmail's two scopes; with ``sheets``, also reading and writing Google Sheets (sources and the
    instructor's spreadsheet) and reading a sheet's last-modified time (the freshness guard)."""
    from onboarding.google_api import SHEETS_READ_SCOPES, SHEETS_WRITE_SCOPES

    return list(GMAIL_SCOPES) + (list(SHEETS_WRITE_SCOPES) + [SHEETS_READ_SCOPES[1]] if sheets else [])


def consent(client_secrets: str, port: int = 0, open_browser: bool = True, browser: str | None = None,
            sheets: bool = False) -> dict:
    """Run the consent flow; return the connection's extra (includes the refresh token)."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_secrets_file(client_secrets, scopes=scopes(sheets))
    creds = flow.run_local_server(port=port, open_browser=open_browser, browser=browser,
                                  access_type="offline", prompt="consent")
    if not creds.refresh_token:
        raise SystemExit("Google returned no refresh token; revoke the app's access at "
                         "myaccount.google.com/permissions and run this again")
    return {"backend": "gmail", "auth": "oauth_user", "client_id": creds.client_id,
            "client_secret": creds.client_secret, "refresh_token": creds.refresh_token,
            "token_uri": creds.token_uri}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client-secrets", required=True, help="the OAuth client file from Google Cloud Console")
    ap.add_argument("--port", type=int, default=0, help="local port for Google's redirect (default: any free one)")
    ap.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    ap.add_argument("--conn-id", default="onboarding_email")
    ap.add_argument("--sheets", action="store_true",
                    help="also allow Google Sheets (sheet sources, the instructor's spreadsheet) for this account")
    args = ap.parse_args(argv)
    extra = consent(args.client_secrets, args.port, not args.no_browser, sheets=args.sheets)
    conn = json.dumps({"conn_type": "generic", "extra": extra})
    print("\nAuthorised. Store this connection in Airflow (it is a secret: it lets the pipeline send as you):\n")
    print(f"  airflow connections add {args.conn_id} --conn-json {shlex.quote(conn)}\n")
    print("or, for the scripts in this project, set these environment variables:\n")
    print("  export ONBOARDING_EMAIL_BACKEND=gmail")
    print(f"  export GMAIL_CLIENT_ID={shlex.quote(extra['client_id'])}")
    print(f"  export GMAIL_CLIENT_SECRET={shlex.quote(extra['client_secret'])}")
    print(f"  export GMAIL_REFRESH_TOKEN={shlex.quote(extra['refresh_token'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
