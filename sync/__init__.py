"""The sync: declared resources, windows, planning, the runner, the run service every door calls, locks, budgets, `watch`, the worker."""
