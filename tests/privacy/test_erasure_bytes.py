"""Erasure down to the bytes: after ``DELETE /v1/me`` and after ``flask copa purge`` no byte of
the resident's email, phone or name is left in any file of the instance folder (the SQLite
database with its -wal and -shm files, the mail folder, the photos). On PostgreSQL, whose files
a test cannot read, the rows are gone and the tables that held them have been vacuumed.

Each test has an instance folder and a database of its own and commits for real: the suite's
rolled-back transaction never reaches the disk.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from PIL import Image

from copa import create_app
from copa.contacts.models import Contact
from copa.db import db, utcnow
from copa.relay.service import run_relay
from copa.routing.models import Channel, Partner
from copa.web.models import IdempotencyKey
from tests.conftest import TEST_SETTINGS
from tests.factories import bearer, load_reference_data, register_device, scratch_database
from tests.outbox.support import FAST_SCHEDULE

MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
COUNCIL_MAILBOX = "fly-tipping@middlesbrough.example"
# Every table a resident's contact details, or what they wrote, could leave dead rows in.
VACUUMED = ("contact", "idempotency_key", "resident_message")


class Resident:
    """Distinctive contact details, and the forms of them a search must not find."""

    def __init__(self, tag: str) -> None:
        self.name = f"Quorna {tag.title()}-Zabriskie"
        self.email = f"Quorna.{tag.title()}@Erasure-Test.example"
        self.phone = {"erased": "07700 900731", "purged": "07700 900732"}[tag]

    @property
    def contact(self) -> dict:
        return {"name": self.name, "email": self.email, "phone": self.phone}

    @property
    def forms(self) -> dict[str, list[bytes]]:
        """Each detail as it may be written: as given, lowercased, the phone's digits alone."""
        digits = "".join(c for c in self.phone if c.isdigit())
        return {
            "name": [self.name.encode()],
            "email": [self.email.encode(), self.email.lower().encode()],
            "phone": [self.phone.encode(), digits.encode(), digits[1:].encode()],
        }


