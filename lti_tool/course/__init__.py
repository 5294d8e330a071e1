"""Course content: loading, checking and rendering course folders.

`model` (the frozen course), `loader` (files → model, with `fields` for problem reporting) and `markdown`
know nothing of Flask or the database; `cli` adds `scripts/flask course check`.
"""
