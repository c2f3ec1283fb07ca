"""The Commissioner's quarterly report to the Police and Crime Panel.

``service`` assembles it as one dict from the metrics (its contract: ``schemas.PccReportOut``);
``render`` turns that dict into CSV and a printable HTML page without touching the database, from
the ``sections`` and ``demand_section`` it builds on (``tables``, ``view_model``) and the SVG
``charts`` (drawn with ``chart_layout`` and ``svg``).
"""
