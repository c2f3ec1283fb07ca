"""The transactional outbox: messages written with the rows they announce, delivered by a relay."""
