"""Pure analysis on recordings: metrics, events, protocols, landing, step-down, squat,
symmetry and the one "real change" rule. No I/O, no GPIO, no web.
"""
