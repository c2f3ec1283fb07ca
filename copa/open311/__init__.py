"""Open311 GeoReport v2 (inbound): civic reporting clients such as FixMyStreet submit and follow reports."""
