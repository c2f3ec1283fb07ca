"""OPCC staff review: the workflow (the only place statuses change), queue, cases, audit."""
