"""Mappers: one API record in, rows for the tables out; `fields` holds the field readers they share (no I/O)."""
