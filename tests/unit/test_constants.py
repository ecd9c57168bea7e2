"""constants.py is the one home of the values the package agrees on."""

import ast
import pathlib

import azext_appnet
from azext_appnet import constants

PACKAGE = pathlib.Path(azext_appnet.__file__).parent


def test_constants_import_nothing():
    # The az layer reads it while az builds its command table; anything may import it.
    tree = ast.parse((PACKAGE / "constants.py").read_text())
    assert [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))] == []


def test_no_module_keeps_its_own_copy():
    literals = {repr(v) for v in (constants.MEMBER_NAMESPACE, constants.NETWORK_KIND,
                                  constants.MEMBER_KIND, constants.PUBLIC_ARM_ENDPOINT,
                                  constants.MANAGED_BY_KEY, constants.NETWORK_ID_ANNOTATION)}
    literals |= {'"' + v[1:-1] + '"' for v in literals}
    copies = [f"{path.relative_to(PACKAGE)}: {text}" for path in PACKAGE.rglob("*.py")
              if path.name != "constants.py"
              for text in literals if text in path.read_text()]
    assert copies == []
