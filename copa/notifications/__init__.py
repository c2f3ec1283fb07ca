"""What residents are told: events become inbox rows and outbox messages (push, email) in the
same transaction as the change they announce; preferences, push tokens, and two-way messages
between OPCC staff and residents."""
