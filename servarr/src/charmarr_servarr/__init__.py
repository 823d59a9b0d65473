"""The Servarr apps (Prowlarr, Radarr, Sonarr): their API client and their charm base.

- :mod:`.api`: the Servarr v1/v3 HTTP API, each app's constants (``RADARR``, ...) and the
  desired-state records of what the charms manage in the apps;
- :mod:`.arr`: the charm base Prowlarr, Radarr and Sonarr are written on.

Above :mod:`charmarr_common` and :mod:`charmarr_interfaces`; nothing here imports a charm.
"""
