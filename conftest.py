# Makes `tests.*` importable from the repository root and registers the shared fixtures.
pytest_plugins = ["tests.kubesim.pytest_plugin"]
