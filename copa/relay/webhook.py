"""Webhook channel: a thin JSON event, signed the Standard Webhooks way, POSTed to the partner.

Thin on purpose: identifiers, the reference and the category only. The partner fetches the
referral through the partner API, which applies the resident's sharing choices at read time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from copa.outbox.channels import CannotSend, Outcome, Result, Settings, answer_outcome
from copa.outbox.channels import http as outbound
from copa.outbox.models import OutboxMessage
from copa.outbox.signing import secret_key, webhook_headers
from copa.reports.models import Report
from copa.routing.models import Partner, Referral


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    message_id: str
    body: bytes
    secrets: tuple[str, ...]

    def send(self, settings: Settings) -> Outcome:
        # Signed at send time: receivers refuse a webhook-timestamp older than a few minutes.
        headers = {
            "Content-Type": "application/json",
            **webhook_headers(self.secrets, self.message_id, int(time.time()), self.body),
        }
        try:
            answer = outbound.send(
                "POST",
                self.url,
                body=self.body,
                headers=headers,
                allow_loopback=settings.allow_loopback,
                timeout=settings.timeout,
                max_bytes=settings.max_response_bytes,
                connections=settings.connections,
            )
        except outbound.HttpFailure as error:
            return Outcome(Result.FAILED, error=str(error))
        return answer_outcome(answer)


def payload(message: OutboxMessage, referral: Referral, report: Report) -> dict:
    """The event body: {type, timestamp, data} as the Standard Webhooks spec suggests."""
    return {
        "type": message.event_type,
        "timestamp": message.created_at.isoformat(),
        "data": {
            "referral_id": str(referral.id),
            "report_id": str(report.id),
            "reference": report.reference,
            "category": report.category.code,
            "links": {"referral": f"/v1/partner/referrals/{referral.id}"},
        },
    }


def prepare(
    message: OutboxMessage, referral: Referral, report: Report, partner: Partner
) -> WebhookRequest:
    if not partner.endpoint_url:
        raise CannotSend("the partner has no endpoint URL")
    secrets = tuple(partner.webhook_secrets or ())
    if not secrets:
        raise CannotSend("the partner has no webhook signing secret")
    for secret in secrets:
        try:
            secret_key(secret)
        except ValueError as error:
            raise CannotSend(f"a webhook secret of the partner is unusable: {error}") from None
    body = json.dumps(payload(message, referral, report), separators=(",", ":")).encode()
    return WebhookRequest(partner.endpoint_url, str(message.id), body, secrets)
