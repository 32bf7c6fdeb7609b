"""The X tokens at rest: encrypted with Fernet, the key derived from the secret key.

Each key is ``HKDF-SHA256(secret key, info=INFO)``, so the secret key itself is never a
Fernet key and another use of it derives another key. A sealed value is ``MARKER`` + a
Fernet token; a stored value without the marker is clear text written by an older version.
Key rotation: set the new ``ATEXPERT_SECRET_KEY`` and put the old one(s) in
``ATEXPERT_SECRET_KEY_PREVIOUS`` (comma-separated): values sealed with an old key are still
opened, and :meth:`Sealer.open` says they are stale so that the caller writes them again
under the current key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from atexpert.domain.errors import Conflict
from atexpert.settings import Settings

MARKER: Final = "fernet:"
INFO: Final = b"atexpert x-tokens v1"


class SealBroken(Conflict):
    """A sealed value no configured key opens (the secret key changed); HTTP 409."""

    code = "undecryptable"


def fernet_key(secret: str) -> bytes:
    """The Fernet key that ``secret`` derives."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode("utf-8")))


@dataclass(frozen=True, slots=True)
class Opened:
    value: str
    #: Clear text or sealed with a previous key: to be written again, sealed with the current.
    stale: bool


class Sealer:
    """Seals with the current secret key; opens with it or any previous one."""

    def __init__(self, current: str, previous: tuple[str, ...] = ()) -> None:
        self._current = Fernet(fernet_key(current))
        self._any = MultiFernet([self._current, *(Fernet(fernet_key(k)) for k in previous)])

    @classmethod
    def of(cls, settings: Settings) -> Sealer:
        raw = settings.secret_key_previous
        previous = raw.get_secret_value().split(",") if raw is not None else []
        current = settings.secret_key.get_secret_value()
        return cls(current, tuple(k.strip() for k in previous if k.strip()))

    def seal(self, value: str) -> str:
        return MARKER + self._current.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, stored: str, what: str) -> Opened:
        """The clear value of ``stored``; :class:`SealBroken` (naming ``what``) when no key
        opens it."""
        if not stored.startswith(MARKER):
            return Opened(stored, stale=True)
        token = stored.removeprefix(MARKER).encode("ascii")
        try:
            return Opened(self._current.decrypt(token).decode("utf-8"), stale=False)
        except InvalidToken:
            pass
        try:
            return Opened(self._any.decrypt(token).decode("utf-8"), stale=True)
        except InvalidToken:
            raise SealBroken(
                f"{what} cannot be decrypted with ATEXPERT_SECRET_KEY nor any key of "
                "ATEXPERT_SECRET_KEY_PREVIOUS: set the secret key it was written with "
                "(as a previous key), or have an admin connect the account again"
            ) from None
