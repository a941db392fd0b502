"""GPIO backends: a small interface (rig.hw.gpio.base) and its implementations."""
from rig.hw.gpio.base import Clock, GPIOBackend, SystemClock, VirtualClock

__all__ = ["Clock", "GPIOBackend", "SystemClock", "VirtualClock"]
