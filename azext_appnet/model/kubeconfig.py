"""Checks of a kubeconfig file and context named on the command line.

Done before anything is recorded, so a typo fails at once with the list of what exists.
Only names are read here; the credentials in the file are used at each operation by the
kube package and never stored.
"""

import os

from ..errors import InvalidInputError


def check_kubeconfig(path, context=None):
    """Return (absolute path, context name) or raise InvalidInputError."""
    import yaml
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full):
        raise InvalidInputError(f"The kubeconfig file {full} does not exist.",
                                "Pass the path of an existing kubeconfig with --kubeconfig.")
    try:
        with open(full, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as ex:
        raise InvalidInputError(f"The kubeconfig file {full} cannot be read: "
                                f"{getattr(ex, 'strerror', None) or type(ex).__name__}.",
                                "Check that the file is a kubeconfig ('kubectl config view "
                                f"--kubeconfig {full}').") from None
    if not isinstance(config, dict):
        raise InvalidInputError(f"The file {full} is not a kubeconfig.")
    contexts = [c.get("name") for c in config.get("contexts") or [] if isinstance(c, dict)]
    if context is None:
        context = config.get("current-context")
        if not context:
            raise InvalidInputError(
                f"The kubeconfig {full} has no current context.",
                f"Pass --context with one of: {', '.join(contexts) or '(none: the file has no contexts)'}.")
    if context not in contexts:
        raise InvalidInputError(
            f"The kubeconfig {full} has no context named '{context}'.",
            f"Pass --context with one of: {', '.join(contexts) or '(none: the file has no contexts)'}.")
    return full, context
