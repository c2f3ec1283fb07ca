"""OPCC staff review: the triage queue, report cases and staff decisions on them, audit."""
