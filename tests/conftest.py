"""Shared fixtures. The simulator stands in for the hardware; see rig/sim/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property and fuzz tests: on CI (CI=true) the examples are derived from each test's name
# (derandomize), so a CI run is reproducible and a red build is a real regression; locally
# they are random, so every run explores new inputs. No per-example deadline: the machines
# are shared 2-core boxes, and speed is measured by bench/, not by tests.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parent.parent
VALIDATION = ROOT.parent / "shared" / "validation"


@pytest.fixture
def validation_dir() -> Path:
    """../shared/validation beside the checkout; tests that need it skip when it is absent."""
    if not VALIDATION.is_dir():
        pytest.skip(f"validation recordings not found at {VALIDATION} (see shared/validation/README.md)")
    return VALIDATION
