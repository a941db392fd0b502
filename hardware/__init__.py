"""Hardware sources: generators for the wiring diagram, the platform drawing and the 1:1
calibration grid templates (regenerate with ``python -m hardware.generate``)."""
