"""Helpers of the qbittorrent-k8s charm.

The conf file (:mod:`.config`), the WebUI API client (:mod:`.api`), the wanted proxy and
category state (:mod:`.desired`) and the Pebble layer (:mod:`.layer`).
"""
