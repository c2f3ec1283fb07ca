"""Compliments, suggestions and expressions of dissatisfaction (complaints)."""
