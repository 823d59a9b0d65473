"""Test helpers shared by every Charmarr test suite (in the spirit of charmlibs' ``*_testing``).

- :mod:`.builders`: ``ops.testing`` relations and granted secrets for each interface side,
  so charm tests never hand-write databags;
- :mod:`.fakes`: in-process fakes of the workloads' HTTP APIs and the network they sit on;
- :mod:`.charms`: discover and load the charms under ``charms/`` in one test process;
- :mod:`.pytest_plugin`: the secret-leak guard (autouse) and shared fixtures.

Nothing here is imported by the charms at run time.
"""
