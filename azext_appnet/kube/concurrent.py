"""Independent requests issued together: a far-away API server costs one round trip for
all of them instead of one each."""

from concurrent.futures import ThreadPoolExecutor

#: At most this many requests in flight per call (a Cluster keeps 16 connections alive).
PARALLELISM = 16


def gather(calls, parallelism=PARALLELISM):
    """Run the zero-argument callables `calls` concurrently; their results, in order. When
    any raised, the exception of the first (in `calls` order) is raised, after all ended."""
    calls = list(calls)
    if len(calls) <= 1:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=min(parallelism, len(calls)),
                            thread_name_prefix="appnet-io") as pool:
        futures = [pool.submit(c) for c in calls]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
    return [f.result() for f in futures]
