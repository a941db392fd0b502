"""The simulator that ships with the package: emulated HX711 chips on a simulated GPIO bus,
driven by a virtual person on a simulated plate. See docs/simulator.md."""
