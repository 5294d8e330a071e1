"""A small but real LTI 1.3 platform for trying the tool out and for end-to-end tests (HTTP only)."""
