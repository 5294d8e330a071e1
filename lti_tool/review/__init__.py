"""The reviewer's view: the whole course as one printable document (HTML with a print stylesheet, and PDF), so
that the course's owners can read and mark up every lesson, question with its key, hint, explanation, practice
task with its model answer, glossary entry, page and source before the course is used with learners.

Reached from the operator area (`/admin/courses`) and from the command line (`scripts/flask course export-review`).
"""
