"""Entry point of the detached process that runs an operation started with --no-wait.

    python -I -c BOOTSTRAP STORE_PATH KEYS_DIR RESOURCE_ID OPERATION_ID   (runner.spawn_worker)

Its import path and the secrets it needs arrive on stdin, not in its environment. It logs
progress lines to its stdout (a log file under the az config dir); failures are recorded on
the resource, where `az appnet ... show` and `wait` find them.
"""

import sys
import time


def main(argv=None, secrets=None):
    store_path, keys_dir, resource_id, operation_id = (argv or sys.argv[1:])[:4]
    from ..processes import disable_core_dumps, hand_secrets
    from ..redact import install_log_filter

    disable_core_dumps()
    hand_secrets(secrets)
    install_log_filter()
    from ..state import needs_credential, open_store
    from .catalog import lookup
    from .runner import run
    from .services import Services

    def progress(message):
        print(f"{time.strftime('%H:%M:%S')} {resource_id}: {message}", flush=True)

    services = Services(keys_dir)   # no az context here: the Azure CLI's login signs in
    store = open_store(store_path, credential=services.azure_credential() if needs_credential(store_path) else None)
    resource = store.get(resource_id)
    if resource is None:
        return 0
    steps = lookup(resource, resource["properties"]["operation"]["name"]).steps
    try:
        run(store, resource_id, operation_id, steps, services, progress)
        progress("Succeeded")
    except Exception as ex:  # pylint: disable=broad-except
        progress(f"Failed: {getattr(ex, 'message', type(ex).__name__)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
