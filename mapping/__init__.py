"""Pure mappers: one API record in, row dicts out. No I/O; `fields` holds the shared field readers."""
