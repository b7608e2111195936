"""Widgets written once and used by every tab."""
