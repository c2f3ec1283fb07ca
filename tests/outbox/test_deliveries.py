"""Staff's view of deliveries: the dead letters with their attempts, and sending one again."""

from __future__ import annotations

import uuid

import pytest

from copa.db import db
from copa.outbox import service
from copa.outbox.models import MessageState
from copa.outbox.signing import new_secret
from copa.relay.service import run_relay
from copa.routing.models import Channel
from copa.web.access import Principal, Role
from copa.web.problems import Problem
from tests.outbox.support import (
    Receiver,
    Reply,
    attempts_of,
    make_partner,
    make_referrals,
    messages_of,
    relay_until_settled,
    use_fast_relay,
)

# The member of staff who presses "retry" (the service records who did it).
STAFF = Principal("user", uuid.uuid4(), frozenset({Role.REVIEWER}), uuid.uuid4())


@pytest.fixture(autouse=True)
def _fast_relay(monkeypatch, app):
    use_fast_relay(monkeypatch, app)


class Switchable:
    """A partner endpoint that fails until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False

    def __call__(self, request) -> Reply:
        return Reply(200) if self.fixed else Reply(500, body=b"down for maintenance")


def dead_message(receiver):
    partner = make_partner(
        channel=Channel.WEBHOOK,
        endpoint_url=receiver.url + "/hooks",
        webhook_secrets=[new_secret()],
    )
    make_referrals(partner)
    relay_until_settled()
    (message,) = messages_of(partner.id)
    assert message.state == MessageState.DEAD
    return message


def test_dead_letters_are_listed_with_every_attempt(app):
    with Receiver(Switchable()) as receiver, app.app_context():
        message = dead_message(receiver)
        page = service.list_deliveries("dead", page=1, page_size=20)
        everything = service.list_deliveries(None, page=1, page_size=20)
        delivered = service.list_deliveries("delivered", page=1, page_size=20)

    assert page.total == 1 and [m.id for m in page.items] == [message.id]
    (listed,) = page.items
    assert len(listed.attempt_log) == 10  # loaded with the page, readable after the session
    assert listed.attempt_log[-1].outcome == "dead"
    assert listed.attempt_log[-1].error == "500: down for maintenance"
    assert everything.total == 1
    assert delivered.total == 0 and delivered.items == []


def test_an_unknown_state_filter_is_a_field_problem(app):
    with app.app_context(), pytest.raises(Problem) as raised:
        service.list_deliveries("lost", page=1, page_size=20)
    assert raised.value.status == 422 and "state" in raised.value.errors


def test_retrying_a_dead_letter_after_the_partner_is_fixed_delivers_it(app):
    endpoint = Switchable()
    with Receiver(endpoint) as receiver, app.app_context():
        message = dead_message(receiver)
        endpoint.fixed = True

        retried = service.retry_delivery(STAFF, message.id)
        assert (retried.state, retried.attempts) == (MessageState.PENDING, 0)
        assert len(retried.attempt_log) == 10  # the history stays

        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(message.partner_id)
        attempts = attempts_of(message.id)

    assert message.state == MessageState.DELIVERED
    assert [a.outcome for a in attempts] == ["retry"] * 9 + ["dead", "delivered"]


def test_retrying_a_cancelled_message_sends_it_again(app):
    with Receiver(lambda request: Reply(410)) as receiver, app.app_context():
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url=receiver.url + "/hooks",
            webhook_secrets=[new_secret()],
        )
        make_referrals(partner)
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)
        assert message.state == MessageState.CANCELLED

        retried = service.retry_delivery(STAFF, message.id)

    assert retried.state == MessageState.PENDING
    assert retried.lease_owner is None


def test_a_delivered_message_cannot_be_retried(app):
    with Receiver() as receiver, app.app_context():
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url=receiver.url + "/hooks",
            webhook_secrets=[new_secret()],
        )
        make_referrals(partner)
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)

        with pytest.raises(service.AlreadyDelivered) as raised:
            service.retry_delivery(STAFF, message.id)
        db.session.rollback()

    assert raised.value.status == 409
    assert len(receiver.received) == 1


def test_retrying_an_unknown_message_is_not_found(app):
    with app.app_context(), pytest.raises(service.DeliveryNotFound) as raised:
        service.retry_delivery(STAFF, uuid.uuid4())
    assert raised.value.status == 404
