"""Course content: loading, checking and rendering course folders.

`loader` and `markdown` know nothing of Flask or the database; `cli` adds `flask course check`.
"""
