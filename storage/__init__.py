"""The database under the loader: engine and schema check, the batched write path, quarantine, sync_state, tokens."""
