"""Fixtures shared by the module's tests: a fresh region name per test, removed afterwards,
and an LB + agent pair on it (both sides in this process)."""
import os
import uuid

import pytest

import marllb_shm as m


@pytest.fixture
def name():
    n = f"marllb_py_{uuid.uuid4().hex[:10]}"
    yield n
    try:
        os.unlink(f"/dev/shm/{n}")
    except FileNotFoundError:
        pass


@pytest.fixture
def pair(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        yield lb, agent
