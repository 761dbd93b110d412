#!/usr/bin/env python3
"""Runs Orca (/usr/bin/orca, with the arguments given) with its debug file written line by line.

Orca writes `--debug-file` through Python's default 8 KiB buffer, so the last things it said
can sit unwritten for as long as nothing else happens; a test that reads what Orca said needs
each line when it is said. Nothing else about Orca changes."""
import builtins
import runpy
import sys

ORCA = "/usr/bin/orca"
_open = builtins.open


def open_line_buffered(file, mode="r", buffering=-1, *args, **kwargs):
    if "w" in mode and "b" not in mode and buffering == -1:
        buffering = 1
    return _open(file, mode, buffering, *args, **kwargs)


builtins.open = open_line_buffered
sys.argv[0] = ORCA
runpy.run_path(ORCA, run_name="__main__")
