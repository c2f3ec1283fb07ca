"""Devices, users, tokens, refresh rotation and revocation."""
