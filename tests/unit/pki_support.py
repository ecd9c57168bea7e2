"""What the PKI unit tests share: a network id and a clock the tests move."""

import datetime

NET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.AppLink/appLinks/net1"
T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


class Clock:
    """Stands in for "now" (NetworkPKI's `clock`); tests set `.now` to make certificates due."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now
