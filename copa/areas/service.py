"""Use cases of the area: importing ward boundaries (read by ``geojson``), and finding the ward a
point falls in.

``import_geojson`` is the only function here that writes, and it owns its transaction.
``locate`` answers from an in-process spatial index (shapely ``STRtree`` over prepared
polygons), a reference cache (``copa.refcache``): every process rebuilds it on its next request
after the wards or authorities change.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import shapely
import sqlalchemy as sa
from flask import current_app
from shapely.geometry import Point, shape
from sqlalchemy.orm import Session, selectinload

from copa.areas.geojson import (
    KNOWN_AUTHORITIES,
    WardIn,
    authority_code_of,
    authority_name_of,
    features_of,
    load,
    refuse_duplicate_codes,
    ward_from_feature,
)
from copa.areas.models import LocalAuthority, Ward
from copa.db import db, write
from copa.refcache import ReferenceCache
from copa.web.problems import Unprocessable, problem_type

BUNDLED_DIR = Path(__file__).parent / "data"

OUT_OF_AREA_ADVICE = "Contact the police force for that area on 101, or 999 in an emergency."


class OutOfArea(Unprocessable):
    type = problem_type("out-of-area")
    title = "Outside the Cleveland police force area"


@dataclass
class ImportResult:
    authority_code: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Wards of this authority already stored but absent from the file (e.g. after a boundary
    # review). They are left in place, because reports may refer to them; the caller decides.
    not_in_file: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.authority_code}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )
        if self.not_in_file:
            text += f"; stored but not in the file: {', '.join(self.not_in_file)}"
        return text


@dataclass(frozen=True)
class AreaRef:
    code: str
    name: str


@dataclass(frozen=True)
class Location:
    """The ward and local authority a point falls in."""

    ward_code: str
    ward_name: str
    local_authority_code: str
    local_authority_name: str

    @property
    def ward(self) -> AreaRef:
        return AreaRef(self.ward_code, self.ward_name)

    @property
    def local_authority(self) -> AreaRef:
        return AreaRef(self.local_authority_code, self.local_authority_name)


# --- import -------------------------------------------------------------------------------


def import_geojson(
    source: str | Path | Mapping[str, Any],
    *,
    authority_code: str | None = None,
    authority_name: str | None = None,
) -> ImportResult:
    """Create or update one local authority and its wards from a ward GeoJSON FeatureCollection.

    Repeatable: wards are matched by code and only changed fields are written.
    Raises ``AreaImportError`` (and writes nothing) when the file is not usable.
    """
    data, stem = load(source)
    features = features_of(data)
    wards = [ward_from_feature(feature, number) for number, feature in enumerate(features, 1)]
    refuse_duplicate_codes(wards)
    code = authority_code_of(authority_code, features, stem)

    with write():
        result = _upsert(code, authority_name_of(code, authority_name, features), wards)
    return result


def import_bundled() -> list[ImportResult]:
    """Import the four Cleveland authorities' ward files shipped in ``copa/areas/data``."""
    return [import_geojson(BUNDLED_DIR / f"{code}.geojson") for code in sorted(KNOWN_AUTHORITIES)]


def _upsert(code: str, name: str, wards: Sequence[WardIn]) -> ImportResult:
    result = ImportResult(code)
    authority = db.session.get(LocalAuthority, code)
    if authority is None:
        db.session.add(LocalAuthority(code=code, name=name))
    elif authority.name != name:
        authority.name = name

    codes = [ward.code for ward in wards]
    stored: dict[str, Ward] = {}
    for start in range(0, len(codes), 500):  # stay well under every driver's parameter limit
        chunk = codes[start : start + 500]
        stored.update(
            (w.code, w) for w in db.session.scalars(sa.select(Ward).where(Ward.code.in_(chunk)))
        )

    for ward in wards:
        row = stored.get(ward.code)
        if row is None:
            db.session.add(
                Ward(
                    code=ward.code,
                    name=ward.name,
                    local_authority_code=code,
                    geometry=ward.geometry,
                )
            )
            result.created += 1
            continue
        changed = False
        for attribute, value in (
            ("name", ward.name),
            ("local_authority_code", code),
            ("geometry", ward.geometry),
        ):
            if getattr(row, attribute) != value:
                setattr(row, attribute, value)
                changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1

    in_file = set(codes)
    result.not_in_file = sorted(
        c
        for c in db.session.scalars(sa.select(Ward.code).where(Ward.local_authority_code == code))
        if c not in in_file
    )
    db.session.flush()
    return result


