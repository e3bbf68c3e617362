"""Shared fixtures: paths to the reference data and small hand-built networks."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.factories import make_cross_scenario

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
REF_SUMO = SHARED / "reference" / "sumo" / "scenarios"
RESCO = SHARED / "reference" / "resco" / "ingolstadt7"


@pytest.fixture
def ref_sumo() -> Path:
    if not REF_SUMO.is_dir():
        pytest.skip(f"SUMO reference scenarios not found at {REF_SUMO}")
    return REF_SUMO


@pytest.fixture
def resco() -> Path:
    if not RESCO.is_dir():
        pytest.skip(f"RESCO ingolstadt7 not found at {RESCO}")
    return RESCO


def sumo_binary() -> str | None:
    """The ``sumo`` executable: next to this Python (eclipse-sumo in the venv) or on PATH."""
    beside = Path(sys.executable).parent / "sumo"
    return str(beside) if beside.exists() else shutil.which("sumo")


@pytest.fixture
def sumo() -> str:
    binary = sumo_binary()
    if binary is None:
        pytest.skip("SUMO is not installed (pip install eclipse-sumo)")
    return binary


@pytest.fixture
def cross():
    return make_cross_scenario()
