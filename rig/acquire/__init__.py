"""The acquisition process: the read loop, tare and zero tracking, typed health, the IPC
server that publishes batches to the web process, and the supervisor that restarts it.

It is the only process that touches GPIO, and it never imports Flask.
"""
