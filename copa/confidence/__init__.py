"""The Commissioner's public-confidence counter: app votes and event tallies."""
