"""StepPlate rig: the instrument side (GPIO, HX711 driver, simulator, forces/COP, metrics)."""

__version__ = "0.1.0"
