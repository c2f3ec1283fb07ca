"""gunicorn's configuration: ``gunicorn -c gunicorn.conf.py wsgi:app`` (``make run`` uses it).

Where to listen, how many workers and threads and the access log stay on the command line
(``make serve`` passes ``--bind``, ``--workers``, ``--threads 4``, ``--access-logfile -``).
This file holds what every deployment needs: the request limits, problem+json for the errors
gunicorn answers itself, and logs without credentials. A command-line flag overrides a value
here (``--limit-request-line 8190``).
"""

from copa.web import serving

# The request line: method, path and query string. Longer -> 414. The longest URLs the
# service makes (Open311 GET requests with a list of ids and dates) stay far below this.
limit_request_line = 4094
# Header fields in one request. More -> 431.
limit_request_fields = 50
# Bytes in one header field, name and value. Longer -> 431. A bearer token is under 1 KiB.
limit_request_field_size = 8190

# Redacts api_key, token and access_token query parameters, unsubscribe tokens and bearer
# tokens from the access log (which writes each request line) and the error log.
logger_class = serving.RedactingLogger


def post_fork(server, worker):
    """Each worker answers gunicorn's own errors (414, 431, 400) as problem+json."""
    serving.answer_server_errors_as_problems()
