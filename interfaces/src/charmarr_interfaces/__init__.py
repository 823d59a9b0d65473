"""Charmarr's contract: what two charms must agree on, and nothing else.

Each module is imported explicitly; this package imports nothing at import time so that
every hook stays cheap. Each interface is self-contained behind its public face
(``__all__``) and documented in its own README:

- :mod:`.secret_ids`: the secret-ID pattern (owned, consumed and user secrets);
- :mod:`.media_indexer`, :mod:`.download_client`, :mod:`.vpn_gateway`,
  :mod:`.media_server`: Charmarr's four relation interfaces (provider, requirer, and
  databag models in ``<interface>.models``, imported on first use);
- :mod:`.ingress`: the requirer side of Canonical's ``ingress`` v2, as traefik-k8s speaks it;
- :mod:`.endpoint`: their common base (reading, validating and publishing databags);
- :mod:`.urls`, :mod:`.errors`: the URL rules of the databags, and the errors the
  readers raise (each with the status that names its fix).

Charm behaviour that is not a contract lives in ``charmarr_common`` and
``charmarr_servarr``; the test kit in ``charmarr_testing``.
"""
