"""ML metadata: params, metrics and plots, read from the workspace and from any revision.

    revisions.py  which revisions a command looks at, and reading a file from each one
                  (the workspace from disk, a commit from Git's objects, never a checkout)
    declared.py   what a revision's dvx.yaml declares as params, metrics and plots files
    values.py     params/metrics files -> flattened values; `show` over revisions, `diff`
    tables.py     those results as text, Markdown or CSV tables
    plots.py      plots files -> rows of data and Vega-Lite specs, per template
    render.py     specs -> one self-contained HTML page and SVG/PNG files (vl-convert)
"""
