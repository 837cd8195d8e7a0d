"""Tools: video access, captioners (frames -> text) and LLM backbones."""
