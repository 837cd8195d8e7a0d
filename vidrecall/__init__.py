"""vidrecall: question answering over hour-long videos by deep memory backtracking."""
from vidrecall.config import Config, Level, load_config

__version__ = "0.1.0"
__all__ = ["Config", "Level", "load_config", "VideoQA", "__version__"]


def __getattr__(name: str):
    # VideoQA pulls in torch, langgraph and friends; import it only when asked for.
    if name == "VideoQA":
        from vidrecall.api import VideoQA

        return VideoQA
    raise AttributeError(name)
