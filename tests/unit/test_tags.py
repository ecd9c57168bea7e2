"""--tags in the forms az users type."""

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError

from azext_appnet._validators import parse_tags


@pytest.mark.parametrize("values, expected", [
    (["env=dev", "team=platform"], {"env": "dev", "team": "platform"}),
    (["flag"], {"flag": ""}),
    ([""], {}),
    (["{key2913:test_tag}"], {"key2913": "test_tag"}),
    (["{a:b, c:d}"], {"a": "b", "c": "d"}),
    (['{"a": "b"}'], {"a": "b"}),
    (["url=https://x/y=z"], {"url": "https://x/y=z"}),
])
def test_tag_forms(values, expected):
    assert parse_tags(values) == expected


@pytest.mark.parametrize("values", [["{a}"], ["bad<key=1"], ["k=" + "v" * 257], ['{"a": [1'] ])
def test_bad_tags(values):
    with pytest.raises(InvalidArgumentValueError):
        parse_tags(values)
