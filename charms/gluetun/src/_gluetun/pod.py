"""The seam for what Gluetun needs from Kubernetes itself.

Gluetun manages a tunnel device and the pod's firewall, so its container needs the
NET_ADMIN capability and the host's ``/dev/net/tun``. Juju's pod spec grants neither;
a patch of the StatefulSet (with ``--trust``) will. That patch comes with the Kubernetes
work: this is the one place the charm calls it from, once per reconcile.
"""

from __future__ import annotations

import ops


def ensure_tunnel_privileges(charm: ops.CharmBase) -> None:
    """Make sure the Gluetun container has NET_ADMIN and /dev/net/tun (not done here yet)."""
    del charm  # implemented with the Kubernetes issue
