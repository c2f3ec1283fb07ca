"""What residents are told: events become inbox rows and outbox messages (push, email) in the
same transaction as the change they announce; preferences and push tokens. Below reports and
feedback, which call notify(); two-way messages are their own feature (copa.messages)."""
