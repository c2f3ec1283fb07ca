"""The relay's settings, read once per run from the application's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from copa.outbox.channels import Settings
from copa.settings import settings


@dataclass(frozen=True)
class RelaySettings:
    schedule: tuple[float, ...]
    jitter: float
    lease: timedelta
    batch_size: int
    poll_seconds: float
    channels: Settings

    @classmethod
    def from_app(cls) -> RelaySettings:
        config = settings()
        channels = Settings.from_app()
        schedule = config.relay_retry_schedule
        if not schedule or any(s < 0 for s in schedule):
            raise ValueError("RELAY_RETRY_SCHEDULE must be a non-empty list of seconds")
        # A lease must outlast one delivery (the relay renews a batch's leases before a send
        # that could outlast them): the whole-request timeout and a margin, whatever was set.
        lease = max(config.relay_lease_seconds, channels.timeout + 1.0)
        return cls(
            schedule=schedule,
            jitter=max(0.0, config.relay_jitter),
            lease=timedelta(seconds=lease),
            batch_size=max(1, config.relay_batch_size),
            poll_seconds=max(0.0, config.relay_poll_seconds),
            channels=channels,
        )
