"""Fake FCM and APNs on 127.0.0.1, speaking their documented wire formats, for push tests.

``FakeFcm``: the FCM HTTP v1 send endpoint (``/v1/projects/{id}/messages:send``) and the
service account's OAuth2 token endpoint (``/token``: the JWT-bearer grant, the assertion checked
against the service account's public key, ``access_token`` and ``expires_in`` back). It makes
its own throwaway RSA service account; ``service_account_file(dir)`` writes the JSON.

``FakeApns``: ``/3/device/{token}`` over HTTP/2 on TLS (ALPN h2), with a test CA and a
certificate for 127.0.0.1 made on the spot; the provider token (ES256, kid, iss) is checked
against the key ``key_file(dir)`` writes. ``trust()`` is what the relay must verify with
(replace ``copa.outbox.channels.http.tls_context`` with it).

Both record every request in order (``received``) and answer success unless a test scripted
answers first: ``fake.script(FcmAnswer.unavailable(), FcmAnswer.ok())``. Everything listens on
127.0.0.1 only; use them as context managers::

    with FakeFcm() as fcm:
        app.config["FCM_CREDENTIALS_FILE"] = str(fcm.service_account_file(tmp_path))
        app.config["FCM_URL"] = fcm.url
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


# --- FCM ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FcmAnswer:
    status: int = 200
    error_code: str | None = None  # FcmError errorCode
    status_text: str | None = None  # google.rpc status
    message: str = ""
    retry_after: str | None = None

    @classmethod
    def ok(cls) -> FcmAnswer:
        return cls()

    @classmethod
    def unavailable(cls, retry_after: str | None = None) -> FcmAnswer:
        return cls(
            503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.", retry_after
        )

    @classmethod
    def internal(cls) -> FcmAnswer:
        return cls(500, "INTERNAL", "INTERNAL", "Internal error encountered.")

    @classmethod
    def quota_exceeded(cls, retry_after: str | None = "60") -> FcmAnswer:
        return cls(
            429,
            "QUOTA_EXCEEDED",
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Send requests'.",
            retry_after,
        )

    @classmethod
    def unregistered(cls) -> FcmAnswer:
        return cls(404, "UNREGISTERED", "NOT_FOUND", "Requested entity was not found.")

    @classmethod
    def invalid_token(cls) -> FcmAnswer:
        return cls(
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        )

    @classmethod
    def sender_id_mismatch(cls) -> FcmAnswer:
        return cls(403, "SENDER_ID_MISMATCH", "PERMISSION_DENIED", "SenderId mismatch")

    def body(self, project_id: str) -> bytes:
        if self.status == 200:
            return json.dumps(
                {"name": f"projects/{project_id}/messages/{secrets.token_hex(8)}"}
            ).encode()
        details = (
            [{"@type": FCM_ERROR_TYPE, "errorCode": self.error_code}] if self.error_code else []
        )
        return json.dumps(
            {
                "error": {
                    "code": self.status,
                    "message": self.message,
                    "status": self.status_text or "UNKNOWN",
                    "details": details,
                }
            }
        ).encode()


@dataclass
class FcmReceived:
    """One send request as FCM saw it, and what it answered."""

    project_id: str
    authorization: str
    message: dict  # the HTTP v1 "message" object
    status: int = 0

    @property
    def token(self) -> str:
        return self.message.get("token", "")

    @property
    def visible(self) -> dict:
        """What a lock screen shows: the notification's title and body."""
        return self.message.get("notification") or {}

    @property
    def data(self) -> dict:
        return self.message.get("data") or {}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        pass  # a relay killed mid-request is part of the tests


