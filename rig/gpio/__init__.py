"""GPIO backends: a small interface (rig.gpio.base) and its implementations."""
from rig.gpio.base import Clock, GPIOBackend, SystemClock, VirtualClock

__all__ = ["Clock", "GPIOBackend", "SystemClock", "VirtualClock"]
