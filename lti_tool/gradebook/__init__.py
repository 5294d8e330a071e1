"""Instructor pages: overview and (later) the gradebook for the launched course context."""
