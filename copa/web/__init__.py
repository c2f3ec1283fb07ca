"""HTTP plumbing shared by features: problem+json errors, access policies, idempotency."""
