"""Captioners turn sampled frames plus an instruction into text. See base.Captioner."""
from vidrecall.tools.captioners.base import Captioner, CaptionerError
from vidrecall.tools.captioners.factory import make_captioner

__all__ = ["Captioner", "CaptionerError", "make_captioner"]
