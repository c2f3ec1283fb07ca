from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.call_statistics import service
from copa.call_statistics.service import FIGURES
from copa.periods import Quarter
from copa.web.pagination import PageQuery
from copa.web.schemas import StrictSchema

_FIGURES = {figure.field: figure for figure in FIGURES}
_FISCAL_YEAR_DESCRIPTION = "The year the financial year starts: 2025 for 2025/26."


def _fiscal_year(**kwargs: object) -> fields.Integer:
    return fields.Integer(
        validate=validate.Range(min=service.EARLIEST_FISCAL_YEAR, max=service.LATEST_FISCAL_YEAR),
        metadata={"description": _FISCAL_YEAR_DESCRIPTION, "example": 2025},
        **kwargs,
    )


def _figure_in(name: str) -> fields.Field:
    """The field of one measure, its range from ``service.FIGURES``."""
    figure = _FIGURES[name]
    options = {
        "required": figure.required,
        "validate": validate.Range(min=0, max=figure.maximum, error=figure.range_message),
        "metadata": {"description": figure.label + ("" if figure.required else " (optional)")},
    }
    if figure.whole:
        return fields.Integer(strict=True, **options)
    return fields.Float(allow_nan=False, **options)


def _figure_out(name: str) -> fields.Field:
    figure = _FIGURES[name]
    kind = fields.Integer if figure.whole else fields.Float
    return kind(
        required=True, allow_none=not figure.required, metadata={"description": figure.label}
    )


class CallStatisticsIn(StrictSchema):
    """One quarter's figures as the force publishes them. Optional figures left out are cleared
    when an earlier entry is replaced."""

    fiscal_year = _fiscal_year(required=True, strict=True)
    quarter = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=4),
        metadata={"description": "1 is April to June, 4 is January to March.", "example": 3},
    )
    non_emergency_calls = _figure_in("non_emergency_calls")
    answered_within_2_minutes_percent = _figure_in("answered_within_2_minutes_percent")
    average_wait_seconds = _figure_in("average_wait_seconds")
    emergency_calls = _figure_in("emergency_calls")
    emergency_answered_within_10_seconds_percent = _figure_in(
        "emergency_answered_within_10_seconds_percent"
    )
    average_handling_seconds = _figure_in("average_handling_seconds")

    @validates_schema
    def _quarter_has_started(self, data, **kwargs) -> None:  # noqa: ANN001, ANN003
        errors = service.quarter_errors(data["fiscal_year"], data["quarter"])
        if errors:
            raise ValidationError(errors)


class CallStatisticsOut(Schema):
    id = fields.UUID(required=True)
    fiscal_year = fields.Integer(
        required=True, metadata={"description": _FISCAL_YEAR_DESCRIPTION, "example": 2025}
    )
    quarter = fields.Integer(required=True, attribute="fiscal_quarter", metadata={"example": 3})
    label = fields.Function(
        lambda row: Quarter(row.fiscal_year, row.fiscal_quarter).label,
        required=True,
        metadata={"type": "string", "example": "2025/26 Q3"},
    )
    non_emergency_calls = _figure_out("non_emergency_calls")
    answered_within_2_minutes_percent = _figure_out("answered_within_2_minutes_percent")
    average_wait_seconds = _figure_out("average_wait_seconds")
    emergency_calls = _figure_out("emergency_calls")
    emergency_answered_within_10_seconds_percent = _figure_out(
        "emergency_answered_within_10_seconds_percent"
    )
    average_handling_seconds = _figure_out("average_handling_seconds")
    entered_by = fields.UUID(
        required=True,
        allow_none=True,
        metadata={"description": "The staff user who last set these figures."},
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class CallStatisticsImportOut(Schema):
    created = fields.Integer(required=True, metadata={"description": "Quarters new to COPA."})
    replaced = fields.Integer(
        required=True, metadata={"description": "Quarters whose earlier figures were replaced."}
    )
    quarters = fields.List(
        fields.Nested(CallStatisticsOut),
        required=True,
        metadata={"description": "Every quarter of the table, in quarter order."},
    )


class CallStatisticsQuery(PageQuery):
    fiscal_year = _fiscal_year()  # not strict: a query string's values are text
