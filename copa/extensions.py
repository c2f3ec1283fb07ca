"""Extension objects, created unbound and bound to an app in ``init_extensions``."""

import http

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from copa.db import db
from copa.web.problems import PROBLEM_JSON, problem_from_http_exception
from copa.web.ratelimit import limiter
from copa.web.schemas import ProblemSchema


class CopaApi(Api):
    """flask-smorest's Api, answering and documenting every error as RFC 9457 problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return problem_from_http_exception(error)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


api = CopaApi()
migrate = Migrate()
jwt = JWTManager()

__all__ = ["api", "db", "jwt", "limiter", "migrate"]
