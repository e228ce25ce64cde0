"""`python -m dashboard`: the same command as `python etl.py dashboard` (dashboard/command.py)."""

from dashboard.command import dashboard

if __name__ == "__main__":
    dashboard(prog_name="python -m dashboard")
