"""Experiments: runs of the pipeline with changed params, each recorded as a Git commit under
a ref of its own (refs/exps/<baseline>/<name>), never on the user's branch
(docs/experiments.md)."""
