"""Temporary directories for test states (a container's mounts), removed when done.

The wired states and world builders need host directories behind their containers'
mounts, and a test may use a state long after it was built (module-scoped fixtures), so
each directory lives until the test session ends: the pytest plugin removes them all
then, and ``atexit`` does outside pytest (the bench). Nothing is left in the temp folder.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_made: list[Path] = []


def scratch_dir(prefix: str) -> Path:
    """A new, empty temporary directory, removed at the end of the session."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _made.append(path)
    return path


def remove_scratch() -> None:
    """Remove every directory :func:`scratch_dir` made."""
    while _made:
        shutil.rmtree(_made.pop(), ignore_errors=True)


atexit.register(remove_scratch)
