"""The category catalogue as the public sees it, as admins change it (``CategoryIn``,
``CategoryPatchIn``, ``CategoryAdminOut``), and a report's answers beside the questions it was
asked (``AnsweredQuestionOut``)."""

from __future__ import annotations

from collections.abc import Mapping

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.catalog.models import CategoryGroup, DefaultDestination
from copa.web.pagination import PageQuery
from copa.web.schemas import StrictBoolean, StrictSchema, Text

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


# --- admins: adding and changing categories ----------------------------------------------

CODE = r"^[a-z][a-z0-9_]*$"  # as the seed's codes: also Open311 service codes and answer keys
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")
MAX_QUESTIONS = 20
MAX_VALUES = 50
MAX_ORDER = 10_000


def _code(example: str, description: str) -> fields.String:
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=64),
            validate.Regexp(
                CODE, error="Lower-case letters, digits and _, starting with a letter."
            ),
        ],
        metadata={"example": example, "description": description},
    )


class ValueIn(StrictSchema):
    key = _code("small", "What the app sends as the answer; unique within the question.")
    name = Text(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "Small (up to a car boot load)"},
    )


class QuestionIn(StrictSchema):
    """An extra question in Open311 attribute form; checked once, here."""

    code = _code("size", "Unique within the category; the key of its answer.")
    datatype = fields.String(required=True, validate=validate.OneOf(DATATYPES))
    required = StrictBoolean(load_default=False)
    description = Text(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "The question as residents read it.", "example": "How much?"},
    )
    order = fields.Integer(
        validate=validate.Range(min=0, max=MAX_ORDER),
        metadata={"description": "Position among the questions; default: as listed."},
    )
    values = fields.List(
        fields.Nested(ValueIn),
        validate=validate.Length(max=MAX_VALUES),
        metadata={"description": "The choices of a singlevaluelist or multivaluelist."},
    )

    @validates_schema
    def _values_fit_the_datatype(self, data, **kwargs):  # noqa: ANN001, ANN003
        values = data.get("values") or []
        if data.get("datatype") in LIST_DATATYPES:
            if not values:
                raise ValidationError("A list question needs at least one value.", "values")
            keys = [value["key"] for value in values]
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise ValidationError(f"Keys listed twice: {', '.join(repeated)}.", "values")
        elif values:
            raise ValidationError("Only list questions have values.", "values")


class _Questions(fields.List):
    """Questions with distinct codes, stored with their order (the position when none given)."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN003
        questions = super()._deserialize(value, attr, data, **kwargs)
        codes = [question["code"] for question in questions]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValidationError(f"Question codes listed twice: {', '.join(repeated)}.")
        stored = []
        for position, question in enumerate(questions, start=1):
            question = {"order": position, **question}
            if question["datatype"] not in LIST_DATATYPES:
                question.pop("values", None)
            stored.append(question)
        return stored


class _CategorySettingsIn(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=200))
    description = Text(validate=validate.Length(max=2000))
    group = fields.String(validate=validate.OneOf([g.value for g in CategoryGroup]))
    default_destination = fields.String(
        validate=validate.OneOf([d.value for d in DefaultDestination])
    )
    keywords = fields.List(
        Text(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=50)
    )
    location_required = StrictBoolean()
    sort_order = fields.Integer(
        validate=validate.Range(min=0, max=MAX_ORDER),
        metadata={"description": "Display position; default: after the others."},
    )
    questions = _Questions(
        fields.Nested(QuestionIn),
        validate=validate.Length(max=MAX_QUESTIONS),
        metadata={
            "description": "The extra questions, replacing the old ones as a whole. Reports "
            "already made keep the questions they were asked."
        },
    )


class CategoryIn(_CategorySettingsIn):
    code = _code("fly_tipping", "Unique and permanent; also the Open311 service_code.")
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    group = fields.String(required=True, validate=validate.OneOf([g.value for g in CategoryGroup]))
    default_destination = fields.String(
        required=True, validate=validate.OneOf([d.value for d in DefaultDestination])
    )


class CategoryPatchIn(_CategorySettingsIn):
    """Only the fields sent change (the code never does)."""

    active = StrictBoolean(metadata={"description": "true offers a deactivated category again."})


class CategoryAdminQuery(PageQuery):
    active = fields.Boolean()  # a query string's "true"/"false" (as PartnerQuery's)


class CategoryAdminOut(CategoryOut):
    id = fields.UUID(required=True)
    active = fields.Boolean(required=True)
    sort_order = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


# --- a report's answers, with the questions as they were asked ------------------------------


class AnsweredQuestionOut(Schema):
    """One answer beside the question and choice labels the resident saw when reporting."""

    code = fields.String(required=True, metadata={"example": "size"})
    question = fields.String(required=True, metadata={"example": "How much waste is there?"})
    datatype = fields.String(required=True, metadata={"enum": list(DATATYPES)})
    answer = fields.Raw(
        required=True, metadata={"description": "As stored in answers (a key, keys, text...)."}
    )
    labels = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "The names of the chosen values of a list question, as shown then; "
            "empty for other questions.",
            "example": ["Large (a van load or more)"],
        },
    )
