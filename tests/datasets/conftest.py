"""Fixtures shared by the dataset tests: an isolated cache and a network guard."""

import os
import socket

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Point KERAS_GROW_CACHE at a temporary folder for the whole session."""
    folder = tmp_path_factory.mktemp("keras_grow_cache")
    previous = os.environ.get("KERAS_GROW_CACHE")
    os.environ["KERAS_GROW_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("KERAS_GROW_CACHE", None)
    else:
        os.environ["KERAS_GROW_CACHE"] = previous


@pytest.fixture
def no_network(monkeypatch):
    """Make every Python-level network call fail, and record the attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], f"network access attempted: {attempts}"
