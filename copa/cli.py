"""``flask copa ...``: operational commands."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import AppGroup

copa_cli = AppGroup(
    "copa", help="COPA operations: demo data, areas, housekeeping, the API document."
)


@copa_cli.command("seed-demo")
def seed_demo_command() -> None:
    """Load the Cleveland demo data (areas, categories, partners, users, signposts and their
    click-throughs); safe to repeat."""
    from copa.demo import seed_demo

    result = seed_demo()
    click.echo(
        f"areas: {result.wards} wards; categories added: {result.categories_added}; "
        f"partners added: {result.partners_added}; routing rules added: {result.rules_added}; "
        f"signposts added: {result.signposts_added}; "
        f"click-throughs added: {result.click_throughs_added}"
    )
    if result.partners_on_webhook:
        click.echo(
            f"demo partners now sending to COPA_DEMO_WEBHOOK_URL: {result.partners_on_webhook}"
        )
    if result.users_added:
        click.echo("demo users added: " + ", ".join(result.users_added))
        if result.password:
            click.echo(
                f"demo password (shown once; set COPA_DEMO_PASSWORD to choose it): {result.password}"
            )
        else:
            click.echo("demo password: the value of COPA_DEMO_PASSWORD")
    else:
        click.echo("demo users already present")


@copa_cli.command("import-areas")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--authority-code", help="GSS code of the local authority, when the file does not say."
)
@click.option("--authority-name", help="Name of the local authority, when the file does not say.")
def import_areas_command(
    files: tuple[Path, ...], authority_code: str | None, authority_name: str | None
) -> None:
    """Load or update wards from GeoJSON FeatureCollections (repeatable; updates in place)."""
    from copa.areas.geojson import AreaImportError
    from copa.areas.service import import_geojson

    for path in files:
        try:
            result = import_geojson(
                path, authority_code=authority_code, authority_name=authority_name
            )
        except AreaImportError as error:
            raise click.ClickException(f"{path}: {error}") from error
        click.echo(f"{path.name}: {result}")


@copa_cli.command("purge")
@click.option(
    "--full",
    is_flag=True,
    help="Rewrite the tables (PostgreSQL: VACUUM FULL, locking each while it is copied; "
    "SQLite: VACUUM), so no page keeps deleted values as free space.",
)
def purge_command(full: bool) -> None:
    """Delete what is past its retention: contact details (COPA_CONTACT_RETENTION_DAYS), photos
    and videos
    (COPA_PHOTO_RETENTION_DAYS) and idempotency keys (COPA_IDEMPOTENCY_TTL_DAYS), with the mail
    sink's files; then scrub the database's files of the deleted rows (SQLite: WAL checkpoint;
    PostgreSQL: VACUUM). Exits with status 1 when the scrub could not finish."""
    from copa.scheduler import purge

    result = purge(full=full)
    click.echo(f"contact details deleted: {result.contacts}")
    click.echo(f"photos deleted: {result.photos}")
    click.echo(f"videos deleted: {result.videos}")
    click.echo(f"idempotency keys deleted: {result.idempotency_keys}")
    click.echo(f"mail files deleted: {result.mail_files}")
    if not result.scrubbed:
        raise click.ClickException(
            "deleted rows could not be scrubbed from the database files (busy): run it again"
        )
    click.echo("database files scrubbed of deleted rows")


@copa_cli.command("openapi")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of stdout.",
)
def openapi_command(output: Path | None) -> None:
    """Print (or write) the OpenAPI document generated from the code."""
    from copa.openapi import render_openapi

    text = render_openapi()
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


@contextmanager
def stopped_by_signals() -> Iterator[threading.Event]:
    """An Event that SIGTERM or Ctrl-C sets, for a long-running command's loop to stop at;
    the previous handlers come back afterwards."""
    stop = threading.Event()

    def stop_soon(*_: object) -> None:
        # Not stop.set() here: the handler runs in the main thread, which may be inside
        # stop.wait() holding the Event's (non-reentrant) lock at that very moment, and would
        # then wait for itself for ever. Another thread sets it.
        threading.Thread(target=stop.set, daemon=True).start()

    previous = {
        signum: signal.signal(signum, stop_soon) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@copa_cli.command("relay")
@click.option("--once", is_flag=True, help="Deliver everything that is due, then exit.")
@click.option("--owner", help="This relay's name in the leases (default: host:pid:random).")
def relay_command(once: bool, owner: str | None) -> None:
    """Deliver outbox messages to partners (webhook, Open311, email) until stopped.

    Run as many as you like on PostgreSQL; one on SQLite. SIGTERM or Ctrl-C finishes the
    message in hand, gives back the rest of the batch, and exits.
    """
    from copa.db import lease_owner
    from copa.relay.service import run_relay

    owner = owner or lease_owner()
    click.echo(f"relay {owner} started")
    with stopped_by_signals() as stop:
        stats = run_relay(once=once, owner=owner, stop=stop)
    click.echo(f"relay {owner}: {stats}")


@copa_cli.command("media-worker")
@click.option("--once", is_flag=True, help="Process every waiting video, then exit.")
@click.option("--owner", help="This worker's name in the leases (default: host:pid:random).")
def media_worker_command(once: bool, owner: str | None) -> None:
    """Re-encode residents' uploaded videos (no metadata) and make their posters, until stopped.

    Claims one video at a time with a lease (COPA_MEDIA_LEASE_SECONDS), so several can run on
    PostgreSQL; a worker killed half way leaves the video to the next one once the lease runs
    out. SIGTERM or Ctrl-C finishes the video in hand, then exits.
    """
    from copa.db import lease_owner
    from copa.reports.videos import run_media_worker

    owner = owner or lease_owner()
    click.echo(f"media worker {owner} started")
    with stopped_by_signals() as stop:
        stats = run_media_worker(once=once, owner=owner, stop=stop)
    click.echo(f"media worker {owner}: {stats}")


@copa_cli.command("reconcile")
@click.option(
    "--repair", is_flag=True, help="Rewrite the rollups from the raw rows (briefly holds writes)."
)
def reconcile_command(repair: bool) -> None:
    """Recompute the metrics rollups from the raw rows and print every mismatch (expected 0).

    Exits with status 1 when a mismatch is found (and --repair was not given).
    """
    from copa.metrics.reconcile import reconcile
    from copa.metrics.reconcile import repair as rewrite

    if repair:
        for table, rows in rewrite().items():
            click.echo(f"{table}: {rows} rows rewritten")
        return
    result = reconcile()
    for mismatch in result.mismatches:
        key = ", ".join(f"{name}={value}" for name, value in mismatch.key.items())
        click.echo(
            f"MISMATCH {mismatch.table} [{key}]: expected {mismatch.expected}, "
            f"rollup has {mismatch.actual}"
        )
    for table, rows in result.rows.items():
        click.echo(f"{table}: {rows} rows checked")
    click.echo(f"mismatches: {len(result.mismatches)}")
    if result.mismatches:
        raise SystemExit(1)


@copa_cli.command("scheduler")
def scheduler_command() -> None:
    """Run purge daily and reconcile nightly (COPA_PURGE_SCHEDULE, COPA_RECONCILE_SCHEDULE:
    crontab lines, Europe/London) until stopped; a reconcile mismatch is logged as an error.

    Safe to run more than one: the one holding a database lock acts, the others stand by and
    take over when it stops. SIGTERM or Ctrl-C stops it.
    """
    from flask import current_app

    from copa.scheduler import run_scheduler

    click.echo("scheduler started")
    with stopped_by_signals() as stop:
        try:
            run_scheduler(current_app._get_current_object(), stop)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    click.echo("scheduler stopped")


@copa_cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_command(directory: Path) -> None:
    """Back up the database, photos and videos into DIRECTORY (new or empty), with a manifest.

    SQLite: the online backup API, safe while the service runs. PostgreSQL: pg_dump -Fc (the
    client tools must be on PATH). The folder holds residents' data: keep it as such.
    """
    from copa.backup import BackupError, backup

    try:
        manifest = backup(directory)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"backed up {manifest.database} at schema revision {manifest.schema_revision}: "
        f"{sum(manifest.counts.values())} rows in {len(manifest.counts)} tables, "
        f"{manifest.photos} photo and {manifest.videos} video files, into {directory}"
    )


@copa_cli.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the data.")
def restore_command(directory: Path, yes: bool) -> None:
    """Replace the database, photos and videos with the backup in DIRECTORY.

    Stop the web, relay and scheduler processes first. Refuses a backup from a newer schema
    revision; after one from an older revision, run `flask db upgrade`. PostgreSQL: pg_restore
    --clean --if-exists (the database is created when missing).
    """
    from copa.backup import BackupError, check_restorable, restore

    try:
        manifest = check_restorable(directory)
        if not yes:
            click.confirm(
                f"Replace every row, photo and video with the backup of {manifest.created_at}?",
                abort=True,
            )
        manifest = restore(directory)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"restored the backup of {manifest.created_at} (schema revision "
        f"{manifest.schema_revision}): {sum(manifest.counts.values())} rows, "
        f"{manifest.photos} photo and {manifest.videos} video files"
    )
    click.echo("if this release is newer than the backup, run: flask db upgrade")
