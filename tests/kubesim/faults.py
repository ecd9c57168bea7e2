"""Switchable faults: error answers, latency and dropped connections, per cluster."""
import random
import threading


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.clear()

    def set(self, error_rate=0.0, codes=(500, 503, 429), latency=0.0, drop_rate=0.0,
            retry_after=1, seed=None):
        """error_rate: fraction of requests answered with one of `codes` (a 429 or 503
        carries Retry-After: retry_after); latency: seconds added to each answer
        (and twice that to each new connection's handshake, see server.py);
        drop_rate: fraction of requests whose connection is closed without an answer;
        seed: makes which requests fail repeatable (a test that needs some to fail)."""
        with self._lock:
            if seed is not None:
                self._rng.seed(seed)
            self.error_rate = float(error_rate)
            self.codes = tuple(codes) or (500,)
            self.latency = float(latency)
            self.drop_rate = float(drop_rate)
            self.retry_after = retry_after

    def clear(self):
        self.set()

    def decide(self):
        """Return ('drop', None) | ('error', code) | (None, None), plus the latency."""
        with self._lock:
            if self.drop_rate and self._rng.random() < self.drop_rate:
                return "drop", None, self.latency
            if self.error_rate and self._rng.random() < self.error_rate:
                return "error", self._rng.choice(self.codes), self.latency
            return None, None, self.latency
