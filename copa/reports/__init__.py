"""Residents' non-emergency reports, their photos and their timeline."""
