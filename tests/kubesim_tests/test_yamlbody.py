"""YAML bodies that are JSON are decoded by the json module (yamlbody): the result, or the
error, must be the one yaml.safe_load gives for every body."""
import json
import random

import pytest
import yaml

from tests.kubesim import yamlbody

# JSON texts on which a plain json.loads and PyYAML disagree, each for another reason.
_DIFFERENT = [
    '{"a": 1e3}', '{"a": 1.0e5}', '{"a": 1E+3}',           # floats YAML reads as strings
    '{"a"\n: 1}', '{"a"   : 1}',                            # a key apart from its ':'
    '{"%s": 1}' % ("k" * 1100),                             # a key over 1024 characters
    '{"a":\t1}', '{"a": "\\ud83d\\ude00"}',                 # a tab; a surrogate pair
    '{"a": "x\u2028y"}', '{"a": "\x7f"}', '{"a": "\x85"}',   # line breaks, unprintables
    '{"a": NaN}', '\ufeff{"a": 1}', '{"a": 1}\n---\n{}', '{"a": [1, 2}',
]


def _outcome(fn, text):
    try:
        return "ok", repr(fn(text))
    except yaml.YAMLError as e:
        return "error", str(e)


@pytest.mark.parametrize("text", _DIFFERENT)
def test_json_that_yaml_reads_otherwise_is_read_as_yaml(text):
    assert _outcome(yamlbody.load, text) == _outcome(yaml.safe_load, text)
    assert _outcome(yamlbody.load, text.encode()) == _outcome(yaml.safe_load, text.encode())


def test_json_bodies_decode_as_yaml_safe_load_decodes_them():
    rng = random.Random(14)
    pieces = ["a", " ", ":", "#", "-", "'", '"', "\\", "/", "\t", "\n", "\x07", "\x85",
              "é", "\u2028", "\ufeff", "\ud83d", "\U0001F600", "{", "]", ",", "&", "---"]
    scalars = [None, True, False, 0, -5, 10 ** 20, -0.0, 1.5, 2.0, 1e16, 1e-5, 123.456,
               "true", "1e3", "0x1F", "010", "~", "yes", "1_000", "<<", ".5"]

    def value(depth=0):
        r = rng.random()
        if depth > 3 or r < 0.4:
            return rng.choice(scalars + ["".join(rng.choice(pieces) for _ in range(4))])
        if r < 0.7:
            return {rng.choice(["k", "a" * rng.choice((150, 151, 1100)), "<<", "".join(
                rng.choice(pieces) for _ in range(3))]): value(depth + 1) for _ in range(3)}
        return [value(depth + 1) for _ in range(3)]

    fast = 0
    for _ in range(600):
        style = rng.choice([{}, {"separators": (",", ":")}, {"indent": 2},
                            {"ensure_ascii": False}])
        text = json.dumps(value(), **style)
        if rng.random() < 0.5:
            text = text.encode("utf-8", "surrogatepass")
        assert _outcome(yamlbody.load, text) == _outcome(yaml.safe_load, text), text
        fast += yamlbody._as_json(text) is not None
    assert 100 < fast < 600        # both ways were taken, many times each
