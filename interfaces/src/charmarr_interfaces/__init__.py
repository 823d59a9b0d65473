"""Charmarr's shared code: what two charms must agree on, written once.

Submodules are imported explicitly (``from charmarr_interfaces import secrets``);
this package imports nothing at import time so that every hook stays cheap.

- :mod:`charmarr_interfaces.secrets`: the secret-ID pattern (owned, consumed and
  user secrets, ``rotation-interval``, rotation and pruning).
- :mod:`charmarr_interfaces.relation`: the base of the four relation interfaces.
- :mod:`charmarr_interfaces.media_indexer`, :mod:`~charmarr_interfaces.download_client`,
  :mod:`~charmarr_interfaces.vpn_gateway`, :mod:`~charmarr_interfaces.media_server`.
- :mod:`charmarr_interfaces.cleanup`: holistic create/update/delete of per-relation artefacts.
- :mod:`charmarr_interfaces.http`: a small HTTP client with one seam for tests.
- :mod:`charmarr_interfaces.testing`: builders, fakes and the leak guard for tests.
"""
