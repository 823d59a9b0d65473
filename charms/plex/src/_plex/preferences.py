"""Plex's ``Preferences.xml``: one ``<Preferences .../>`` element whose attributes are settings.

The charm reads ``PlexOnlineToken`` (the server's plex.tv token) and the identifiers plex.tv
knows the server by, and writes the token after a claim. Every other attribute, and the
order of all of them, is kept as Plex wrote it.
"""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from charmarr_common.errors import CharmarrError

TOKEN = "PlexOnlineToken"
TRANSCODER_TEMP = "TranscoderTempDirectory"
MACHINE_ID = "MachineIdentifier"
PROCESSED_ID = "ProcessedMachineIdentifier"

_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


class InvalidPreferencesError(CharmarrError):
    """Preferences.xml exists but is not Plex's settings file."""


@dataclass
class Preferences:
    """The ``<Preferences>`` element; its attributes keep their file order."""

    root: ET.Element = field(default_factory=lambda: ET.Element("Preferences"))

    @property
    def attributes(self) -> dict[str, str]:
        """The settings (a live view: changing it changes what :meth:`render` writes)."""
        return self.root.attrib

    @classmethod
    def parse(cls, text: str | None) -> Preferences:
        """Parse the file's text; None (no file yet) gives empty preferences.

        Raises:
            InvalidPreferencesError: not XML, or the root is not ``<Preferences>``.
        """
        if text is None or not text.strip():
            return cls()
        try:
            # The file is the workload's own, on its own volume; expat rejects entity bombs.
            root = ET.fromstring(text)  # noqa: S314
        except ET.ParseError:
            raise InvalidPreferencesError(
                "Preferences.xml is not valid XML: restore it from a backup or remove it"
            ) from None
        if root.tag != "Preferences":
            raise InvalidPreferencesError(
                f"Preferences.xml has root <{root.tag[:32]}>, not <Preferences>"
            )
        return cls(root)

    def render(self) -> str:
        """The file's text: attributes in their original order, anything else kept."""
        return _DECLARATION + ET.tostring(self.root, encoding="unicode") + "\n"

    @property
    def token(self) -> str:
        """The server's plex.tv token ("" before the claim)."""
        return self.attributes.get(TOKEN, "")

    @property
    def client_identifier(self) -> str:
        """What plex.tv knows the server by ("" if Plex has not written it yet)."""
        return self.attributes.get(PROCESSED_ID, "")

    def ensure_transcoder_temp(self, path: str) -> bool:
        """Set ``TranscoderTempDirectory`` to ``path`` unless the user chose one; True if set."""
        if self.attributes.get(TRANSCODER_TEMP):
            return False
        self.attributes[TRANSCODER_TEMP] = path
        return True

    def ensure_identifiers(self) -> str:
        """Make sure both identifiers exist, the way Plex derives them; return the client ID.

        Plex writes them on its first start; this only fills them in if it has not.
        """
        machine = self.attributes.get(MACHINE_ID) or str(uuid.uuid4())
        self.attributes[MACHINE_ID] = machine
        if not self.attributes.get(PROCESSED_ID):
            digest = hashlib.sha1(f"{machine}- Plex Media Server".encode(), usedforsecurity=False)
            self.attributes[PROCESSED_ID] = digest.hexdigest()
        return self.attributes[PROCESSED_ID]
