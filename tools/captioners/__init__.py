"""Captioners turn sampled frames plus an instruction into text. See base.Captioner."""
from vidrecall.tools.captioners.base import Captioner

__all__ = ["Captioner"]
