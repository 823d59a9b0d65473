"""Charmarr's test kit: a development-only distribution, never staged into a charm.

In the spirit of charmlibs' ``*_testing`` packages. It knows the contract and the shared
charm code, never a charm: each charm's wired state and behaviour tests live under
``charms/<name>/tests/``, and the repository's own test support (finding and loading the
charms) under ``tests/support/``.

- :mod:`.juju_semantics`: Juju's in-hook secret semantics for every ``ops.testing`` run;
- :mod:`.faults`: hook-tool and Pebble faults at a chosen point;
- :mod:`.builders`: ``ops.testing`` relations and granted secrets for each interface side,
  so charm tests never hand-write databags;
- :mod:`.ingress`: an ingress provider's answer for ``ops.testing``, and ``FakeIngress``,
  a traefik-k8s that routes by path prefix or host on the ``FakeNetwork``;
- :mod:`.fakes` and ``fake_*``: in-process fakes of the workloads' HTTP APIs and the
  network they sit on, each citing the upstream source it mirrors;
- :mod:`.pytest_plugin`: the secret-leak guard (autouse), the status and temp-folder
  checks, and shared fixtures.
"""
