"""What the wheel users install holds: the extension and its data, nothing of the tests."""

import zipfile

import pytest

from tests.e2e.conftest import _wheel

pytestmark = pytest.mark.e2e


def test_the_wheel_ships_no_test_helper(tmp_path):
    names = zipfile.ZipFile(_wheel(tmp_path)).namelist()
    shipped = [n for n in names if not n.startswith("appnet-")]   # minus the .dist-info
    assert shipped and all(n.startswith("azext_appnet/") for n in shipped), shipped
    assert not [n for n in shipped if "test" in n.rsplit("/", 1)[-1].lower()], shipped
    assert "azext_appnet/versions/catalog.json" in names and "azext_appnet/azext_metadata.json" in names
