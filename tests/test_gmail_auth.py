"""Both ways an instructor authorises Gmail, end to end against the fake Google server:
the installed-app consent flow (google-auth-oauthlib) and a service account with domain-wide
delegation; each then sends a real email through the real client."""
from __future__ import annotations

import json
import threading
import urllib.request
import webbrowser

import pytest

from onboarding.delivery.messages import Rendered, build_message
from onboarding.delivery.senders import GmailSender
from onboarding.google_api import GMAIL_SCOPES, gmail_service
from onboarding.ops import gmail_auth


class ClickThroughBrowser(webbrowser.BaseBrowser):
    """A 'browser' that opens the consent URL and follows Google's redirect back to the flow."""

    def open(self, url, new=0, autoraise=True):
        threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).read(), daemon=True).start()
        return True


def send_one(sender):
    msg = build_message(sender="Team <team@example.edu>", to_email="ann@x.org", to_name="Ann",
                        content=Rendered("Hello", "Hi Ann, ref onb-auth", "<p>Hi Ann</p>"), ref="onb-auth")
    return sender.send_draft(sender.create_draft(msg, "x"))


def test_consent_flow_prints_a_connection_that_sends(fake_google, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake server speaks plain HTTP
    secrets = tmp_path / "client_secret.json"
    secrets.write_text(json.dumps({"installed": {
        "client_id": "test-client", "client_secret": "test-secret", "auth_uri": fake_google.url + "auth",
        "token_uri": fake_google.token_uri, "redirect_uris": ["http://localhost"]}}))
    webbrowser.register("click-through", None, ClickThroughBrowser("click-through"))
    extra = gmail_auth.consent(str(secrets), port=0, browser="click-through")
    (asked,) = fake_google.auth_requests
    assert set(asked["scope"].split()) == set(GMAIL_SCOPES)  # only the scopes the code uses
    assert asked["access_type"] == "offline"
    assert extra["refresh_token"] == "test-refresh" and extra["auth"] == "oauth_user"
    sender = GmailSender(gmail_service({**extra, "api_endpoint": fake_google.url}, timeout=2))
    assert send_one(sender) in fake_google.sent


def test_consent_with_sheets_also_reads_a_sheet(fake_google, tmp_path, monkeypatch):
    from onboarding.google_api import SHEETS_READ_SCOPES, sheets_client

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    secrets = tmp_path / "client_secret.json"
    secrets.write_text(json.dumps({"installed": {
        "client_id": "test-client", "client_secret": "test-secret", "auth_uri": fake_google.url + "auth",
        "token_uri": fake_google.token_uri, "redirect_uris": ["http://localhost"]}}))
    webbrowser.register("click-through", None, ClickThroughBrowser("click-through"))
    extra = gmail_auth.consent(str(secrets), port=0, browser="click-through", sheets=True)
    (asked,) = fake_google.auth_requests
    assert set(asked["scope"].split()) == set(GMAIL_SCOPES) | {
        "https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive.metadata.readonly"}
    fake_google.add_spreadsheet("1SheetForConsent", {"S": [["a", "b"]]})
    client = sheets_client({**extra, "api_endpoint": fake_google.url}, SHEETS_READ_SCOPES)
    assert client.open_by_key("1SheetForConsent").sheet1.get_all_values() == [["a", "b"]]


def test_service_account_with_delegation_sends(fake_google):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    keyfile = {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
               "client_email": "sender@p.iam.gserviceaccount.com", "client_id": "1",
               "token_uri": "https://oauth2.googleapis.com/token"}
    extra = {"auth": "service_account", "keyfile_dict": keyfile, "subject": "team@example.edu",
             "token_uri": fake_google.token_uri, "api_endpoint": fake_google.url}
    assert send_one(GmailSender(gmail_service(extra, timeout=2))) in fake_google.sent
    assert fake_google.token_requests == 1


def test_incomplete_connections_say_what_is_missing():
    with pytest.raises(ValueError, match=r"missing \['refresh_token'\]"):
        gmail_service({"auth": "oauth_user", "client_id": "a", "client_secret": "b"})
    with pytest.raises(ValueError, match="needs keyfile_dict and subject"):
        gmail_service({"auth": "service_account"})
