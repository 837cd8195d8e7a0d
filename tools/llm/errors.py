"""The one error a backbone raises when it cannot be built or reached (its own module, so the server and
file modules can raise it without importing the preflight checks that import them)."""
from __future__ import annotations


class BackboneError(RuntimeError):
    """A backbone model cannot be built or reached; the message is one line and names the fix."""
