"""Placeholder."""

PATCHES = []
