"""Importing ward boundaries from GeoJSON: any ward file, repeatable, all or nothing."""

from __future__ import annotations

import copy
import json

import pytest
import sqlalchemy as sa

from copa.areas.geojson import AreaImportError
from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import (
    BUNDLED_DIR,
    import_bundled,
    import_geojson,
    locate,
)
from copa.db import db


def bundled(code: str) -> dict:
    return json.loads((BUNDLED_DIR / f"{code}.geojson").read_text())


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def square(west: float, south: float, size: float = 0.01) -> dict:
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(properties: dict, geometry: dict) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def test_bundled_import_creates_the_four_authorities_and_82_wards(app):
    with app.app_context():
        results = import_bundled()

        assert [(r.authority_code, r.created, r.updated, r.unchanged) for r in results] == [
            ("E06000001", 11, 0, 0),
            ("E06000002", 23, 0, 0),
            ("E06000003", 22, 0, 0),
            ("E06000004", 26, 0, 0),
        ]
        assert count(LocalAuthority) == 4
        assert count(Ward) == 82


def test_importing_the_same_file_twice_changes_nothing_the_second_time(app):
    with app.app_context():
        import_bundled()
        stamps = dict(db.session.execute(sa.select(Ward.code, Ward.updated_at)).all())

        again = import_bundled()

        assert [(r.created, r.updated) for r in again] == [(0, 0)] * 4
        assert sum(r.unchanged for r in again) == 82
        assert count(LocalAuthority) == 4
        assert count(Ward) == 82
        db.session.expire_all()
        assert dict(db.session.execute(sa.select(Ward.code, Ward.updated_at)).all()) == stamps


def test_file_can_be_given_as_a_path_string(app):
    with app.app_context():
        result = import_geojson(str(BUNDLED_DIR / "E06000001.geojson"))

        assert (result.authority_code, result.created) == ("E06000001", 11)
        assert db.session.get(LocalAuthority, "E06000001").name == "Hartlepool"


def test_reimport_with_a_renamed_ward_updates_it_in_place(app, tmp_path):
    with app.app_context():
        import_bundled()
        assert locate(54.5762, -1.2348).ward_name == "Middlehaven"  # the index is now built

        data = bundled("E06000002")
        for item in data["features"]:
            if item["properties"]["WD13CD"] == "E05001497":
                item["properties"]["WD13NM"] = "Middlehaven and Riverside"
        path = tmp_path / "E06000002.geojson"
        path.write_text(json.dumps(data))

        result = import_geojson(path)

        assert (result.created, result.updated, result.unchanged) == (0, 1, 22)
        assert count(Ward) == 82
        db.session.expire_all()
        assert db.session.get(Ward, "E05001497").name == "Middlehaven and Riverside"
        # The lookup in this process sees the new name at once, not after the recheck interval.
        assert locate(54.5762, -1.2348).ward_name == "Middlehaven and Riverside"


def test_reimport_with_a_redrawn_boundary_moves_the_lookup(app):
    with app.app_context():
        import_bundled()
        data = bundled("E06000002")
        # Redraw one ward as a small square in the North Sea: points there now belong to it.
        target = next(f for f in data["features"] if f["properties"]["WD13CD"] == "E05001482")
        target["geometry"] = square(-0.9, 54.7)

        result = import_geojson(data, authority_code="E06000002")

        assert (result.created, result.updated, result.unchanged) == (0, 1, 22)
        assert locate(54.705, -0.895).ward_code == "E05001482"


def test_custom_property_scheme_with_authority_properties_imports(app):
    data = collection(
        feature(
            {
                "WD19CD": "E05012345",
                "WD19NM": "Seaton",
                "LAD19CD": "E06000047",
                "LAD19NM": "County Durham",
            },
            square(-1.60, 54.70),
        ),
        feature(
            {
                "WD19CD": "E05012346",
                "WD19NM": "Shotton",
                "LAD19CD": "E06000047",
                "LAD19NM": "County Durham",
            },
            square(-1.59, 54.70),
        ),
    )
    with app.app_context():
        result = import_geojson(data)

        assert (result.authority_code, result.created) == ("E06000047", 2)
        assert db.session.get(LocalAuthority, "E06000047").name == "County Durham"
        assert db.session.get(Ward, "E05012346").name == "Shotton"
        assert locate(54.705, -1.585).ward_name == "Shotton"


def test_plain_code_and_name_properties_import_with_a_given_authority(app):
    data = collection(feature({"code": "E05099999", "name": "Quayside"}, square(-1.2, 54.6)))
    with app.app_context():
        result = import_geojson(data, authority_code="E06000099", authority_name="Testshire")

        assert (result.authority_code, result.created) == ("E06000099", 1)
        assert db.session.get(LocalAuthority, "E06000099").name == "Testshire"


