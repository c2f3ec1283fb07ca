"""Two-way messages between OPCC staff and residents on reports and complaint cases: staff ask
or tell, the resident answers or adds information, and staff may pass a message on to the
report's partners. Above reports, feedback and notifications (it reads the first two and tells
the resident through the third)."""
