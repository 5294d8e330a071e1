"""Course content: loading, checking and rendering course folders (no Flask, no database)."""
