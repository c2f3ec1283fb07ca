"""Reading ward boundaries from GeoJSON: the features, their codes and names (ONS GSS codes,
any year's WDnnCD/LADnnCD keys), valid polygonal geometry, and the local authority a file is
for. Nothing here touches the database: ``service.import_geojson`` stores what this reads."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import make_valid

from copa.areas.models import LocalAuthority
from copa.db import db

KNOWN_AUTHORITIES = {
    "E06000001": "Hartlepool",
    "E06000002": "Middlesbrough",
    "E06000003": "Redcar and Cleveland",
    "E06000004": "Stockton-on-Tees",
}

_WARD_CODE_KEY = re.compile(r"^WD\d\dCD$")
_WARD_NAME_KEY = re.compile(r"^WD\d\dNM$")
_LAD_CODE_KEY = re.compile(r"^LAD\d\dCD$")
_LAD_NAME_KEY = re.compile(r"^LAD\d\dNM$")
_GSS_CODE = re.compile(r"^[ENSW]\d{8}$")  # ONS GSS code: a letter for the nation, 8 digits
_AUTHORITY_STEM = re.compile(r"^E0[6-9]\d{6}$")  # English unitary/district/borough codes
_NAME_MAX = 120


class AreaImportError(ValueError):
    """The file cannot be imported as ward boundaries; the message says why."""


@dataclass(frozen=True)
class WardIn:
    code: str
    name: str
    geometry: str  # GeoJSON geometry object, as text


def load(source: str | Path | Mapping[str, Any]) -> tuple[Any, str | None]:
    if not isinstance(source, str | Path):
        return source, None  # already parsed; features_of() checks its shape
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a byte order mark
    except OSError as error:
        raise AreaImportError(f"The file cannot be read ({error.strerror or error}).") from error
    except UnicodeDecodeError as error:
        raise AreaImportError("The file is not UTF-8 text.") from error
    try:
        return json.loads(text), path.stem
    except ValueError as error:
        raise AreaImportError(f"The file is not valid JSON ({error}).") from error


def features_of(data: Any) -> list[Mapping[str, Any]]:
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise AreaImportError("Expected a GeoJSON FeatureCollection of wards.")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise AreaImportError("The FeatureCollection has no features.")
    for number, feature in enumerate(features, 1):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise AreaImportError(f"Feature {number} is not a GeoJSON Feature.")
        if not isinstance(feature.get("properties"), Mapping):
            raise AreaImportError(f"Feature {number} has no properties.")
    return features


def _property(
    properties: Mapping[str, Any],
    pattern: re.Pattern[str],
    plain: str | None,
    what: str,
    where: str,
) -> Any:
    keys = [key for key in properties if pattern.match(key)]
    if not keys and plain is not None and plain in properties:
        keys = [plain]
    if len(keys) > 1:
        raise AreaImportError(
            f"{where}: more than one {what} property ({', '.join(sorted(keys))})."
        )
    return properties[keys[0]] if keys else None


def ward_from_feature(feature: Mapping[str, Any], number: int) -> WardIn:
    where = f"Feature {number}"
    properties = feature["properties"]
    code = _property(properties, _WARD_CODE_KEY, "code", "ward code", where)
    name = _property(properties, _WARD_NAME_KEY, "name", "ward name", where)
    if not isinstance(code, str) or not _GSS_CODE.match(code.strip()):
        raise AreaImportError(
            f"{where}: no ward code (a WDnnCD or code property holding a GSS code such as "
            f"E05008942), found {code!r}."
        )
    code = code.strip()
    where = f"Ward {code}"
    if not isinstance(name, str) or not name.strip():
        raise AreaImportError(f"{where}: no ward name (a WDnnNM or name property).")
    name = name.strip()
    if len(name) > _NAME_MAX:
        raise AreaImportError(f"{where}: the name is longer than {_NAME_MAX} characters.")
    return WardIn(code, name, _geometry_text(feature.get("geometry"), where))


def _geometry_text(geometry: Any, where: str) -> str:
    if not isinstance(geometry, Mapping):
        raise AreaImportError(f"{where}: has no geometry.")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise AreaImportError(
            f"{where}: the geometry is a {kind}; a ward must be a Polygon or MultiPolygon."
        )
    try:
        polygon = shape(geometry)
    except Exception as error:  # noqa: BLE001 - shapely raises several types for bad coordinates
        raise AreaImportError(f"{where}: the geometry is malformed ({error}).") from error
    if polygon.is_empty:
        raise AreaImportError(f"{where}: the geometry is empty.")
    min_x, min_y, max_x, max_y = polygon.bounds
    if (
        not all(map(math.isfinite, polygon.bounds))
        or min_x < -180
        or max_x > 180
        or min_y < -90
        or max_y > 90
    ):
        raise AreaImportError(
            f"{where}: the coordinates are not WGS84 longitude/latitude "
            "(reproject the file to EPSG:4326 first)."
        )
    if not polygon.is_valid:
        polygon = _polygonal_part(make_valid(polygon))
        if polygon.is_empty:
            raise AreaImportError(f"{where}: the geometry has no area once repaired.")
    return json.dumps(mapping(polygon), separators=(",", ":"))


def _polygonal_part(geometry: shapely.Geometry) -> Polygon | MultiPolygon:
    """make_valid may return lines and points beside the polygons (collapsed slivers); keep area."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    polygons: list[Polygon] = []
    for part in getattr(geometry, "geoms", ()):
        if isinstance(part, Polygon):
            polygons.append(part)
        elif isinstance(part, MultiPolygon):
            polygons.extend(part.geoms)
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons)


