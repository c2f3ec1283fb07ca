"""Open data: public aggregates with small counts suppressed and no personal data."""
