"""`otakit loadtest ...`: Locust with otakit's locustfile, wherever pip installed it; every
argument is Locust's or otaload's (`otakit loadtest --help` lists both)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from otaload.options import add_arguments

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def command(arguments: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *arguments]


def main(arguments: Sequence[str]) -> int:
    try:
        code = subprocess.call(command(arguments))
    except KeyboardInterrupt:  # Locust has had it too, and stopped its run
        return 130
    if code == 0 and any(a in ("-h", "--help") for a in arguments):
        # Locust's help leaves out a locustfile's own options: here they are.
        parser = argparse.ArgumentParser(add_help=False, usage=argparse.SUPPRESS)
        add_arguments(parser)
        print(parser.format_help())
    return code
