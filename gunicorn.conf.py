"""gunicorn's configuration: ``gunicorn -c gunicorn.conf.py wsgi:app`` (``make run`` uses it).

Where to listen, how many workers and threads and the access log stay on the command line
(``make serve`` passes ``--bind``, ``--workers``, ``--threads 4``, ``--access-logfile -``).
This file holds what every deployment needs: the request limits, problem+json for the errors
gunicorn answers itself, and logs without credentials. A command-line flag overrides a value
here (``--limit-request-line 8190``).
"""

import os
import shutil
import tempfile

# prometheus-client picks its storage when first imported: the directory must be known before
# anything imports it. Each worker writes its metrics there and /metrics adds them up. An
# operator who runs the relay and the scheduled commands beside gunicorn sets one directory for
# all of them (emptied at boot: a tmpfs such as /run); otherwise gunicorn makes its own.
_METRICS_DIR_MADE_HERE = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _METRICS_DIR_MADE_HERE:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="copa-metrics-")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from copa.web import serving  # noqa: E402 - after the metrics directory is set

# The request line: method, path and query string. Longer -> 414. The longest URLs the
# service makes (Open311 GET requests with a list of ids and dates) stay far below this.
limit_request_line = 4094
# Header fields in one request. More -> 431.
limit_request_fields = 50
# Bytes in one header field, name and value. Longer -> 431. A bearer token is under 1 KiB.
limit_request_field_size = 8190

# Redacts api_key, token and access_token query parameters, unsubscribe tokens and bearer
# tokens from the access log (which writes each request line) and the error log, and writes
# both as JSON lines (COPA_LOG_FORMAT), an access line with the request's X-Request-ID.
logger_class = serving.RedactingLogger


def post_fork(server, worker):
    """Each worker answers gunicorn's own errors (414, 431, 400) as problem+json."""
    serving.answer_server_errors_as_problems()


def child_exit(server, worker):
    """A worker is gone: its live gauges leave /metrics (prometheus-client's multiprocess mode;
    its counters and histograms stay in the totals)."""
    serving.forget_worker_metrics(worker.pid)


def on_exit(server):
    if _METRICS_DIR_MADE_HERE:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
