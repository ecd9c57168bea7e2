"""Polling the store until a resource meets a condition (the `wait` commands)."""

import time

from ..errors import InvalidInputError, OperationFailedError


class Condition:  # pylint: disable=too-few-public-methods  # a predicate: met() is all it does
    def __init__(self, created=False, updated=False, deleted=False, exists=False, custom=None):
        self.created, self.updated, self.deleted = created, updated, deleted
        self.exists, self.custom = exists, custom
        if custom:
            # Compiled now: a typo is an argument error before the first poll, not a traceback.
            import jmespath
            from jmespath.exceptions import JMESPathError
            try:
                self._compiled = jmespath.compile(custom)
            except JMESPathError as e:
                raise InvalidInputError(
                    f"--custom '{custom[:200]}' is not a valid JMESPath query: "
                    f"{str(e).splitlines()[0][:200]}.",
                    "Quote the query for your shell, e.g. --custom \"properties.provisioningState=='Succeeded'\" "
                    "(see https://jmespath.org).") from None

    def met(self, resource):
        if resource is None:
            return self.deleted
        if self.exists:
            return True
        state = resource.get("properties", {}).get("provisioningState")
        if (self.created or self.updated) and state == "Succeeded":
            return True
        if self.custom:
            from jmespath.exceptions import JMESPathError
            try:
                return bool(self._compiled.search(resource))
            except JMESPathError as e:    # e.g. a function applied to the wrong type
                raise InvalidInputError(f"--custom '{self.custom[:200]}' cannot be evaluated: "
                                        f"{str(e).splitlines()[0][:200]}.",
                                        "Fix the JMESPath query.") from None
        return False


def wait_for(get, condition, interval=30, timeout=3600, tick=None, sleep=time.sleep, clock=time.monotonic,
             stalled=None):
    """Poll `get()` until `condition` holds. A resource that ends Failed (or Canceled) while
    we wait for it to succeed raises with the operation's own error. `stalled(resource)`
    returns (why, command) when its operation can no longer end by itself (its runner died),
    which ends the wait at once instead of at the timeout."""
    deadline = clock() + timeout
    while True:
        resource = get()
        if condition.met(resource):
            return resource
        gone = stalled(resource) if stalled and resource is not None else None
        if gone:
            why, command = gone
            raise OperationFailedError(why, f"Run this to resume it where it stopped: {command}",
                                       code="RunnerGone")
        state = (resource or {}).get("properties", {}).get("provisioningState")
        if resource is not None and state in ("Failed", "Canceled") and not condition.custom:
            error = resource["properties"].get("error") or {}
            raise OperationFailedError(
                f"{resource['name']} is {state}: {error.get('message', 'the operation failed')}",
                error.get("recommendation") or "Fix the cause and run the same command again; it resumes "
                "where it stopped.")
        if tick:
            tick(state)
        if clock() + interval > deadline:
            raise OperationFailedError(
                f"Wait operation timed out after {timeout} seconds "
                f"(provisioningState: {state or 'resource absent'}).",
                "Wait again with a longer --timeout.", code="WaitTimeout")
        sleep(interval)
