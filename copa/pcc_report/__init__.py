"""The Commissioner's quarterly report to the Police and Crime Panel.

``service`` assembles it as one dict from the metrics (its contract: ``schemas.PccReportOut``);
``render`` and ``charts`` turn that dict into CSV and a printable HTML page without touching
the database.
"""
