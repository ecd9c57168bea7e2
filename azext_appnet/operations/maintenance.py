"""The network's maintenance window: when reconcile may upgrade members and roll their CAs.

Written `DAYS HH:MM-HH:MM` in UTC, DAYS a comma list of weekday abbreviations or ranges
(`Sat,Sun 02:00-06:00`, `Mon-Fri 22:00-02:00`: an end at or before the start ends on the
next day). No window means any time. Plain data, no heavy imports (the az layer validates
with it).
"""

import datetime
import re

from ..errors import InvalidInputError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FORMAT = re.compile(r"^\s*([A-Za-z,\-\s]+?)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_HINT = ("Write the window as DAYS HH:MM-HH:MM in UTC, e.g. \"Sat,Sun 02:00-06:00\" or "
         "\"Mon-Fri 22:00-02:00\"; pass \"\" to remove it (then any time is maintenance time).")


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(text, value):
    word = text.strip().lower()
    for i, full in enumerate(_FULL):
        if len(word) >= 3 and full.startswith(word):
            return i
    raise InvalidInputError(f"Invalid --maintenance-window '{value}': '{text.strip()}' is not a weekday "
                            f"({', '.join(DAYS)}).", _HINT)


def parse(value):
    """The window as stored on the network ({"days", "start", "end", "text"}), None for ""."""
    if value is None or not str(value).strip():
        return None
    match = _FORMAT.match(str(value))
    if not match:
        raise InvalidInputError(f"Invalid --maintenance-window '{value}'.", _HINT)
    days_text, h1, m1, h2, m2 = match.groups()
    days = set()
    for part in days_text.split(","):
        if "-" in part:
            first, last = (_day(p, value) for p in part.split("-", 1))
            i = first
            while True:
                days.add(i)
                if i == last:
                    break
                i = (i + 1) % 7
        elif part.strip():
            days.add(_day(part, value))
    start, end = (int(h1), int(m1)), (int(h2), int(m2))
    for h, m in (start, end):
        if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
            raise InvalidInputError(f"Invalid --maintenance-window '{value}': {h:02d}:{m:02d} is not a time "
                                    "of day.", _HINT)
    if start == end:
        raise InvalidInputError(f"Invalid --maintenance-window '{value}': it starts and ends at the same "
                                "time.", _HINT)
    ordered = sorted(days)
    text = f"{','.join(DAYS[d] for d in ordered)} {start[0]:02d}:{start[1]:02d}-{end[0]:02d}:{end[1]:02d}"
    return {"days": [DAYS[d] for d in ordered], "start": f"{start[0]:02d}:{start[1]:02d}",
            "end": f"{end[0]:02d}:{end[1]:02d}", "text": text, "timeZone": "UTC"}


def _minutes(hhmm):
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def is_open(window, now):
    """Whether `now` (an aware UTC datetime) lies inside `window` (None: always)."""
    if not window:
        return True
    now = now.astimezone(datetime.timezone.utc)
    start, end = _minutes(window["start"]), _minutes(window["end"])
    minute = now.hour * 60 + now.minute
    days = {DAYS.index(d) for d in window["days"]}
    if start < end:
        return now.weekday() in days and start <= minute < end
    # Crosses midnight: open from `start` on a listed day until `end` the day after.
    yesterday = (now.weekday() - 1) % 7
    return (now.weekday() in days and minute >= start) or (yesterday in days and minute < end)


def describe(window):
    return window["text"] + " UTC" if window else "any time (no maintenance window)"
