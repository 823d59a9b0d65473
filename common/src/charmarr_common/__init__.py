"""Charmarr's shared charm code: what is not a contract between charms, written once.

Layered so that imports only point down (and nothing here imports a charm or the test
kit); each module is imported explicitly, and this package imports nothing, so a hook pays
only for what it uses:

1. :mod:`.errors` (on :mod:`charmarr_interfaces.errors`), :mod:`.safe_text`,
   :mod:`.statuses` (the catalogue of every status a charm may show);
2. :mod:`.http`, :mod:`.workload` (Pebble), :mod:`.k8s`, :mod:`.cleanup`;
3. :mod:`.rotation`, :mod:`.standby` (one active unit), :mod:`.vpn`, :mod:`.reconcile`
   (when update-status may skip the reconcile);
4. :mod:`.charm`: the skeleton every charm fills in (:class:`~.charm.CharmarrCharm`).
"""
