"""The relay (``flask copa relay``): delivers outbox messages, referrals to partners over their
channels (webhook, Open311, email) and notifications to residents over the channels registered
in the outbox. Above routing, since it reads and updates referrals and their reports."""
