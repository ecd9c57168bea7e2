"""A damaged state store through the real az: a crafted row, a zero-length file, a file
that is not a database. Each is an az error naming the file (and the resource), no
traceback (the Az helper asserts that), and the file is left byte for byte as it was."""

import json
import sqlite3

import pytest

pytestmark = pytest.mark.e2e

NET = ["-g", "rg1", "--appnet-name", "net-01"]


def _network_row(az):
    with sqlite3.connect(az.state_path) as db:
        key, body = db.execute("SELECT key, body FROM resources WHERE kind='appLink'").fetchone()
    return key, json.loads(body)


@pytest.mark.parametrize("damage", ["wrong-types", "not-json"])
def test_a_crafted_state_row_is_an_az_error_naming_file_and_resource(az, damage):
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    key, doc = _network_row(az)
    if damage == "wrong-types":
        doc["properties"] = ["Succeeded"]        # where an object is expected
        doc["tags"] = {"team": 42}
        body = json.dumps(doc)
    else:
        body = json.dumps(doc)[:-7]
    with sqlite3.connect(az.state_path) as db:
        db.execute("UPDATE resources SET body=? WHERE key=?", (body, key))
    before = az.state_path.read_bytes()
    for command in (["appnet", "show", "-g", "rg1", "-n", "net-01"], ["appnet", "list"],
                    ["appnet", "update", "-g", "rg1", "-n", "net-01", "--tags", "a=b"],
                    ["appnet", "member", "list", *NET]):
        result = az(*command, rc=1)
        assert "ERROR:" in result.err and str(az.state_path) in result.err, result
        assert "net-01" in result.err.lower() and "damaged record" in result.err, result
    assert az.state_path.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"\x00garbage\xff" * 512], ids=["zero-length", "garbage"])
def test_a_damaged_state_file_is_refused_and_left_untouched(az, content):
    az.state_path.parent.mkdir(parents=True)
    az.state_path.write_bytes(content)
    for command in (["appnet", "list"], ["appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2"]):
        result = az(*command, rc=1)
        assert "ERROR:" in result.err and str(az.state_path) in result.err, result
        assert "backup" in result.err, result
    assert az.state_path.read_bytes() == content
    assert sorted(p.name for p in az.state_path.parent.iterdir()) == ["state.db"]
