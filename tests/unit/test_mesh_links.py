"""The state side of per-link credentials: which record of a link is current, which links are
due, and which members' rotations renew them."""

import datetime

from azext_appnet.operations.mesh_links import due_links, links_view, members_to_rotate, merge_records

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _rec(issuer, reader, issued_days, ttl_days=7):
    issued = T0 + datetime.timedelta(days=issued_days)
    return {"issuer": issuer, "reader": reader, "serviceAccount": f"appnet-reader-{reader}-x",
            "issuedAt": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expiresOn": (issued + datetime.timedelta(days=ttl_days)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _member(name, links):
    return {"name": name, "properties": {"readerLinks": links}}


def test_the_newest_record_of_a_link_wins_whoever_wrote_it():
    a = _member("A", [_rec("a", "b", 0), _rec("b", "a", 0)])
    b = _member("B", [_rec("a", "b", 2)])
    view = links_view([a, b])
    assert view[("a", "b")]["issuedAt"].startswith("2026-01-03")
    assert view[("b", "a")]["issuedAt"].startswith("2026-01-01")
    # A record naming a member that left counts for nothing.
    assert links_view([_member("A", [_rec("a", "gone", 0)])]) == {}


def test_merge_replaces_renewed_links_and_drops_departed_members():
    members = [_member("a", []), _member("b", [])]
    merged = merge_records([_rec("a", "b", 0), _rec("a", "gone", 0), "junk"], [_rec("a", "b", 3)], members)
    assert merged == [_rec("a", "b", 3)]


def test_links_are_due_at_half_their_lifetime_or_without_a_record():
    a = _member("a", [_rec("a", "b", 0), _rec("b", "a", 2)])
    b = _member("b", [])
    at = T0 + datetime.timedelta(days=3, hours=12)
    assert due_links([a, b], now=at - datetime.timedelta(seconds=1)) == []
    assert due_links([a, b], now=at) == [("a", "b")]
    assert due_links([a, b, _member("c", [])], now=T0) == [("a", "c"), ("b", "c"), ("c", "a"), ("c", "b")]


def test_fewest_rotations_cover_every_due_link():
    assert members_to_rotate([]) == []
    assert members_to_rotate([("a", "c"), ("b", "c"), ("c", "a"), ("c", "b")]) == ["c"]
    chosen = members_to_rotate([("a", "b"), ("c", "d")])
    assert len(chosen) == 2 and {"a", "b"} & set(chosen) and {"c", "d"} & set(chosen)


def test_a_reader_kubeconfig_reads_back_as_written_and_older_yaml_ones_still_read():
    import pytest
    import yaml
    from azext_appnet.operations.mesh_links import parse_reader_kubeconfig, reader_kubeconfig
    text = reader_kubeconfig("https://10.0.0.1:6443", "Q0E=", "East", "tok-1")
    doc = parse_reader_kubeconfig(text)
    assert doc == yaml.safe_load(text)      # what istiod and kubectl read (they read YAML)
    assert doc["clusters"][0] == {"name": "east", "cluster": {"server": "https://10.0.0.1:6443",
                                                              "certificate-authority-data": "Q0E="}}
    assert doc["users"][0]["user"] == {"token": "tok-1"}
    # Remote secrets written by older versions hold YAML, in block or flow style.
    assert parse_reader_kubeconfig(yaml.safe_dump(doc, default_flow_style=False)) == doc
    assert parse_reader_kubeconfig(yaml.safe_dump(doc, default_flow_style=True)) == doc
    # A holder's cluster writes these: one nested too deeply is refused, not a crash.
    for bad in ("{unclosed: [", "a: b: c", '{"a": ' * 100000 + "1" + "}" * 100000):
        with pytest.raises(ValueError):
            parse_reader_kubeconfig(bad)
