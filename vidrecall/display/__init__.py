"""The display layer: HTML cards and views for Jupyter, the live notebook/terminal progress, timelines, thumbnails."""
from vidrecall.display.html import (HtmlView, answer_html, compare_html, enable_rich_display, failures_html, memory_html,
                                    search_html, table_html, view)

__all__ = ["HtmlView", "answer_html", "compare_html", "enable_rich_display", "failures_html", "memory_html",
           "search_html", "table_html", "view"]
