"""The ETL's moving parts: windows, the run lock, the runner, reporting and the status report."""
