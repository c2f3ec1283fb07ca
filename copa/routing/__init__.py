"""Partners and, as the routing issue grows it, rules, referrals and destinations."""
