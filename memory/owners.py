"""Who holds a lease or a temporary file: `host:pid:random` owner strings, and whether their process is gone.

A holder on another machine is never judged dead (its pid means nothing here); one on this machine is dead
when its pid no longer exists (killed, crashed)."""
from __future__ import annotations

import os
import socket
import uuid

HOST = socket.gethostname()


def new_owner() -> str:
    """host:pid:random -- the random part tells two holders of one process apart."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str) -> bool:
    """True when `owner` ran on this machine and its process is gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
