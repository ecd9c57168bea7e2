"""The one scrubber: what it cuts from messages and log lines, and what it leaves."""

import logging

from azext_appnet import redact
from azext_appnet.errors import AppNetError

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl"
PEM = "-----BEGIN " + "PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END " + "PRIVATE KEY-----"


def test_secrets_are_cut():
    text = (f"token {JWT} / Authorization: Bearer opaque-123 / Authorization: Basic dXNlcjpwYXNz / client-key-data: LS0tLS1CRUdJTg== / "
            f'"certificate-authority-data": "QUJD" / {PEM} / '
            "https://a.blob.core.windows.net/c/x?sv=2020&sig=abc%2Fdef&se=1 / "
            "AccountName=a;AccountKey=s3cr3t==;BlobEndpoint=x / password=hunter2")
    out = redact.scrub(text)
    for secret in (JWT, "opaque-123", "dXNlcjpwYXNz", "LS0tLS1CRUdJTg==", "QUJD", "MIGHAgEAMBMGByqGSM49",
                   "abc%2Fdef", "s3cr3t==", "hunter2"):
        assert secret not in out, secret
    assert "BlobEndpoint=x" in out and "AccountName=a" in out


def test_plain_messages_are_left_alone():
    for text in ("Member 'member-01' of network net-01 is Succeeded (Istio 1.27.3, 4/4 pods ready).",
                 "The API server rejected the bearer token (401); basic checks passed.",
                 "Invalid --ca-key-type 'x'. Token of next page: use --next-token."):
        assert redact.scrub(text) == text


def test_errors_are_scrubbed_when_made():
    err = AppNetError(f"API server said: Bearer {JWT}", "check client-key-data: QUJD")
    assert JWT not in err.message and JWT not in str(err) and "QUJD" not in err.recommendation
    assert JWT not in str(err.to_error())


def test_http_log_lines_lose_query_strings_while_a_blob_store_is_open(caplog):
    line = '%s://%s:%s "%s %s %s" %s %s'
    args = ("http", "127.0.0.1", 10000, "GET", "/acct/c/x?sv=2021&se=2030&sp=rw&sig=zzz", "HTTP/1.1", 200, 0)
    log = logging.getLogger("urllib3.connectionpool")
    redact.blob_store_opened()
    try:
        with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
            log.debug(line, *args)
    finally:
        redact.blob_store_closed()
    message = caplog.records[-1].getMessage()
    assert "sig=" not in message and "sp=rw" not in message and "/acct/c/x?***" in message
