#!/usr/bin/env python
"""Django's command-line utility for the State Hub."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")
    from statehub.tracing import run_command

    run_command(sys.argv)


if __name__ == "__main__":
    main()
