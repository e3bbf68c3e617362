"""What a user name and a password must be, for every account created or changed (API and CLI alike)."""

from __future__ import annotations

import itertools
import re

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
MIN_DISTINCT_CHARS = 5
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
# names the service itself writes as audit actors
RESERVED_NAMES = frozenset({"cli", "scenario", "anonymous", "system", "test"})
# the start of the most used passwords (compared without case, digits and punctuation around them)
COMMON = frozenset({
    "password", "passw0rd", "passwort", "motdepasse", "qwerty", "qwertyuiop", "qwertz", "azerty", "asdfgh",
    "asdfghjkl", "zxcvbnm", "letmein", "welcome", "admin", "administrator", "root", "changeme", "iloveyou",
    "monkey", "dragon", "football", "baseball", "sunshine", "princess", "trustno", "secret", "greenwave",
    "traffic", "default", "master", "login", "abc", "test", "guest", "user", "operator", "engineer", "viewer",
})


def user_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user name, or None when it can."""
    if not name:
        return "the user name must not be empty"
    if not USER_NAME.fullmatch(name):
        return (f"user name {name[:80]!r}: 1 to 64 characters, letters, digits, '_', '.' or '-', "
                "starting with a letter or digit")
    if name.lower() in RESERVED_NAMES:
        return f"user name {name!r} is reserved"
    return None


def password_problem(password: str, name: str = "") -> str | None:
    """Why ``password`` is too weak (for user ``name``), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"the password must have at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"the password must have at most {MAX_PASSWORD_CHARS} characters"
    if len(set(password)) < MIN_DISTINCT_CHARS:
        return f"the password must have at least {MIN_DISTINCT_CHARS} different characters"
    if _is_sequence(password):
        return "the password must not be a run of consecutive characters"
    core = re.sub(r"[^a-z]", "", password.lower())
    if name and core and core in {re.sub(r"[^a-z]", "", name.lower()) * k for k in (1, 2, 3)}:
        return "the password must not be the user name"
    if core in COMMON or any(core == word * k for word in COMMON for k in (2, 3)):
        return "the password is a commonly used one"
    return None


def _is_sequence(text: str) -> bool:
    """``abcdef...``, ``987654...``, ``1234567890...`` (digits wrap around)."""
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    if text.isdigit():
        steps = {d % 10 for d in steps}
        return len(steps) == 1 and steps <= {0, 1, 9}
    return len(steps) == 1 and steps <= {-1, 0, 1}
