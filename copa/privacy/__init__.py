"""The resident's own data across all features: /v1/me, erasure, a new phone, retention."""