def refuse_duplicate_codes(wards: Iterable[WardIn]) -> None:
    seen: set[str] = set()
    for ward in wards:
        if ward.code in seen:
            raise AreaImportError(f"Ward {ward.code} appears more than once in the file.")
        seen.add(ward.code)


def _feature_values(
    features: Sequence[Mapping[str, Any]], pattern: re.Pattern[str], what: str
) -> set[str]:
    values: set[str] = set()
    for number, feature in enumerate(features, 1):
        value = _property(feature["properties"], pattern, None, what, f"Feature {number}")
        if isinstance(value, str) and value.strip():
            values.add(value.strip())
    return values


def authority_code_of(
    given: str | None, features: Sequence[Mapping[str, Any]], stem: str | None
) -> str:
    if given is not None:
        code = given.strip()
        source = "the authority code given"
    else:
        codes = _feature_values(features, _LAD_CODE_KEY, "local authority code")
        if len(codes) > 1:
            raise AreaImportError(
                "The wards belong to several local authorities "
                f"({', '.join(sorted(codes))}); import one local authority per file."
            )
        if codes:
            code, source = codes.pop(), "the LADnnCD property"
        elif stem and _AUTHORITY_STEM.match(stem):
            code, source = stem, "the file name"
        else:
            raise AreaImportError(
                "Cannot tell which local authority the wards belong to: give the authority "
                "code, add a LADnnCD property, or name the file after the code (E06000001.geojson)."
            )
    if not _GSS_CODE.match(code):
        raise AreaImportError(f"{code!r} from {source} is not a GSS code such as E06000001.")
    return code


def authority_name_of(code: str, given: str | None, features: Sequence[Mapping[str, Any]]) -> str:
    if given is not None and given.strip():
        name = given.strip()
    else:
        names = _feature_values(features, _LAD_NAME_KEY, "local authority name")
        if len(names) > 1:
            raise AreaImportError(
                f"The features name several local authorities ({', '.join(sorted(names))})."
            )
        stored = db.session.get(LocalAuthority, code)
        if names:
            name = names.pop()
        elif code in KNOWN_AUTHORITIES:
            name = KNOWN_AUTHORITIES[code]
        elif stored is not None:
            name = stored.name  # re-importing an authority named on an earlier import
        else:
            raise AreaImportError(
                f"No name for local authority {code}: "
                "give the authority name or add a LADnnNM property."
            )
    if len(name) > _NAME_MAX:
        raise AreaImportError(f"The local authority name is longer than {_NAME_MAX} characters.")
    return name