@pytest.fixture
def instance(tmp_path):
    """An application whose instance folder holds everything it writes: the SQLite database
    (or, on PostgreSQL, a database of its own), the mail folder and the photos."""
    folder = tmp_path / "instance"
    folder.mkdir()
    with scratch_database(folder, "copa") as url:
        app = create_app(
            {
                **TEST_SETTINGS,
                "DATABASE_URL": url,
                "MAIL_DIR": str(folder / "mail"),
                "PHOTO_STORAGE_DIR": str(folder / "photos"),
                "SMTP_URL": None,
                "PUBLIC_BASE_URL": "https://copa.example.org",
                "RELAY_RETRY_SCHEDULE": FAST_SCHEDULE,
            }
        )
        with app.app_context():
            upgrade()
        load_reference_data(app)
        with app.app_context():
            council = db.session.scalars(
                sa.select(Partner).where(Partner.code == "middlesbrough-council")
            ).one()
            council.channel, council.email_address = Channel.EMAIL, COUNCIL_MAILBOX
            db.session.commit()
        yield app, folder
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def a_resident_reports_and_gives_feedback(app, client, resident: Resident) -> dict:
    """A report (with a photo, contact shared with the council, email updates asked for) and a
    complaint, both with the resident's contact details; the relay then sends the emails."""
    headers = bearer(register_device(client)["access_token"])
    report = client.post(
        "/v1/reports",
        json={
            "category": "fly_tipping",
            "description": "A sofa and two mattresses dumped in the back lane.",
            "location": MIDDLESBROUGH,
            "answers": {"size": "small"},
            "contact": {**resident.contact, "notify_by_email": True},
            "share_contact_with_partner": True,
        },
        headers={**headers, "Idempotency-Key": f"report-{resident.phone}"},
    )
    assert report.status_code == 201, report.get_json()
    photo = client.post(
        f"/v1/reports/{report.get_json()['id']}/photos",
        data={"photo": (io.BytesIO(_png()), "lane.png", "image/png")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert photo.status_code == 201, photo.get_json()
    feedback = client.post(
        "/v1/feedback",
        json={
            "kind": "dissatisfaction",
            "text": "Nobody came to clear it.",
            "contact": {**resident.contact, "notify_by_email": True},
        },
        headers={**headers, "Idempotency-Key": f"feedback-{resident.phone}"},
    )
    assert feedback.status_code == 201, feedback.get_json()
    with app.app_context():
        run_relay(once=True, owner="erasure-test")
    return headers


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (90, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def files_mentioning(folder: Path, resident: Resident) -> dict[str, list[str]]:
    """For each detail, the files under ``folder`` whose bytes contain any form of it."""
    found: dict[str, list[str]] = {detail: [] for detail in resident.forms}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for detail, forms in resident.forms.items():
            if any(form in data for form in forms):
                found[detail].append(str(path.relative_to(folder)))
    return found


def database_mentions(app, resident: Resident) -> list[str]:
    """Every table and column where any form of the details still appears."""
    needles = [f.decode().lower() for forms in resident.forms.values() for f in forms]
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is not None and any(n in str(value).lower() for n in needles):
                        found.append(f"{table.name}.{column}")
        db.session.remove()
    return found


def vacuum_counts(app) -> dict[str, int]:
    """How often PostgreSQL says each table was vacuumed by hand (no superuser needed)."""
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname IN :names"
            ).bindparams(sa.bindparam("names", expanding=True)),
            {"names": list(VACUUMED)},
        )
        counts = dict(rows.all())
        db.session.remove()
    return counts


def is_sqlite(app) -> bool:
    return app.config["DATABASE_URL"].startswith("sqlite")


def assert_the_details_were_written(app, folder: Path, resident: Resident) -> None:
    """The search can see them before: in the database and in the emails that went out."""
    assert database_mentions(app, resident)
    found = files_mentioning(folder, resident)
    mail = {detail: [f for f in files if f.startswith("mail/")] for detail, files in found.items()}
    # The council's referral carries all three; the resident's own emails go to their address.
    assert all(mail.values()), found
    assert len(mail["email"]) > len(mail["name"]), found
    if is_sqlite(app):
        # As in a service that has run a while (SQLite checkpoints by itself every 1000 pages),
        # the database file itself holds them, not only the -wal file.
        with app.app_context(), db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        found = files_mentioning(folder, resident)
        assert all("copa.db" in files for files in found.values()), found


def assert_nothing_left(app, folder: Path, resident: Resident, vacuumed_before) -> None:
    assert files_mentioning(folder, resident) == {"name": [], "email": [], "phone": []}
    assert database_mentions(app, resident) == []
    if not is_sqlite(app):
        after = vacuum_counts(app)
        assert all(after[table] > vacuumed_before[table] for table in VACUUMED), after


def test_erasure_leaves_no_byte_of_the_contact_details_in_the_instance_folder(instance):
    app, folder = instance
    client = app.test_client()
    resident, neighbour = Resident("erased"), Resident("purged")
    headers = a_resident_reports_and_gives_feedback(app, client, resident)
    a_resident_reports_and_gives_feedback(app, client, neighbour)
    assert_the_details_were_written(app, folder, resident)
    vacuumed_before = None if is_sqlite(app) else vacuum_counts(app)

    assert client.delete("/v1/me", headers=headers).status_code == 204

    assert_nothing_left(app, folder, resident, vacuumed_before)
    # Only what was theirs: a neighbour's emails and details are untouched.
    assert all(files_mentioning(folder, neighbour).values())
    assert database_mentions(app, neighbour)


def test_purge_leaves_no_byte_of_expired_contact_details_in_the_instance_folder(instance):
    app, folder = instance
    client = app.test_client()
    resident, neighbour = Resident("purged"), Resident("erased")
    a_resident_reports_and_gives_feedback(app, client, resident)
    with app.app_context():
        # Everything of that submission is older than the retention now.
        long_ago = utcnow() - timedelta(days=int(app.config["CONTACT_RETENTION_DAYS"]) + 1)
        db.session.execute(sa.update(Contact).values(created_at=long_ago))
        db.session.execute(sa.update(IdempotencyKey).values(created_at=long_ago))
        db.session.commit()
    a_resident_reports_and_gives_feedback(app, client, neighbour)
    assert_the_details_were_written(app, folder, resident)
    vacuumed_before = None if is_sqlite(app) else vacuum_counts(app)

    result = app.test_cli_runner().invoke(args=["copa", "purge"])

    assert result.exit_code == 0, result.output
    assert "contact details deleted: 2" in result.output
    assert_nothing_left(app, folder, resident, vacuumed_before)
    assert all(files_mentioning(folder, neighbour).values())
    assert database_mentions(app, neighbour)


def test_purge_full_rewrites_the_tables_and_drops_mail_older_than_the_retention(instance):
    app, folder = instance
    client = app.test_client()
    a_resident_reports_and_gives_feedback(app, client, Resident("purged"))
    mail = sorted((folder / "mail").glob("*.eml"))
    old = mail[0]
    long_ago = (
        utcnow() - timedelta(days=int(app.config["CONTACT_RETENTION_DAYS"]) + 1)
    ).timestamp()
    os.utime(old, (long_ago, long_ago))
    with app.app_context():
        # A stored response past its time: purged, it leaves pages free in an SQLite file.
        db.session.add(
            IdempotencyKey(
                principal="device:gone",
                key="big",
                request_hash="0" * 64,
                method="POST",
                path="/v1/reports",
                created_at=utcnow() - timedelta(days=30),
                response_body="x" * 200_000,
            )
        )
        db.session.commit()
    before = database_storage(app)

    result = app.test_cli_runner().invoke(args=["copa", "purge", "--full"])

    assert result.exit_code == 0, result.output
    assert "mail files deleted: 1" in result.output
    assert sorted((folder / "mail").glob("*.eml")) == mail[1:]
    after = database_storage(app)
    if is_sqlite(app):
        # VACUUM rebuilt the file: no page is left unused (deleted rows were zeroed already)
        assert after["free pages"] == 0
    else:
        # VACUUM FULL wrote each table to a new file, with none of the dead rows in it
        assert all(after[table] != before[table] for table in VACUUMED), (before, after)


def database_storage(app) -> dict[str, int]:
    """SQLite: its unused pages; PostgreSQL: the file each table is stored in."""
    with app.app_context():
        if is_sqlite(app):
            free = db.session.execute(sa.text("PRAGMA freelist_count")).scalar_one()
            result = {"free pages": free}
        else:
            rows = db.session.execute(
                sa.text(
                    "SELECT relname, pg_relation_filenode(oid) FROM pg_class WHERE relname IN :names"
                ).bindparams(sa.bindparam("names", expanding=True)),
                {"names": list(VACUUMED)},
            )
            result = dict(rows.all())
        db.session.remove()
    return result
