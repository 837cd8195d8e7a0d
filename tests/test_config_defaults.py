"""`Config()` is the offline profile, not an unnamed fourth one: every setting equal to offline.yaml's."""
from __future__ import annotations

import dataclasses

from vidrecall.core.config import Config, load_config

# Settings whose offline value is chosen by their owners separately (speech needs the packaged model).
NOT_COMPARED = {"speech"}


def test_config_defaults_equal_the_offline_profile() -> None:
    default, offline = Config(), load_config("offline")
    differ = {f.name: (getattr(default, f.name), getattr(offline, f.name)) for f in dataclasses.fields(Config)
              if f.name not in NOT_COMPARED and getattr(default, f.name) != getattr(offline, f.name)}
    assert not differ, f"Config() differs from offline.yaml in {differ}"
    assert default.profile == "offline" and default.levels == offline.levels and default.budgets == offline.budgets
