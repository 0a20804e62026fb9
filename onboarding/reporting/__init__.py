"""Reporting: what a run did, read back from the state database, for the people responsible: the
instructor's summary (``summary``) and spreadsheet (``sheet``), the data team's record of each
run (``record``) and their failure alerts (``alerts``)."""
