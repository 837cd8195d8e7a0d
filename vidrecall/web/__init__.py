"""`vidrecall serve`: a local web app and HTTP API over one VideoQA (library, player, chat, memory timeline)."""
from vidrecall.web.app import create_app
from vidrecall.web.settings import ServeSettings, SettingsError

__all__ = ["ServeSettings", "SettingsError", "create_app"]
