"""Renderers: turn results into text, JSON, Markdown or annotations. Pure functions."""
