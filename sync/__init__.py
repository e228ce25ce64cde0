"""The sync: resources declared once, windows, planning, the runner and run service, locks, budgets, `watch`, the worker."""
