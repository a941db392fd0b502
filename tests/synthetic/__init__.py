"""Truth generators used only by tests: scripted trials with known events and a plate whose counts
come from known loads, without the chip simulator."""
