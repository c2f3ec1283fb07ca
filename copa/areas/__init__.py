"""Local authorities and wards of the Cleveland force area, and point-in-polygon lookup."""
