"""Fixtures shared by the Invoke tests (`test_invoke_*.py`), which import them: their own server
with the installed runtimes, and a boto3 client (`lam`) that talks to it instead of the shared
control-plane server."""

from __future__ import annotations

import pytest

import support


@pytest.fixture(scope="module")
def inv_endpoint():
    """The Invoke tests' own server (with the installed runtimes); `lam` talks to it."""
    return support.invoke_server().endpoint


@pytest.fixture(scope="module")
def lam(inv_endpoint):
    return support.lambda_client(inv_endpoint)


@pytest.fixture(scope="module")
def python_runtime():
    return support.require_runtimes()