# --- lookup -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    tree: shapely.STRtree
    geometries: Any  # numpy array of prepared polygons, in the tree's order
    locations: tuple[Location, ...]  # plain values, never ORM objects
    names: dict[str, str] = field(default_factory=dict)  # ward and authority codes -> names
    # GEOS prepared geometries build their internal indexes lazily and are not thread-safe
    # (libgeos/geos#825), and shapely releases the GIL: one predicate call at a time per index.
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


def locate(lat: float, lon: float) -> Location:
    """The ward and local authority covering a WGS84 point; ``OutOfArea`` outside every ward."""
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise Unprocessable("Latitude must be within -90..90 and longitude within -180..180.")
    index = _current_index()
    point = Point(lon, lat)
    candidates = index.tree.query(point)
    if len(candidates):
        with index.lock:
            covered = shapely.covers(index.geometries[candidates], point)
        hits = candidates[covered]
        if len(hits):
            # A point on a shared boundary is covered by both wards: choose the same one every time.
            return min((index.locations[i] for i in hits), key=lambda loc: loc.ward_code)
    raise OutOfArea(
        "That location is outside the Cleveland police force area. " + OUT_OF_AREA_ADVICE,
        advice=OUT_OF_AREA_ADVICE,
    )


def area_of(ward_code: str | None, local_authority_code: str | None) -> dict | None:
    """The named area of a submission from its codes, for responses (None when it has none).

    Names come from the lookup index this process already holds, so serving a submission's
    area costs no query (a code the index does not know, e.g. an authority without wards,
    is read from the database).
    """
    if local_authority_code is None:
        return None
    names = _current_index().names

    def ref(model: type[Ward] | type[LocalAuthority], code: str) -> AreaRef:
        name = names.get(code) or db.session.scalar(sa.select(model.name).where(model.code == code))
        return AreaRef(code, name or code)

    return {
        "ward": ref(Ward, ward_code) if ward_code else None,
        "local_authority": ref(LocalAuthority, local_authority_code),
    }


def locate_point(point: Mapping[str, float], field: str = "location") -> Location:
    """``locate`` for a point given in a request body: out of area names the ``field``."""
    try:
        return locate(point["lat"], point["lon"])
    except OutOfArea as error:
        raise OutOfArea(
            error.detail,
            errors={field: ["Outside the Cleveland police force area."]},
            **error.extensions,
        ) from None


class UnknownArea(Unprocessable):
    type = problem_type("unknown-area")


@dataclass(frozen=True)
class Area:
    """A ward or local authority named by its code; ``ward_code`` is None for an authority."""

    code: str
    name: str
    level: str  # "ward" or "local_authority"
    ward_code: str | None
    local_authority_code: str


def area_by_code(code: str, field: str = "area") -> Area:
    """The stored ward or local authority with that GSS code; 422 naming ``field`` otherwise."""
    area = AREAS_BY_CODE.get().get(code) if isinstance(code, str) else None
    if area is not None:
        return area
    raise UnknownArea(
        "That area is not a ward or local authority of the Cleveland police force area.",
        errors={field: ["Not a known ward or local authority code."]},
    )


