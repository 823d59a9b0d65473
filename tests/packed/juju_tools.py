"""Stand-in Juju hook tools for running a built charm's ``./dispatch`` (stdlib only).

Each tool on the test's PATH is a two-line script that runs this file with its own name.
The model lives in a JSON file (``$CHARMARR_FAKE_JUJU``); every call is appended to it, and
each tool answers in the form the uniter's jujuc commands do (juju/juju
``internal/worker/uniter/runner/jujuc``): JSON with ``--format=json``, ``ERROR ...`` on
stderr and exit 1 on failure. Secrets follow the uniter's hook context: a ``secret-set``
is pending until the hook ends (:func:`commit`), only ``--refresh``/``--peek`` see it, and
``secret-info-get`` reports the committed revision.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

TOOLS = (
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-set",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-revoke",
    "secret-set",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "storage-get",
    "storage-list",
)
"""Every tool on PATH; a charm calling any other fails with "command not found"."""

_XID = "0123456789abcdefghijklmnopqrstuv"


def new_model(*, leader: bool, config: dict[str, Any]) -> dict[str, Any]:
    """A model with no relations and no secrets yet."""
    return {"leader": leader, "config": config, "secrets": {}, "calls": [], "statuses": []}


def commit(model: dict[str, Any]) -> None:
    """The hook ended without error: pending secret revisions become real."""
    for secret in model["secrets"].values():
        pending = secret.pop("pending", None)
        track = secret.pop("track", False)
        if pending is not None:
            secret["latest"] += 1
            secret["revisions"][str(secret["latest"])] = pending
            if track:
                secret["tracked"] = secret["latest"]


def _fail(message: str) -> None:
    print(f"ERROR {message}", file=sys.stderr)
    sys.exit(1)


def _options(args: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """``--name value`` / ``--flag`` / ``--name=value`` options and the positional rest."""
    flags = {"--refresh", "--peek", "--application", "--app", "--include-data"}
    options: dict[str, str | bool] = {}
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--":
            rest.extend(items)
            break
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in flags:
            options[arg] = True
        elif arg.startswith("--") or (arg.startswith("-") and len(arg) == 2):
            options[arg] = next(items, "")
        else:
            rest.append(arg)
    return options, rest


def _content(items: list[str]) -> dict[str, str]:
    content: dict[str, str] = {}
    for item in items:
        key, value = item.split("=", 1)
        if key.endswith("#file"):
            content[key.removesuffix("#file")] = Path(value).read_text()
        else:
            content[key] = value
    return content


def _find(model: dict[str, Any], uri: str | None, label: str | None) -> tuple[str, dict]:
    for xid, secret in model["secrets"].items():
        if (uri and uri.rsplit("/", 1)[-1].removeprefix("secret:") == xid) or (
            not uri and label and secret.get("label") == label
        ):
            return xid, secret
    _fail(f'secret "{uri or label}" not found')
    raise AssertionError  # unreachable


def _secret_tool(model: dict[str, Any], tool: str, args: list[str]) -> Any:
    options, rest = _options(args)
    label = options.get("--label")
    if tool == "secret-add":
        if options.get("--owner", "application") == "application" and not model["leader"]:
            _fail("this unit is not the leader")
        xid = "".join(secrets.choice(_XID) for _ in range(20))
        model["secrets"][xid] = {
            "label": label,
            "owner": options.get("--owner", "application"),
            "rotate": options.get("--rotate"),
            "description": options.get("--description"),
            "revisions": {"1": _content(rest)},
            "latest": 1,
            "tracked": 1,
        }
        return f"secret:{xid}"
    if tool == "secret-ids":
        return [f"secret:{xid}" for xid in model["secrets"]]
    uri = rest[0] if rest and rest[0].startswith("secret:") else None
    xid, secret = _find(model, uri, label if isinstance(label, str) else None)
    if tool == "secret-get":
        pending = secret.get("pending")
        if pending is not None and (options.get("--refresh") or options.get("--peek")):
            secret["track"] = secret.get("track") or bool(options.get("--refresh"))
            return pending
        if options.get("--refresh"):
            secret["tracked"] = secret["latest"]
        revision = secret["latest"] if options.get("--peek") else secret["tracked"]
        return secret["revisions"][str(revision)]
    if not model["leader"]:
        _fail("this unit is not the leader")
    if tool == "secret-info-get":
        return {
            xid: {
                "label": secret.get("label"),
                "revision": secret["latest"],
                "rotation": secret.get("rotate"),
                "description": secret.get("description"),
                "owner": secret["owner"],
            }
        }
    if tool == "secret-set":
        content = _content(rest[1:])
        if content and content != secret["revisions"][str(secret["latest"])]:
            secret["pending"] = content
        if options.get("--rotate"):
            secret["rotate"] = options["--rotate"]
        return None
    return None  # secret-grant, -revoke, -remove: recorded in calls


def run(tool: str, args: list[str], model: dict[str, Any]) -> Any:
    """Answer one hook-tool call; the return value is printed (JSON when asked)."""
    options, rest = _options(args)
    if tool.startswith("secret-"):
        return _secret_tool(model, tool, args)
    if tool == "is-leader":
        return model["leader"]
    if tool == "config-get":
        return model["config"].get(rest[0]) if rest else model["config"]
    if tool == "status-set":
        model["statuses"].append(
            {
                "app": options.get("--application") in (True, "True", "true"),
                "status": rest[0],
                "message": " ".join(rest[1:]),
            }
        )
        return None
    if tool == "status-get":
        return {"status": "unknown", "message": "", "status-data": {}}
    if tool in ("relation-ids", "relation-list", "opened-ports", "storage-list", "secret-ids"):
        return []
    if tool in ("relation-get", "state-get", "goal-state", "storage-get", "action-get"):
        return {}
    if tool == "network-get":
        return {
            "bind-addresses": [
                {"interface-name": "eth0", "addresses": [{"value": "10.1.0.5", "cidr": ""}]}
            ],
            "egress-subnets": ["10.1.0.5/32"],
            "ingress-addresses": ["10.1.0.5"],
        }
    return None  # juju-log, open-port, close-port, relation-set, application-version-set, ...


def main() -> None:
    """Entry point: ``juju_tools.py <tool> [args...]``."""
    tool, args = sys.argv[1], sys.argv[2:]
    path = Path(os.environ["CHARMARR_FAKE_JUJU"])
    model = json.loads(path.read_text())
    model["calls"].append([tool, *args])
    try:
        answer = run(tool, args, model)
    finally:
        path.write_text(json.dumps(model))
    if answer is None:
        return
    if "--format=json" in args or tool == "is-leader":
        print(json.dumps(answer))
    else:
        print(answer)


if __name__ == "__main__":
    main()
