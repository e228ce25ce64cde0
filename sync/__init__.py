"""The sync: declared resources, windows, planning, the runner, the run service every door calls, locks,
the shared budget, the hooks layers above listen on, `watch`, the worker."""