def _load_areas_by_code(session: Session) -> dict[str, Area]:
    """Every stored ward and local authority by code (without the boundaries)."""
    wards = session.execute(sa.select(Ward.code, Ward.name, Ward.local_authority_code))
    authorities = session.execute(sa.select(LocalAuthority.code, LocalAuthority.name))
    areas = {code: Area(code, name, "local_authority", None, code) for code, name in authorities}
    areas.update(
        (code, Area(code, name, "ward", code, authority)) for code, name, authority in wards
    )
    return areas


AREAS_BY_CODE = ReferenceCache("areas-by-code", _load_areas_by_code, Ward, LocalAuthority)


def _current_index() -> _Index:
    return AREA_INDEX.get()


def _build_index(session: Session) -> _Index:
    rows = session.execute(
        sa.select(Ward.code, Ward.name, LocalAuthority.code, LocalAuthority.name, Ward.geometry)
        .join(LocalAuthority, Ward.local_authority_code == LocalAuthority.code)
        .order_by(Ward.code)
    ).all()
    geometries = []
    locations = []
    for ward_code, ward_name, authority_code, authority_name, text in rows:
        try:
            polygon = shape(json.loads(text))
        except Exception:  # noqa: BLE001 - one damaged row must not take the lookup down
            current_app.logger.error(
                "ward %s has an unreadable geometry; it is left out", ward_code
            )
            continue
        geometries.append(polygon)
        locations.append(Location(ward_code, ward_name, authority_code, authority_name))
    if not geometries:
        # Every lookup will answer out-of-area: say why in the log, once per rebuild.
        current_app.logger.warning("no wards stored: run flask copa import-areas or seed-demo")
    array = numpy.empty(len(geometries), dtype=object)
    array[:] = geometries
    shapely.prepare(array)
    names = {loc.ward_code: loc.ward_name for loc in locations}
    names.update((loc.local_authority_code, loc.local_authority_name) for loc in locations)
    return _Index(shapely.STRtree(array), array, tuple(locations), names)


AREA_INDEX = ReferenceCache("area-index", _build_index, Ward, LocalAuthority)


# --- listing ------------------------------------------------------------------------------


def list_authorities() -> list[LocalAuthority]:
    """Every local authority with its wards (by name), ordered by name."""
    query = (
        sa.select(LocalAuthority)
        .options(
            selectinload(LocalAuthority.wards).load_only(
                Ward.code, Ward.name, Ward.local_authority_code
            )
        )
        .order_by(LocalAuthority.name)
    )
    return list(db.session.scalars(query))


# --- boundaries for maps --------------------------------------------------------------------


@dataclass(frozen=True)
class WardShape:
    """A ward's boundary (a shapely (Multi)Polygon in WGS84 lon/lat), for drawing."""

    code: str
    name: str
    local_authority_code: str
    geometry: Any


def ward_shapes(authority_code: str | None = None) -> list[WardShape]:
    """Every ward's boundary (of one local authority, or all), by name; unreadable ones left out."""
    shapes = WARD_SHAPES.get()
    if authority_code is None:
        return list(shapes)
    return [shape_ for shape_ in shapes if shape_.local_authority_code == authority_code]


def ward_shape(ward_code: str) -> WardShape | None:
    """One ward's boundary, or None when no such ward is stored."""
    return next((shape_ for shape_ in WARD_SHAPES.get() if shape_.code == ward_code), None)


def _load_ward_shapes(session: Session) -> tuple[WardShape, ...]:
    rows = session.execute(
        sa.select(Ward.code, Ward.name, Ward.local_authority_code, Ward.geometry).order_by(
            Ward.name, Ward.code
        )
    )
    shapes = []
    for code, name, authority, text in rows:
        try:
            geometry = shape(json.loads(text))
        except Exception:  # noqa: BLE001 - one damaged row must not take the maps down
            current_app.logger.error("ward %s has an unreadable geometry; it is left out", code)
            continue
        shapes.append(WardShape(code, name, authority, geometry))
    return tuple(shapes)


WARD_SHAPES = ReferenceCache("ward-shapes", _load_ward_shapes, Ward, LocalAuthority)
