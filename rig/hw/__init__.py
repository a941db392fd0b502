"""Everything that touches a pin or a converter: the GPIO backends, the frame and its flags,
the HX711 driver. Nothing here imports analysis, storage, the web or the commands.
"""
