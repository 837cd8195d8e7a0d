"""What one `vidrecall serve` is started with, checked before anything binds or loads."""
from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_UPLOAD_LIMIT = 2 << 30  # bytes: an hour of 720p H.264 is ~1-2 GB
UPLOADS_DIR = "uploads"
MEDIA_IDENTITY_FILE = "web_media.json"  # what each served video file was when first checked (size, mtime, samples)


class SettingsError(ValueError):
    """A serve setting that cannot work (one line naming the value and the fix)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    store: Path
    profile: str = "offline"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow: tuple[Path, ...] = ()  # folders whose videos may be added by path (uploads always may)
    token: str | None = None  # required on every request when set; always set off loopback
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    index_levels: tuple[str, ...] = ("coarse",)
    # Builds the one VideoQA of the server (tests pass scripted doubles); default: VideoQA(profile, store).
    qa_factory: Callable[[], Any] | None = field(default=None, compare=False)

    @property
    def uploads(self) -> Path:
        return self.store / UPLOADS_DIR

    @property
    def readable_roots(self) -> tuple[Path, ...]:
        """The folders whose files the server may read: the --allow folders and the uploads folder."""
        return (*self.allow, self.uploads)

    @property
    def media_identity(self) -> Path:
        return self.store / MEDIA_IDENTITY_FILE

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def checked(self) -> "ServeSettings":
        """Absolute folders that exist, a valid port, and a token whenever the host is not loopback."""
        if not 0 < int(self.port) < 65536:
            raise SettingsError(f"--port {self.port}: give a port between 1 and 65535")
        if self.upload_limit <= 0:
            raise SettingsError(f"upload limit {self.upload_limit}: must be a positive number of bytes")
        allow = []
        for root in self.allow:
            path = Path(root).expanduser()
            if not path.is_dir():
                raise SettingsError(f"--allow {root}: no such folder")
            allow.append(path.resolve())
        token = self.token
        if token is not None and len(token) < 16:
            raise SettingsError("--token is too short: use at least 16 characters (or omit it to get one generated)")
        if token is None and not is_loopback(self.host):
            token = secrets.token_urlsafe(24)
        store = Path(self.store).expanduser().resolve()
        store.mkdir(parents=True, exist_ok=True)
        return replace(self, store=store, allow=tuple(allow), token=token, port=int(self.port))
