"""The seam between the az layer and the engine: the handlers reach the engine only through
the `client` az hands them, and only by the methods backend.Backend declares, which
engine.AppNet implements with the same signatures."""

import ast
import inspect
import pathlib
import types

import pytest

from azext_appnet import backend
from azext_appnet.engine import AppNet

PACKAGE = pathlib.Path(backend.__file__).parent
CUSTOM = PACKAGE / "custom.py"


def _declared():
    return {name: value for name, value in vars(backend.Backend).items()
            if isinstance(value, types.FunctionType) and not name.startswith("_")}


def _without_self(signature):
    params = list(signature.parameters.values())
    return signature.replace(parameters=params[1:])


@pytest.fixture
def engine(tmp_path):
    return AppNet(str(tmp_path))


def test_the_protocol_declares_what_the_handlers_need():
    assert {"join_member", "wait_member", "wait_network", "check_network", "enable_namespace",
            "reconcile"} <= set(_declared())


@pytest.mark.parametrize("name", sorted(_declared()))
def test_appnet_implements_each_declared_method_with_its_signature(engine, name):
    assert callable(getattr(engine, name, None)), f"AppNet has no {name}"
    declared = _without_self(inspect.signature(_declared()[name]))
    implemented = inspect.signature(getattr(engine, name))   # bound: `self` already taken
    assert implemented == declared


def test_appnet_has_the_declared_attributes(engine):
    for attribute in backend.Backend.__annotations__:
        assert hasattr(engine, attribute), attribute


def _client_calls(tree):
    """Every `client.NAME(...)` call, and every other use of `client.NAME`."""
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "client":
            calls.add(node.attr)
    return calls


def test_custom_uses_only_what_the_protocol_declares():
    used = _client_calls(ast.parse(CUSTOM.read_text()))
    allowed = set(_declared()) | set(backend.Backend.__annotations__)
    assert used, "custom.py calls no client method: the parser looked at the wrong thing"
    assert used - allowed == set()


def test_every_declared_method_is_used_by_a_handler():
    """A method no command calls has no place in the seam (or a command lost its call)."""
    assert set(_declared()) - _client_calls(ast.parse(CUSTOM.read_text())) == set()


def test_custom_dispatches_by_no_name_and_imports_no_engine_internals():
    tree = ast.parse(CUSTOM.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("getattr", "_call"), f"line {node.lineno}: dispatch by name"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("azext_appnet"):
            # The display, and the shared literals everything may use (the bottom layer).
            assert node.module in ("azext_appnet._progress", "azext_appnet.constants"), \
                f"line {node.lineno}: imports {node.module}"
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("azext_appnet") for a in node.names), f"line {node.lineno}"


def test_every_handler_takes_the_client_after_cmd():
    """az passes the client factory's result to a parameter named `client` and leaves it out
    of the command's arguments (azure.cli.core EXCLUDED_PARAMS)."""
    import azext_appnet.custom as custom
    from azext_appnet.commands import load_command_table

    class Group:
        def __init__(self, names):
            self.names = names

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

        def custom_command(self, _name, handler, **_):
            self.names.append(handler)

        custom_show_command = custom_command

    class Loader:
        def __init__(self):
            self.handlers = []

        def command_group(self, _name, **kwargs):
            # No group overrides the loader's command type (and with it the client factory).
            assert "custom_command_type" not in kwargs and "command_type" not in kwargs
            return Group(self.handlers)

    from azure.cli.core.mock import DummyCli
    from azext_appnet import AppNetCommandsLoader
    settings = AppNetCommandsLoader(cli_ctx=DummyCli()).module_kwargs["custom_command_type"].settings
    assert settings["client_factory"].__name__ == "cf_appnet"
    assert settings["exception_handler"].__name__ == "appnet_exception_handler"

    loader = Loader()
    load_command_table(loader, None)
    assert len(loader.handlers) > 20
    for name in loader.handlers:
        params = list(inspect.signature(getattr(custom, name)).parameters)
        assert params[:2] == ["cmd", "client"], name


def test_the_client_factory_configures_the_engine_as_the_az_context_says(tmp_path):
    from azext_appnet._client_factory import cf_appnet
    from azext_appnet.credentials import AzLoginCredential
    cli_ctx = types.SimpleNamespace(
        config=types.SimpleNamespace(config_dir=str(tmp_path)), data={"subscription_id": "sub-1"},
        cloud=types.SimpleNamespace(endpoints=types.SimpleNamespace(resource_manager="https://arm.example")))
    client = cf_appnet(cli_ctx, {"resource_group_name": "rg1"})
    assert isinstance(client, AppNet)
    assert client.config_dir == str(tmp_path) and client.subscription == "sub-1"
    assert client.arm_endpoint == "https://arm.example"
    assert isinstance(client.credential, AzLoginCredential)
    assert client.progress is None and client.warn is not None


def test_engine_errors_become_az_errors():
    from azure.cli.core import azclierror
    from azext_appnet import errors
    from azext_appnet._exception_handler import appnet_exception_handler
    with pytest.raises(azclierror.ResourceNotFoundError) as found:
        appnet_exception_handler(errors.NotFoundError("Member 'm' was not found.", "Check the names."))
    assert found.value.status_code == 404 and "was not found" in str(found.value)
    with pytest.raises(azclierror.ArgumentUsageError):
        appnet_exception_handler(errors.UsageError("Cannot use --version here."))
    other = RuntimeError("not ours")
    with pytest.raises(RuntimeError) as raised:
        appnet_exception_handler(other)
    assert raised.value is other


def test_a_wait_with_nothing_to_wait_for_is_refused_before_polling(engine):
    from azext_appnet.errors import InvalidInputError
    with pytest.raises(InvalidInputError, match="Name what to wait for"):
        engine.wait_network("rg1", "net-01", interval=0, timeout=0)


def test_a_wait_with_a_bad_query_is_refused_before_polling(engine):
    from azext_appnet.errors import InvalidInputError
    with pytest.raises(InvalidInputError, match="not a valid JMESPath"):
        engine.wait_member("rg1", "net-01", "m1", custom="[[", interval=0, timeout=0)


def test_a_wait_for_deletion_of_nothing_returns_at_once(engine):
    assert engine.wait_network("rg1", "net-01", deleted=True, interval=0, timeout=0) is None


def test_the_state_package_imports_nothing_above_it():
    """state/ sits below operations/ and the engine: the credential for a store named by URL
    is its caller's to choose (the az login, or the Azure CLI's for a worker)."""
    for path in (PACKAGE / "state").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                targets = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                assert not set(targets) & {"operations", "engine", "custom", "credentials", "kube", "pki"}, \
                    f"{path.name}:{node.lineno} imports {targets}"


def test_a_store_named_by_url_needs_the_credential_it_signs_in_with():
    from azext_appnet.state import needs_credential, open_store
    url = "https://account.blob.core.windows.net/appnet"
    assert needs_credential(url)
    assert not needs_credential("/tmp/state.db") and not needs_credential("env:APPNET_STATE_CONNECTION_STRING/c")
    with pytest.raises(ValueError, match="needs a credential"):
        open_store(url)
