from __future__ import annotations

from flask.views import MethodView

from copa.notifications import schemas, service
from copa.web.access import Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.pagination import PageQuery

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/v1/me",
    description="What a resident is told: the inbox, push token and notification preferences.",
)


@blp.route("/notifications")
class Inbox(MethodView):
    @requires(Role.RESIDENT)
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, schemas.InboxOut)
    def get(self, query):
        """The resident's notifications, newest first, with how many are unread.

        Works with no push at all: every update is here as soon as it happens.
        """
        return service.inbox(current_principal(), query["page"], query["page_size"])


@blp.route("/notifications/read")
class InboxRead(MethodView):
    @requires(Role.RESIDENT)
    @blp.arguments(schemas.MarkReadIn)
    @blp.response(200, schemas.MarkReadOut)
    def post(self, payload):
        """Mark notifications read: `{"ids": [...]}` or `{"all": true}`. Repeating is harmless."""
        return service.mark_read(current_principal(), payload)


@blp.route("/push-token")
class PushToken(MethodView):
    @requires(Role.RESIDENT)
    @blp.arguments(schemas.PushTokenIn)
    @blp.response(200, schemas.PushTokenOut)
    def put(self, payload):
        """Set this install's push token (FCM registration token, or APNs device token on iOS).

        A new token replaces the old one. The token is never shown again.
        """
        return service.set_push_token(current_principal(), payload)

    @requires(Role.RESIDENT)
    @blp.response(204)
    def delete(self):
        """No more pushes to this install; the inbox (and email, if chosen) still work."""
        service.delete_push_token(current_principal())


@blp.route("/notification-preferences")
class Preferences(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(200, schemas.PreferencesOut)
    def get(self):
        """Push and email on or off, quiet hours (Europe/London) and language."""
        return service.get_preferences(current_principal())

    @requires(Role.RESIDENT)
    @blp.arguments(schemas.PreferencesIn)
    @blp.response(200, schemas.PreferencesOut)
    def patch(self, changes):
        """Change any of push, email, quiet hours (null: none) and language."""
        return service.update_preferences(current_principal(), changes)
