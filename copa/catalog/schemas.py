"""What the public sees of the category catalogue (there is no input schema: it is read-only)."""

from __future__ import annotations

from collections.abc import Mapping

from marshmallow import Schema, fields

from copa.catalog.models import CategoryGroup, DefaultDestination

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


class ValueOut(Schema):
    key = fields.String(required=True, metadata={"example": "small"})
    name = fields.String(required=True, metadata={"example": "Small (up to a car boot load)"})


class QuestionOut(Schema):
    """An extra question of a category, in Open311 GeoReport v2 attribute form."""

    code = fields.String(required=True, metadata={"example": "size"})
    datatype = fields.String(
        required=True,
        dump_default="string",  # Open311's default
        metadata={
            "enum": list(DATATYPES),
            "description": "string (at most 200 characters), text (at most 4000), number, "
            "datetime (ISO 8601 with an offset), singlevaluelist (one value key), "
            "multivaluelist (a non-empty list of distinct value keys).",
        },
    )
    required = fields.Boolean(required=True, dump_default=False)
    description = fields.String(
        required=True, dump_default="", metadata={"example": "How much waste is there?"}
    )
    order = fields.Integer(required=True, dump_default=0, metadata={"example": 1})
    values = fields.List(
        fields.Nested(ValueOut),
        metadata={"description": "The allowed answers of a singlevaluelist or multivaluelist."},
    )

    def get_attribute(self, obj, attr, default):  # noqa: ANN001 - marshmallow's signature
        # Questions are stored as plain dicts; marshmallow would otherwise fall back to
        # getattr and dump dict.values (a method) for a question without "values".
        if isinstance(obj, Mapping):
            return obj.get(attr, default)
        return super().get_attribute(obj, attr, default)


class _QuestionsInOrder(fields.List):
    """The category's questions, sorted by ``order`` whatever order they were stored in."""

    def _serialize(self, value, attr, obj, **kwargs):  # noqa: ANN001 - marshmallow's signature
        from copa.catalog.service import questions_of

        return super()._serialize(questions_of(obj), attr, obj, **kwargs)


class CategoryOut(Schema):
    code = fields.String(
        required=True,
        metadata={"description": "Also the Open311 service_code.", "example": "fly_tipping"},
    )
    name = fields.String(required=True, metadata={"example": "Fly-tipping"})
    description = fields.String(required=True)
    group = fields.String(required=True, metadata={"enum": [g.value for g in CategoryGroup]})
    keywords = fields.List(fields.String(), required=True)
    location_required = fields.Boolean(
        required=True, metadata={"description": "A report in this category needs a location."}
    )
    default_destination = fields.String(
        required=True,
        metadata={
            "enum": [d.value for d in DefaultDestination],
            "description": "Who acts on these reports unless a routing rule says otherwise.",
        },
    )
    questions = _QuestionsInOrder(
        fields.Nested(QuestionOut),
        attribute="attributes",
        required=True,
        metadata={"description": "Extra questions to ask, in order (Open311 attributes)."},
    )
