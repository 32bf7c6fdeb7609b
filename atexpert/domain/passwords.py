"""The password policy for new and changed passwords (OWASP ASVS 2.1): pure rules.

At least :data:`MIN_LENGTH` characters (passphrases welcome, up to :data:`MAX_LENGTH`), not
one of the common passwords shipped beside this module (``common-passwords.txt.gz``, with
its licence), compared case-insensitively, not a run of a few characters repeated (twelve
spaces, ``abababababab``), and not containing the username. Only new passwords are
checked: an existing one keeps working until it is changed.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files

from atexpert.domain.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256
#: Fewer different characters than this is a repetition, not a password (case-insensitive).
MIN_DISTINCT = 5
#: Shorter usernames are not looked for in the password (any word may contain "jo").
MIN_USERNAME_SEARCHED = 3


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower-case), read once."""
    raw = files(__package__ or "atexpert.domain").joinpath("common-passwords.txt.gz")
    text = gzip.decompress(raw.read_bytes()).decode("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def password_problem(password: str, username: str) -> str | None:
    """Why ``password`` can't be the new password of ``username``; None when it can."""
    if len(password) < MIN_LENGTH:
        return f"a password has at least {MIN_LENGTH} characters (a passphrase is welcome)"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered.strip() in common_passwords():
        return "this password is on a list of common passwords: choose another one"
    if len(set(lowered)) < MIN_DISTINCT:
        return f"a password has at least {MIN_DISTINCT} different characters"
    name = username.strip().lower()
    if len(name) >= MIN_USERNAME_SEARCHED and name in lowered:
        return "a password must not contain the username"
    return None


def check_new_password(password: str, username: str, *, field: str = "password") -> None:
    """Raise :class:`InvalidInput` on ``field`` when ``password`` breaks the policy."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput.field((field,), problem)
