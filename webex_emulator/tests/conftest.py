"""Fixtures: one emulator process per test session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webex_emulator.testing import EmulatorControl, EmulatorProcess

from .support import Api, World, build_world


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """A live emulator subprocess shared by the whole session."""
    with EmulatorProcess() as process:
        yield process


@pytest.fixture
def control(emulator: EmulatorProcess) -> EmulatorControl:
    """The control client, with the emulator reset to an empty world."""
    client = EmulatorControl(emulator.base_url)
    client.reset()
    return client


@pytest.fixture
def api(emulator: EmulatorProcess) -> Api:
    return Api(emulator.base_url)


@pytest.fixture
def world(emulator: EmulatorProcess, control: EmulatorControl) -> World:
    """A Service App authorized by two orgs, org tokens for both, the partner's token."""
    return build_world(emulator.base_url, control)
