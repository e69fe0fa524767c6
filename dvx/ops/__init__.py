"""One module per verb. Each takes a Repo, does the work, and returns a result object."""
