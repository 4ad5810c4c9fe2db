"""Things that run commands or change files: the bench command, baselines, confirmation, prune."""
