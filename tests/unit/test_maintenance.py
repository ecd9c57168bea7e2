"""The maintenance window: parsing, validation and whether a moment lies inside it."""

import datetime

import pytest

from azext_appnet.errors import InvalidInputError
from azext_appnet.operations.maintenance import is_open, parse

UTC = datetime.timezone.utc


def test_window_arithmetic():
    night = parse("Fri 22:00-02:00")
    assert is_open(night, datetime.datetime(2026, 12, 4, 23, 0, tzinfo=UTC))       # Friday 23:00
    assert is_open(night, datetime.datetime(2026, 12, 5, 1, 59, tzinfo=UTC))       # Saturday 01:59
    assert not is_open(night, datetime.datetime(2026, 12, 5, 2, 0, tzinfo=UTC))
    assert not is_open(night, datetime.datetime(2026, 12, 3, 23, 0, tzinfo=UTC))   # Thursday
    assert parse("Mon-Wed 01:00-02:00")["days"] == ["Mon", "Tue", "Wed"]
    assert parse("Sat-Mon 01:00-02:00")["days"] == ["Mon", "Sat", "Sun"]
    assert is_open(None, datetime.datetime(2026, 12, 3, 23, 0, tzinfo=UTC))
    whole_sunday = parse("Sun 00:00-24:00")
    assert is_open(whole_sunday, datetime.datetime(2026, 12, 6, 23, 59, tzinfo=UTC))
    assert not is_open(whole_sunday, datetime.datetime(2026, 12, 7, 0, 0, tzinfo=UTC))
    assert parse("") is None and parse("  ") is None


@pytest.mark.parametrize("text", ["Sat", "Sat 2am-4am", "Caturday 02:00-03:00", "Sat 02:00-02:00",
                                  "Sat 02:60-03:00", "Sat 24:30-25:00"])
def test_bad_windows_are_refused_with_the_format(text):
    with pytest.raises(InvalidInputError) as err:
        parse(text)
    assert text in err.value.message and "HH:MM-HH:MM" in err.value.recommendation
