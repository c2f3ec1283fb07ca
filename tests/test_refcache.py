"""Reference-data caches: any change to a watched table, through the ORM or a Core statement
run by a session, gives its row in reference_version a new token in the same transaction (and
no other table's); a rollback leaves the old one; a cache loads again when, and only when, the token it holds is not the
one the request sees. (tests/routing/test_changes_reach_every_process.py proves it across
processes.)"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

from copa.catalog.models import Category
from copa.catalog.service import ensure_seed_categories
from copa.db import db
from copa.refcache import ReferenceCache, attach, current_tokens
from copa.routing.models import RoutingRule


def test_a_change_through_the_orm_or_a_core_statement_gives_a_new_token_and_rollback_the_old(
    app,
):
    with app.app_context():
        ensure_seed_categories()
        db.session.commit()
        before = current_tokens()

        category = db.session.scalar(sa.select(Category).where(Category.code == "fly_tipping"))
        category.name = "Fly-tipping (renamed)"
        db.session.flush()
        after_orm = current_tokens()

        db.session.execute(sa.update(RoutingRule).values(active=False))
        after_core = current_tokens()

        db.session.rollback()
        after_rollback = current_tokens()

    assert after_orm["category"] != before["category"]
    assert after_core["routing_rule"] != before["routing_rule"]
    assert after_core["category"] == after_orm["category"]  # each table its own token
    assert {k: v for k, v in after_orm.items() if k != "category"} == {
        k: v for k, v in before.items() if k != "category"
    }
    assert after_rollback == before


def test_reading_unrelated_tables_or_writing_them_keeps_the_token(app):
    from copa.auth.models import Device

    with app.app_context():
        before = current_tokens()
        db.session.add(Device(platform="ios"))
        db.session.flush()
        assert current_tokens() == before
        db.session.rollback()


def test_a_cache_loads_again_after_a_change_and_not_before(app):
    loads: list[int] = []

    def load(session) -> dict[str, str]:
        loads.append(1)
        return {
            code: name for code, name in session.execute(sa.select(Category.code, Category.name))
        }

    names = ReferenceCache("test-category-names", load, Category)
    with app.app_context():
        ensure_seed_categories()
        db.session.commit()
        first = names.get()
        again = names.get()
        assert again is first and len(loads) == 1

        category = db.session.scalar(sa.select(Category).where(Category.code == "fly_tipping"))
        category.name = "Dumped rubbish"
        db.session.flush()
        changed = names.get()
        db.session.rollback()
        restored = names.get()

    assert len(loads) == 3
    assert changed["fly_tipping"] == "Dumped rubbish"
    assert restored["fly_tipping"] != "Dumped rubbish"


def test_a_request_reads_the_token_once_however_many_caches_it_uses(app):
    statements: list[str] = []
    with app.app_context():
        ensure_seed_categories()
        db.session.commit()

    with app.test_request_context(), app.app_context():

        def count(conn, cursor, statement, *args) -> None:
            if "reference_version" in statement:
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            tokens = {frozenset(current_tokens().items()) for _ in range(5)}
        finally:
            event.remove(db.engine, "before_cursor_execute", count)

    assert len(tokens) == 1
    assert len(statements) == 1


def test_a_cached_object_is_attached_as_the_requests_own_copy_without_a_query(app):
    cache = ReferenceCache(
        "test-categories",
        lambda session: tuple(session.scalars(sa.select(Category).order_by(Category.code))),
        Category,
    )
    with app.app_context():
        ensure_seed_categories()
        db.session.commit()
        cached = cache.get()[0]
        statements: list[str] = []

        def note(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            own = attach(cached)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)

    assert own is not cached and cached.code == own.code
    assert statements == []
