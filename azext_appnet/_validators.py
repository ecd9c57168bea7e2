"""Argument validators: they run after parsing, before the command, and stop bad input
with an az error before anything is recorded."""

import re

from azure.cli.core.azclierror import InvalidArgumentValueError, MutuallyExclusiveArgumentError

from azext_appnet.constants import NAME_PATTERN

_NAME = re.compile(NAME_PATTERN)
_TAG_KEY_FORBIDDEN = set('<>%&\\?/')


def _check_name(value, option):
    if value is not None and not _NAME.match(value):
        raise InvalidArgumentValueError(
            f"Invalid value '{value}' for {option}: names are 3 to 24 characters long and may "
            "contain only letters, digits and hyphens.",
            f"Choose a name that matches {NAME_PATTERN}, for example 'appnet-01'.")


def validate_appnet_name(namespace):
    _check_name(getattr(namespace, "appnet_name", None), "--appnet-name")


def validate_member_name(namespace):
    _check_name(getattr(namespace, "member_name", None), "--member-name")


def parse_tags(values):
    """Tags in the forms az users type: `k=v k2=v2`, `k` (empty value), `""` (clear all), or
    one dictionary `{k:v,k2:v2}` / JSON, as the real extension's examples use."""
    import json
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    tags = {}
    if len(values) == 1 and values[0].strip().startswith("{"):
        text = values[0].strip()
        try:
            parsed = json.loads(text)
        except ValueError:
            if not text.endswith("}"):
                raise InvalidArgumentValueError(
                    f"Invalid --tags '{text}': the dictionary is not closed with '}}'.",
                    "Write tags as key=value pairs, or as one dictionary {key:value}.") from None
            parsed = {}
            for pair in filter(None, (p.strip() for p in text[1:-1].split(","))):
                key, sep, value = pair.partition(":")
                if not sep or not key.strip():
                    raise InvalidArgumentValueError(
                        f"Invalid --tags '{text}': expected {{key:value,key2:value2}}.",
                        "Write tags as key=value pairs, or as one dictionary {key:value}.") from None
                parsed[key.strip().strip("'\"")] = value.strip().strip("'\"")
        if not isinstance(parsed, dict):
            raise InvalidArgumentValueError(f"Invalid --tags '{text}': expected a dictionary.")
        items = parsed.items()
    else:
        items = [v.partition("=")[::2] for v in values if v != ""]
    for key, value in items:
        key, value = str(key), "" if value is None else str(value)
        if not key or len(key) > 512 or _TAG_KEY_FORBIDDEN & set(key):
            raise InvalidArgumentValueError(
                f"Invalid tag name '{key}': 1 to 512 characters, none of < > % & \\ ? /.")
        if len(value) > 256:
            raise InvalidArgumentValueError(f"The value of tag '{key}' is longer than 256 characters.")
        tags[key] = value
    return tags


def validate_tags(namespace):
    if getattr(namespace, "tags", None) is not None:
        namespace.tags = parse_tags(namespace.tags)


def location_text(value):
    """The `type` of --location: the text as typed. az's own location type turns display names
    ('West US 2') into names by listing the subscription's locations, which needs a login;
    the engine normalises and checks against its region table instead."""
    return value


def validate_join_cluster(namespace):
    """--kubeconfig and --member-resource-id name two different clusters: one at a time."""
    if getattr(namespace, "kubeconfig", None) and getattr(namespace, "member_resource_id", None):
        raise MutuallyExclusiveArgumentError(
            "--kubeconfig and --member-resource-id both name the cluster to join.",
            "Pass --member-resource-id for an AKS cluster (its credentials come from ARM), or "
            "--kubeconfig [--context] for any other cluster, not both.")
    if getattr(namespace, "context", None) and not getattr(namespace, "kubeconfig", None):
        raise MutuallyExclusiveArgumentError(
            "--context selects a context of --kubeconfig, which was not given.",
            "Add --kubeconfig FILE, or drop --context.")


def validate_version(namespace):
    version = getattr(namespace, "version", None)
    if version is not None and not version.strip():
        raise InvalidArgumentValueError(
            "--version is empty.",
            "Pass an AppNet version such as 1.5 ('az appnet list-versions -l REGION -o table' "
            "lists them), or leave --version out.")
