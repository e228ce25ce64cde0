"""The sync: resource declarations, windows, the run plan, the runner, the run lock, run reports, `watch`,
`worker`, and the run service every door calls."""
