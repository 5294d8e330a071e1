"""nama-lti: LTI 1.3 tool for the Grundlagenkurs Kommunales Nachhaltigkeitsmanagement."""
