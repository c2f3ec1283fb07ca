"""The force's 101 call statistics, imported by staff per quarter (DOMAIN.md "Demand reduction")."""
