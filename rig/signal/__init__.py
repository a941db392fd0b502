"""From corner counts to forces and centre of pressure: plate geometry, force model, the
spike filter, and the compiled core (`_core`) with its NumPy reference (`reference`).
"""