class FakeFcm:
    """FCM HTTP v1 and its OAuth2 token endpoint on 127.0.0.1 (plain HTTP)."""

    def __init__(self, project_id: str = "copa-test") -> None:
        self.project_id = project_id
        self.client_email = f"copa-relay@{project_id}.iam.gserviceaccount.com"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)
        self.received: list[FcmReceived] = []
        self.token_requests: list[int] = []  # the status of each answer of the token endpoint
        self.access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.expires_in = 3599
        self._script: deque[FcmAnswer] = deque()
        # Called with each send before it is answered (outside the lock): a test may hold it.
        self.on_send: Callable[[FcmReceived], None] | None = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends do
            disable_nagle_algorithm = True  # headers and body are separate writes

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == "/token":
                    status, reply, headers = fake._token(self.headers, body)
                else:
                    status, reply, headers = fake._send(self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- set-up ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account_file(self, directory: Path, *, unknown_key: bool = False) -> Path:
        """The service-account JSON the relay reads (COPA_FCM_CREDENTIALS_FILE); with
        ``unknown_key`` its private key is one this FCM does not know (a revoked key)."""
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if unknown_key
            else self.key
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path = Path(directory) / f"service-account-{secrets.token_hex(4)}.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": self.project_id,
                    "private_key_id": self.key_id,
                    "private_key": pem,
                    "client_email": self.client_email,
                    "client_id": "100000000000000000001",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": self.token_uri,
                    "universe_domain": "googleapis.com",
                }
            )
        )
        path.chmod(0o600)
        return path

    def script(self, *answers: FcmAnswer) -> None:
        """Answer the next sends with these, in order; then success again."""
        with self.lock:
            self._script.extend(answers)

    @property
    def delivered(self) -> list[FcmReceived]:
        with self.lock:
            return [r for r in self.received if r.status == 200]

    def __enter__(self) -> FakeFcm:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- the endpoints ---------------------------------------------------------------------

    def _token(self, headers, body: bytes) -> tuple[int, bytes, dict]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        status, reply = 200, None
        if form.get("grant_type") != JWT_BEARER:
            status, reply = (
                400,
                {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."},
            )
        else:
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self.key.public_key(),
                    algorithms=["RS256"],
                    # google-auth addresses its assertion to Google's token endpoint, whatever
                    # the token_uri: that is the audience Google checks.
                    audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri],
                    issuer=self.client_email,
                    options={"require": ["exp", "iat", "aud", "iss"]},
                )
                if FCM_SCOPE not in str(claims.get("scope", "")).split():
                    raise jwt.InvalidTokenError("scope")
            except jwt.PyJWTError:
                status, reply = (
                    400,
                    {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                )
        if status == 200:
            token = "ya29." + secrets.token_urlsafe(32)
            with self.lock:
                self.access_tokens[token] = time.time() + self.expires_in
            reply = {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        with self.lock:
            self.token_requests.append(status)
        return status, json.dumps(reply).encode(), {}

    def _send(self, path: str, headers, body: bytes) -> tuple[int, bytes, dict]:
        found = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", path)
        authorization = headers.get("Authorization") or ""
        try:
            message = json.loads(body or b"{}").get("message") or {}
        except (ValueError, AttributeError):
            message = {}
        record = FcmReceived(found.group(1) if found else "", authorization, message)
        if self.on_send is not None:
            self.on_send(record)
        with self.lock:
            self.received.append(record)
            bearer = authorization.removeprefix("Bearer ")
            authorised = self.access_tokens.get(bearer, 0) > time.time()
            answer = None
            if found is None:
                answer = FcmAnswer(404, None, "NOT_FOUND", "Not found.")
            elif not authorised:
                answer = FcmAnswer(
                    401,
                    None,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                )
            elif found.group(1) != self.project_id:
                answer = FcmAnswer(403, None, "PERMISSION_DENIED", "Permission denied.")
            elif not _valid_fcm_message(message):
                answer = FcmAnswer(400, None, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            elif self._script:
                answer = self._script.popleft()
            answer = answer or FcmAnswer.ok()
            record.status = answer.status
        extra = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        return answer.status, answer.body(self.project_id), extra


def _valid_fcm_message(message: dict) -> bool:
    notification = message.get("notification") or {}
    data = message.get("data") or {}
    return (
        isinstance(message.get("token"), str)
        and isinstance(notification.get("title"), str)
        and isinstance(notification.get("body"), str)
        and all(isinstance(v, str) for v in data.values())
    )


# --- APNs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApnsAnswer:
    status: int = 200
    reason: str | None = None
    retry_after: str | None = None

    @classmethod
    def ok(cls) -> ApnsAnswer:
        return cls()

    @classmethod
    def unregistered(cls) -> ApnsAnswer:
        return cls(410, "Unregistered")

    @classmethod
    def bad_device_token(cls) -> ApnsAnswer:
        return cls(400, "BadDeviceToken")

    @classmethod
    def too_many_requests(cls, retry_after: str | None = "60") -> ApnsAnswer:
        return cls(429, "TooManyRequests", retry_after)

    @classmethod
    def unavailable(cls) -> ApnsAnswer:
        return cls(503, "ServiceUnavailable")

    @classmethod
    def expired_provider_token(cls) -> ApnsAnswer:
        return cls(403, "ExpiredProviderToken")


@dataclass
class ApnsReceived:
    token: str
    headers: dict[str, str]
    payload: dict
    status: int = 0

    @property
    def visible(self) -> dict:
        """What a lock screen shows: the alert's title and body."""
        return (self.payload.get("aps") or {}).get("alert") or {}

    @property
    def data(self) -> dict:
        return {k: v for k, v in self.payload.items() if k != "aps"}


class FakeApns:
    """APNs' provider API over HTTP/2 and TLS on 127.0.0.1."""

    def __init__(
        self, *, key_id: str = "ABC123DEFG", team_id: str = "DEF123GHIJ", topic: str = "uk.copa.app"
    ) -> None:
        self.key_id, self.team_id, self.topic = key_id, team_id, topic
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.received: list[ApnsReceived] = []
        self.connections = 0
        self._script: deque[ApnsAnswer] = deque()
        self.lock = threading.Lock()
        self._ca_pem, cert_pem, key_pem = _test_certificates()
        self._directory = Path(_tempdir())
        (self._directory / "server.pem").write_bytes(cert_pem)
        (self._directory / "server.key").write_bytes(key_pem)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(self._directory / "server.pem", self._directory / "server.key")
        self._tls.set_alpn_protocols(["h2"])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = []
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}"

    def key_file(self, directory: Path, *, unknown_key: bool = False) -> Path:
        """The team's .p8 auth key (COPA_APNS_KEY_FILE); with ``unknown_key`` one Apple does not
        know (a revoked key)."""
        key = ec.generate_private_key(ec.SECP256R1()) if unknown_key else self.key
        path = Path(directory) / f"AuthKey_{self.key_id}_{secrets.token_hex(3)}.p8"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        return path

    def trust(self) -> ssl.SSLContext:
        """A client context trusting only this fake's test CA."""
        return ssl.create_default_context(cadata=self._ca_pem.decode())

    def script(self, *answers: ApnsAnswer) -> None:
        with self.lock:
            self._script.extend(answers)

    @property
    def delivered(self) -> list[ApnsReceived]:
        with self.lock:
            return [r for r in self.received if r.status == 200]

    def __enter__(self) -> FakeApns:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        with contextlib.suppress(OSError):
            self._listener.close()
        with self.lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self.thread.join(timeout=5)
        import shutil

        shutil.rmtree(self._directory, ignore_errors=True)

    # -- the server --------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(10)
            sock = self._tls.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with self.lock:
            self._sockets.append(sock)
            self.connections += 1
        if sock.selected_alpn_protocol() != "h2":
            sock.close()  # APNs speaks HTTP/2 only
            return
        connection = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        connection.initiate_connection()
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        try:
            sock.sendall(connection.data_to_send())
            while not self._stopping.is_set():
                data = sock.recv(65536)
                if not data:
                    break
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (dict(event.headers), bytearray())
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        connection.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        status, reply_headers, reply = self._answer(headers, bytes(body))
                        connection.send_headers(
                            event.stream_id,
                            [(":status", str(status)), *reply_headers.items()],
                            end_stream=not reply,
                        )
                        if reply:
                            connection.send_data(event.stream_id, reply, end_stream=True)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                sock.sendall(connection.data_to_send())
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def _answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        path = headers.get(":path", "")
        found = re.fullmatch(r"/3/device/([^/]+)", path)
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        record = ApnsReceived(found.group(1) if found else "", dict(headers), payload)
        with self.lock:
            self.received.append(record)
            answer = self._check(headers, found, payload) or (
                self._script.popleft() if self._script else ApnsAnswer.ok()
            )
            record.status = answer.status
        reply_headers = {"apns-id": apns_id}
        if answer.retry_after:
            reply_headers["retry-after"] = answer.retry_after
        if answer.status == 200:
            return 200, reply_headers, b""
        error: dict = {"reason": answer.reason or "InternalServerError"}
        if answer.status == 410:
            error["timestamp"] = int(time.time() * 1000)
        reply = json.dumps(error).encode()
        reply_headers.update(
            {"content-type": "application/json", "content-length": str(len(reply))}
        )
        return answer.status, reply_headers, reply

    def _check(self, headers: dict[str, str], found, payload: dict) -> ApnsAnswer | None:
        """Apple's own refusals, before any scripted answer."""
        if headers.get(":method") != "POST":
            return ApnsAnswer(405, "MethodNotAllowed")
        if found is None:
            return ApnsAnswer(404, "BadPath")
        authorization = headers.get("authorization", "")
        if not authorization.startswith("bearer "):
            return ApnsAnswer(403, "MissingProviderToken")
        token = authorization.removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.key.public_key(), algorithms=["ES256"])
        except jwt.PyJWTError:
            return ApnsAnswer(403, "InvalidProviderToken")
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return ApnsAnswer(403, "InvalidProviderToken")
        if not isinstance(claims.get("iat"), int) or claims["iat"] < time.time() - 3600:
            return ApnsAnswer(403, "ExpiredProviderToken")
        if headers.get("apns-topic") != self.topic:
            return ApnsAnswer(400, "TopicDisallowed")
        if headers.get("apns-push-type") != "alert":
            return ApnsAnswer(400, "InvalidPushType")
        try:
            uuid.UUID(headers.get("apns-id", ""))
        except ValueError:
            return ApnsAnswer(400, "BadMessageId")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", found.group(1)):
            return ApnsAnswer(400, "BadDeviceToken")
        if not isinstance((payload.get("aps") or {}).get("alert"), dict):
            return ApnsAnswer(400, "PayloadEmpty")
        return None


def _tempdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="fake-apns-")


