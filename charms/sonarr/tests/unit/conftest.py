"""Every request the tests' Servarr fakes received must match the apps' OpenAPI documents.

(When ../shared is absent the documents are too; interfaces/tests/test_servarr.py then
shows the validation as skipped.)
"""

import pytest

from charmarr_interfaces.testing.openapi import reference_dir, validate_network


@pytest.fixture(autouse=True)
def _requests_match_openapi(fake_network):
    yield
    if reference_dir().is_dir():
        validate_network(fake_network)
