"""The object store of one cluster: objects by (group, plural) and (namespace, name), one
resourceVersion counter, and the event log that watches read.

Stored objects are never mutated after being stored (every write stores a new dict), so
readers may serialise them outside the lock. One re-entrant lock guards everything: the
emulator's throughput is bounded by Python anyway, and a single lock makes the
multi-object operations (cascading deletes, controllers) simple to reason about.
"""
import collections
import threading

EVENT_LOG_SIZE = 20000


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 0
        self.data = {}                  # (group, plural) -> {(ns, name): obj}
        self.events = collections.deque(maxlen=EVENT_LOG_SIZE)  # (rv, key, type, obj, old)
        self.epoch = 0                  # bumped by reset(): open watches end

    def next_rv(self):
        self.rv += 1
        return self.rv

    def oldest_event_rv(self):
        return self.events[0][0] if self.events else self.rv

    def get(self, key, ns, name):
        return self.data.get(key, {}).get((ns or "", name))

    def list(self, key, ns=None):
        objs = self.data.get(key, {})
        if ns:
            items = [(k, v) for k, v in objs.items() if k[0] == ns]
        else:
            items = list(objs.items())
        items.sort(key=lambda kv: kv[0])
        return [v for _, v in items]

    def list_keys(self):
        return list(self.data.keys())

    def put(self, key, obj, event_type, old=None):
        """Store obj (its metadata.resourceVersion already set) and log the event."""
        meta = obj["metadata"]
        self.data.setdefault(key, {})[(meta.get("namespace") or "", meta["name"])] = obj
        self._emit(key, event_type, obj, old)

    def remove(self, key, ns, name, final_obj):
        self.data.get(key, {}).pop((ns or "", name), None)
        self._emit(key, "DELETED", final_obj, None)

    def _emit(self, key, etype, obj, old):
        self.events.append((int(obj["metadata"]["resourceVersion"]), key, etype, obj, old))
        self.changed.notify_all()

    def drop_all(self):
        self.data.clear()
        self.events.clear()
        self.epoch += 1
        self.changed.notify_all()
