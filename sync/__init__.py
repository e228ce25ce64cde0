"""The sync: resource declarations, windows, the run plan, the runner, the run lock, run reports and `watch`."""