def test_authority_code_comes_from_the_file_name_and_name_from_the_known_list(app, tmp_path):
    path = tmp_path / "E06000003.geojson"
    path.write_text(
        json.dumps(
            collection(feature({"WD22CD": "E05099998", "WD22NM": "Coatham"}, square(-1.07, 54.61)))
        )
    )
    with app.app_context():
        result = import_geojson(path)

        assert result.authority_code == "E06000003"
        assert db.session.get(LocalAuthority, "E06000003").name == "Redcar and Cleveland"


def test_self_intersecting_ward_is_repaired_and_imported(app):
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[-1.3, 54.5], [-1.2, 54.6], [-1.2, 54.5], [-1.3, 54.6], [-1.3, 54.5]]],
    }
    data = collection(feature({"WD13CD": "E05099997", "WD13NM": "Knot"}, bow_tie))
    with app.app_context():
        result = import_geojson(data, authority_code="E06000099", authority_name="Testshire")

        assert result.created == 1
        assert locate(54.55, -1.28).ward_code == "E05099997"


def _nothing_written() -> bool:
    return count(Ward) == 0 and count(LocalAuthority) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"type": "Feature", "properties": {}, "geometry": square(-1.2, 54.6)},
            "FeatureCollection",
        ),
        ([1, 2, 3], "FeatureCollection"),
        (collection(), "no features"),
        (
            collection(
                feature(
                    {"WD13CD": "E05099999", "WD13NM": "Pier"},
                    {"type": "Point", "coordinates": [-1.2, 54.6]},
                )
            ),
            "Point",
        ),
        (collection(feature({"WD13NM": "Nameless code"}, square(-1.2, 54.6))), "ward code"),
        (collection(feature({"WD13CD": "E05099999"}, square(-1.2, 54.6))), "ward name"),
        (
            collection(
                feature(
                    {"WD13CD": "E05099999", "WD13NM": "Pier"},
                    {"type": "Polygon", "coordinates": [[[1, 2]]]},
                )
            ),
            "malformed",
        ),
        (
            collection(
                feature({"WD13CD": "E05099999", "WD13NM": "Pier"}, square(445000, 520000, 100))
            ),
            "WGS84",
        ),
        (
            collection(
                feature({"WD13CD": "E05099999", "WD13NM": "Pier"}, square(-1.2, 54.6)),
                feature({"WD13CD": "E05099999", "WD13NM": "Pier"}, square(-1.1, 54.6)),
            ),
            "more than once",
        ),
    ],
    ids=[
        "a-feature-not-a-collection",
        "not-an-object",
        "no-features",
        "point-geometry",
        "no-ward-code",
        "no-ward-name",
        "too-few-coordinates",
        "projected-coordinates",
        "duplicate-ward",
    ],
)
def test_bad_file_is_refused_and_writes_nothing(app, data, message):
    with app.app_context():
        with pytest.raises(AreaImportError, match=message):
            import_geojson(data, authority_code="E06000099", authority_name="Testshire")

        assert _nothing_written()


def test_one_bad_ward_late_in_a_file_leaves_every_ward_unwritten(app):
    data = bundled("E06000001")
    data["features"][-1]["geometry"] = {"type": "Point", "coordinates": [-1.2, 54.6]}
    with app.app_context():
        with pytest.raises(AreaImportError, match="Point"):
            import_geojson(data, authority_code="E06000001")

        assert _nothing_written()


def test_file_that_is_not_json_is_refused(app, tmp_path):
    path = tmp_path / "E06000001.geojson"
    path.write_text("<kml>not GeoJSON</kml>")
    with app.app_context():
        with pytest.raises(AreaImportError, match="not valid JSON"):
            import_geojson(path)

        assert _nothing_written()


def test_missing_file_is_refused(app, tmp_path):
    with app.app_context(), pytest.raises(AreaImportError, match="cannot be read"):
        import_geojson(tmp_path / "no-such-file.geojson")


def test_unknown_authority_without_a_name_is_refused(app):
    data = collection(feature({"WD13CD": "E05099999", "WD13NM": "Pier"}, square(-1.2, 54.6)))
    with app.app_context():
        with pytest.raises(AreaImportError, match="No name for local authority E06000099"):
            import_geojson(data, authority_code="E06000099")

        assert _nothing_written()


def test_file_without_any_authority_code_is_refused(app):
    data = collection(feature({"WD13CD": "E05099999", "WD13NM": "Pier"}, square(-1.2, 54.6)))
    with app.app_context(), pytest.raises(AreaImportError, match="which local authority"):
        import_geojson(copy.deepcopy(data))


def test_a_ward_changed_by_any_session_reaches_the_lookup_at_once(app):
    with app.app_context():
        import_bundled()
        assert locate(54.5762, -1.2348).ward_name == "Middlehaven"
        # Not through import_geojson: any session's change gives the wards a new token, which
        # every process (this one included) reads on its next lookup.
        db.session.get(Ward, "E05001497").name = "Middlehaven Dock"
        db.session.commit()

        assert locate(54.5762, -1.2348).ward_name == "Middlehaven Dock"
