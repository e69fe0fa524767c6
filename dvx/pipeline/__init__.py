"""Pipelines: stages declared in dvx.yaml, their DAG, dvx.lock, the run-cache and `repro`.

    spec.py         dvx.yaml -> validated, interpolated Stage values (interpolate.py, params.py)
    graph.py        the DAG: edges from outputs to dependencies, cycles, order, drawings
    staleness.py    what a stage's dependencies, params and outputs are now, and why it is stale
    runner.py       running a stage's commands, streaming their output
    runcache.py     past runs by (command, dependencies, params), shared through remotes
    repro.py        the scheduler: decide, restore or run, record
    editor.py       stage add / remove, freeze / unfreeze: edit dvx.yaml keeping the user's
                    comments and layout
"""
