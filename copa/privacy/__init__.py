"""The resident's own data: contact details kept apart from submissions, /v1/me, erasure, retention."""
