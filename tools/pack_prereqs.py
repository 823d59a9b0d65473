"""Check, before ``tox -e pack`` stages anything, that charmcraft and LXD are here.

Without them the pack ends in ``charmcraft: command not found`` after the staging; this
says instead what to install. charmcraft builds each charm in an LXD container.
"""

from __future__ import annotations

import shutil
import sys

HOW = {
    "charmcraft": "sudo snap install charmcraft --classic",
    "lxc": "sudo snap install lxd && sudo lxd init --auto && sudo usermod -aG lxd $USER "
    "(then log in again)",
}


def missing() -> list[str]:
    """The tools ``tox -e pack`` needs that are not on PATH."""
    return [tool for tool in HOW if shutil.which(tool) is None]


def main() -> int:
    """Print how to get each missing tool; 1 if any is missing."""
    absent = missing()
    for tool in absent:
        print(f"tox -e pack needs {tool}, which is not installed: {HOW[tool]}", file=sys.stderr)
    if absent:
        print(
            "charmcraft packs each charm in an LXD container (Ubuntu 24.04); see README.md, "
            "'Pack and deploy'.",
            file=sys.stderr,
        )
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
