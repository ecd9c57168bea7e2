"""Small shared helpers."""
import datetime
import json
import random
import string

_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"   # the apiserver's generateName alphabet


def now(after=0):
    """An RFC 3339 Time, `after` seconds from now."""
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=after)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    """A MicroTime (Lease renewTime, Event eventTime)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def deep_copy(obj):
    # json round trip: faster than copy.deepcopy for JSON-shaped data.
    return json.loads(json.dumps(obj))


def random_suffix(n=5):
    return "".join(random.choice(_GEN_CHARS) for _ in range(n))


def random_token(n=32):
    return "".join(random.SystemRandom().choice(string.ascii_lowercase + string.digits)
                   for _ in range(n))
