"""Shared fixtures. The simulator stands in for the hardware; see rig/sim/."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VALIDATION = ROOT.parent / "shared" / "validation"


@pytest.fixture
def validation_dir() -> Path:
    """../shared/validation beside the checkout; tests that need it skip when it is absent."""
    if not VALIDATION.is_dir():
        pytest.skip(f"validation recordings not found at {VALIDATION} (see shared/validation/README.md)")
    return VALIDATION
