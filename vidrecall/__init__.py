"""vidrecall: question answering over hour-long videos by deep memory backtracking.

This package is the roof (API, CLI, display); the layers below live in `vidrecall.core`, `.tools`,
`.memory`, `.prompts`, `.agent` and `.evaluation` (see docs/architecture.md).
"""
import sys

from vidrecall.core.config import Config, Level, load_config

__version__ = "0.1.0"
__all__ = ["Config", "Level", "load_config", "VideoQA", "ChatSession", "__version__"]


def __getattr__(name: str):
    # VideoQA pulls in torch, langgraph and friends; import it only when asked for.
    if name == "VideoQA":
        from vidrecall.api import VideoQA

        return VideoQA
    if name == "ChatSession":
        from vidrecall.session import ChatSession

        return ChatSession
    raise AttributeError(name)


def _answer_card(answer) -> str:
    from vidrecall.display.html import answer_html

    return answer_html(answer)


def _register_notebook_display() -> None:
    """In a running IPython kernel, show `Answer` as its HTML card (by name: nothing is imported now)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type_by_name("vidrecall.core.result", "Answer", _answer_card)


_register_notebook_display()
