"""The courses this process serves, loaded once at start (a broken course stops the start with its problems)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from .loader import load_catalog
from .model import Catalog


def get_catalog(app: Flask | None = None) -> Catalog:
    catalog: Catalog = (app or current_app).extensions["nama_catalog"]
    return catalog


def init_app(app: Flask) -> None:
    catalog = load_catalog(Path(app.config["CONTENT_DIR"]))
    if app.config["DEFAULT_COURSE"] not in catalog.courses:
        raise ValueError(
            f"default course {app.config['DEFAULT_COURSE']!r} not found in {app.config['CONTENT_DIR']}"
        )
    app.extensions["nama_catalog"] = catalog
