"""The token-signing key: from configuration or a key file of mode 0600, never from the database.

Anyone who holds the key can sign tokens, so it lives apart from the data: ``Settings.secret_key``
(``$GREENWAVE_SECRET_KEY``), else the file ``Settings.secret_key_file`` (``$GREENWAVE_SECRET_KEY_FILE``),
else ``<database file>.key`` beside an SQLite database, else ``secret.key`` in the user's configuration
folder (``$XDG_CONFIG_HOME/greenwave`` or ``~/.config/greenwave``; PostgreSQL, in-memory SQLite).
A missing file is created with a new random key, readable by its owner only; a file others may read
is refused rather than trusted.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from api.settings import SECRET_KEY_ENV, SECRET_KEY_FILE_ENV, Settings
from traffic.errors import TrafficError

MIN_KEY_CHARS = 32


def sqlite_file(db_url: str) -> Path | None:
    """The database file of an SQLite URL; None for other databases and in-memory SQLite."""
    try:
        url = make_url(db_url)
    except Exception:  # not a URL: the engine factory reports it
        return None
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    return Path(url.database)


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "greenwave"


def key_file_path(settings: Settings) -> Path:
    """Where the key file of these settings is (it may not exist yet)."""
    if settings.secret_key_file:
        return Path(settings.secret_key_file).expanduser()
    db_file = sqlite_file(settings.db_url)
    if db_file is not None:
        return db_file.with_name(db_file.name + ".key")
    return config_dir() / "secret.key"


def load_signing_key(settings: Settings) -> str:
    """The key, read from the settings or the key file (created 0600 with a new random key when missing)."""
    if settings.secret_key is not None:
        if len(settings.secret_key) < MIN_KEY_CHARS:
            raise TrafficError(f"${SECRET_KEY_ENV} must have at least {MIN_KEY_CHARS} characters")
        return settings.secret_key
    path = key_file_path(settings)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    except OSError as exc:
        raise TrafficError(f"cannot create the token-signing key file {path} ({exc.strerror}); "
                           f"name another with ${SECRET_KEY_FILE_ENV}") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _read(path: Path) -> str:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise TrafficError(f"token-signing key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise TrafficError(f"token-signing key file {path} may be read by others (mode "
                               f"{stat.S_IMODE(info.st_mode):04o}): make it 0600 (chmod 600) or replace it")
        key = path.read_text().strip()
    except OSError as exc:
        raise TrafficError(f"cannot read the token-signing key file {path} ({exc.strerror})") from None
    if len(key) < MIN_KEY_CHARS:
        raise TrafficError(f"token-signing key file {path} holds fewer than {MIN_KEY_CHARS} characters")
    return key
