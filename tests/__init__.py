"""The StepPlate test suite: one folder per product package, system tests in tests/system."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent     # the checkout
