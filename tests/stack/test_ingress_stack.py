"""The whole stack behind an ingress: traefik-k8s played by ``charmarr_testing.ingress``.

The bundle's traefik (a Charmhub charm) is played by :class:`FakeIngress`: after every
hook it reads each requirer's databags as traefik-k8s's leader would, publishes the URL
(or nothing while a databag is missing or invalid), and routes requests at that URL to
the app's in-cluster Service. With it related, each web UI answers at its published URL
under the path prefix, every in-cluster wiring still works, and removing the relations
brings every app and every URL back to the root path.
"""

from __future__ import annotations

import expect
from kits import bundle
from records import MODEL_NAME, Hook
from stack import Stack

from charmarr_common.cleanup import managed_name
from charmarr_common.http import Request, Response
from charmarr_testing.ingress import FakeIngress, traefik_url

TRAEFIK = "traefik"
PATH_APPS = ("prowlarr", "radarr", "sonarr")
"""The apps that serve under the ingress's path prefix (their UrlBase)."""
UI_APPS = (*PATH_APPS, "qbittorrent", "sabnzbd")
"""Every app with a web UI behind the ingress."""


class Traefik:
    """traefik-k8s in the stack: its databag answers after every hook, its routes."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.fake = FakeIngress(stack.network)
        stack.deploy_external(TRAEFIK, "traefik-k8s")
        stack.after_hook.append(self._after)

    def integrate_all(self) -> None:
        """``juju integrate`` every ingress relation of bundle.yaml."""
        for a, b in bundle()["relations"]:
            if TRAEFIK in (a.split(":")[0], b.split(":")[0]):
                self.stack.integrate(a, b)

    def _after(self, hook: Hook) -> None:
        del hook
        live = set()
        for rel in list(self.stack.relations.values()):
            if TRAEFIK not in rel.ends or rel.dying:
                continue
            app = rel.other(TRAEFIK)
            live.add(app)
            units = [rel.unit_data.get(u.name, {}) for u in self.stack.apps[app].units]
            answer = self.fake.answer(rel.app_data[app], units)
            if answer != rel.app_data[TRAEFIK]:
                rel.app_data[TRAEFIK] = answer
                for unit in self.stack.apps[app].units:
                    self.stack._queue(unit.name, "relation-changed", rel.id, 0)
        for app in list(self.stack.apps):
            if app not in live and self.fake.url_of(MODEL_NAME, app):
                # traefik-k8s drops the route when the relation goes
                self.fake.withdraw(MODEL_NAME, app)

    def get(self, url: str) -> Response:
        """A browser's GET, through traefik."""
        self.stack.network.current_unit = None
        return self.stack.network(Request("GET", url), 5.0)


def _url_base(stack: Stack, app: str) -> str:
    text = (stack.app(app).leader.dirs["config"] / "config.xml").read_text()
    start = text.find("<UrlBase>")
    return "" if start < 0 else text[start + 9 : text.index("</UrlBase>")]


def _sab_misc(stack: Stack, key: str) -> str | None:
    text = (stack.app("sabnzbd").leader.dirs["config"] / "sabnzbd.ini").read_text()
    for line in text.splitlines():
        if line.startswith(f"{key} = "):
            return line.split(" = ", 1)[1]
    return None


def _client_entry(stack: Stack, app: str, client: str) -> dict:
    return expect.fields_of(stack.app(app).fake.named("downloadclient")[managed_name(client)])


def _indexer_url(stack: Stack, app: str) -> str:
    bag = stack.relation("prowlarr", app).app_data[app]
    return bag["url"].strip('"')


def test_every_ui_answers_behind_the_ingress_and_the_root_comes_back(deployed: Stack):
    stack = deployed
    traefik = Traefik(stack)
    traefik.integrate_all()
    stack.converge()

    assert expect.all_active(stack) == {}
    for app in PATH_APPS:
        url = traefik_url(MODEL_NAME, app)
        assert traefik.fake.url_of(MODEL_NAME, app) == url
        assert f"web UI at {url}" in stack.statuses()[f"{app}/0"]
        # The UI answers at the published URL, under the path prefix.
        assert traefik.get(f"{url}/ping").json() == {"status": "OK"}, app
        assert _url_base(stack, app) == f"/{MODEL_NAME}-{app}"
        assert stack.run_action(f"{app}/leader", "get-url").results == {"url": url}
    # qBittorrent cannot serve under a path: traefik strips it; its URL ends with "/".
    qbt = traefik_url(MODEL_NAME, "qbittorrent") + "/"
    assert f"web UI at {qbt}" in stack.statuses()["qbittorrent/0"]
    assert b"qbittorrent" in traefik.get(qbt).body.lower(), "the login page, through traefik"
    assert stack.run_action("qbittorrent/leader", "get-url").results == {"url": qbt}
    # SABnzbd serves under url_base and accepts traefik's Host header.
    sab = traefik_url(MODEL_NAME, "sabnzbd")
    assert f"web UI at {sab}" in stack.statuses()["sabnzbd/0"]
    assert _sab_misc(stack, "url_base") == f"/{MODEL_NAME}-sabnzbd"
    assert "ingress.charmarr.test" in (_sab_misc(stack, "host_whitelist") or "")
    assert b"SABnzbd" in traefik.get(f"{sab}/").body, "the web UI, through traefik, under url_base"
    for app in ("radarr", "sonarr"):
        # Each download client entry follows the URL its client published.
        assert _client_entry(stack, app, "sabnzbd")["urlBase"] == f"/{MODEL_NAME}-sabnzbd"
        assert _client_entry(stack, app, "qbittorrent")["urlBase"] == ""
        assert _indexer_url(stack, app).endswith(f"/{MODEL_NAME}-{app}")
        application = expect.entry(stack, "prowlarr", "applications", managed_name(app))
        base_url = expect.fields_of(application)["baseUrl"]
        assert base_url.endswith(f"/{MODEL_NAME}-{app}"), base_url
    # Radarr and Sonarr still reach qBittorrent, SABnzbd, Prowlarr and Plex in-cluster.
    expect.check_delivered(stack)

    # A converged update-status with the ingress related: no databag or workload write.
    before = stack.fingerprint()
    stack.update_status()
    stack.settle()
    assert stack.fingerprint() == before

    for app in UI_APPS:
        stack.remove_relation(stack.relation(TRAEFIK, app))
    stack.converge()

    assert expect.all_active(stack) == {}
    for app in PATH_APPS:
        assert _url_base(stack, app) == ""
        assert traefik.fake.url_of(MODEL_NAME, app) is None
        assert "web UI" not in stack.statuses()[f"{app}/0"]
        service = stack.run_action(f"{app}/leader", "get-url").results["url"]
        assert service.startswith(f"http://{app}.{MODEL_NAME}.svc.cluster.local:")
        assert traefik.get(f"{traefik_url(MODEL_NAME, app)}/ping").status == 404
    assert _sab_misc(stack, "url_base") in (None, '""'), "SABnzbd's own default (empty)"
    for app in ("qbittorrent", "sabnzbd"):
        assert traefik.fake.url_of(MODEL_NAME, app) is None
        assert "web UI" not in stack.statuses()[f"{app}/0"]
    for app in ("radarr", "sonarr"):
        assert _client_entry(stack, app, "sabnzbd")["urlBase"] == ""
        port = stack.app(app).fake.app.port
        assert _indexer_url(stack, app) == f"http://{expect.service(app, port)}"
        application = expect.entry(stack, "prowlarr", "applications", managed_name(app))
        assert expect.fields_of(application)["baseUrl"] == _indexer_url(stack, app)
    expect.check_delivered(stack)
