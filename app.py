"""WSGI entry point: `scripts/flask …`, `gunicorn app:app`."""

import gc
import os

from lti_tool import create_app

app = create_app()

# The loaded app's ~100,000 objects (modules, functions, SQLAlchemy's tables and statements, the course) live as
# long as the process: after one collection they are moved out of the garbage collector's view, so that the
# collections a request sets off no longer walk them (bench/FINDINGS.md, "garbage collector"). LTI_TOOL_GC_FREEZE=0
# turns it off.
if os.environ.get("LTI_TOOL_GC_FREEZE", "1") != "0":
    gc.collect()
    gc.freeze()
