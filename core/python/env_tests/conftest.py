"""Shared by the environment's tests: the marllb-sim binary (MARLLB_SIM, set by ctest) and a
check of whether a process still runs."""
import os

import pytest

SIM = os.environ.get("MARLLB_SIM")


def pytest_collection_modifyitems(items):
    if not SIM:  # never a silent pass: say what is missing
        for item in items:
            item.add_marker(pytest.mark.skip(reason="MARLLB_SIM (the marllb-sim binary) is not set; ctest sets it"))


def process_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def region_exists(name):
    return os.path.exists(f"/dev/shm/{name}")
