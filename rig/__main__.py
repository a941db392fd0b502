"""`python -m rig ...` is the same as the `rig` command."""
from rig.cli import main

main(prog_name="rig")
