"""`python -m dashboard`: the same command as `python etl.py dashboard` (commands/dashboard.py).

A door, like etl.py: it stands above the commands floor, whatever package holds it."""

from commands.dashboard import dashboard

if __name__ == "__main__":
    dashboard(prog_name="python -m dashboard")