def _test_certificates() -> tuple[bytes, bytes, bytes]:
    """A throwaway CA, and a server certificate it signed for 127.0.0.1 (PEM: CA, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake APNs test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


# --- residents to push to -----------------------------------------------------------------

DESCRIPTION = "Dumped fridge outside 14 Acacia Avenue, my neighbour Jane Doe saw who did it"
ADDRESS = "14 Acacia Avenue, Middlesbrough TS1 2AB"
CONTACT_NAME = "Margaret Thistlewood"
PUBLIC_NOTE = "Our crew found the fridge behind the garage of number 14"


def fcm_token() -> str:
    """A registration token shaped like FCM's."""
    return f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"


def apns_token() -> str:
    """A device token as APNs issues it: 32 bytes, hex."""
    return secrets.token_hex(32)


@dataclass
class Resident:
    device_id: uuid.UUID
    report_id: uuid.UUID
    reference: str
    token: str = field(repr=False)


def resident_with_report(*, platform: str = "android", token: str | None = None) -> Resident:
    """An app install with a push token and a report full of personal details (committed)."""
    import sqlalchemy as sa

    from copa.auth.models import Device
    from copa.catalog.models import Category
    from copa.catalog.service import ensure_seed_categories
    from copa.contacts.models import Contact
    from copa.db import db, write
    from copa.notifications.models import PushToken
    from copa.references import next_reference
    from copa.reports.models import Report, ReportStatus

    ensure_seed_categories()
    with write():
        device = Device(id=uuid.uuid4(), platform=platform, app_version="1.0.0")
        contact = Contact(
            id=uuid.uuid4(), device_id=device.id, name=CONTACT_NAME, email="m.t@example.org"
        )
        report = Report(
            id=uuid.uuid4(),
            reference=next_reference(),
            category=db.session.scalar(sa.select(Category).where(Category.code == "fly_tipping")),
            description=DESCRIPTION,
            lat=54.5762,
            lon=-1.2348,
            address_text=ADDRESS,
            answers={},
            status=ReportStatus.ROUTED,
            destination_kind="council",
            destination_name="Middlesbrough Council",
            device_id=device.id,
            contact=contact,
        )
        token = token or (apns_token() if platform == "ios" else fcm_token())
        push = PushToken(id=uuid.uuid4(), device_id=device.id, platform=platform, token=token)
        db.session.add_all([device, contact, report])
        db.session.flush()
        db.session.add(push)
    return Resident(device.id, report.id, report.reference, token)


def notify_resident(
    resident: Resident, event: str = "report.in_progress", note: str | None = PUBLIC_NOTE
):
    """Tell the resident about their report (committed, as the use case announcing it would);
    the outbox message ids written, push first."""
    import sqlalchemy as sa

    from copa.db import db, write
    from copa.notifications.service import notify
    from copa.outbox.models import OutboxMessage
    from copa.reports.models import Report

    with write():
        report = db.session.get(Report, resident.report_id)
        notification = notify(event, report=report, note=note)
    return list(
        db.session.scalars(
            sa.select(OutboxMessage.id).where(OutboxMessage.notification_id == notification.id)
        )
    )
