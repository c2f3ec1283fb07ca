"""Report categories and their extra questions (Open311 attribute form)."""
