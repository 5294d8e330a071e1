"""The operator area (/admin) for whoever runs the tool: platforms and their deployments, one-time dynamic
registration links, the tool's keys, the grade outbox and health. Its own accounts (`scripts/flask admin create-user`),
sign-in with throttling, a first-party cookie session that expires, CSRF on every form.

accounts.py   operator accounts and password checks (services)
throttle.py   failed sign-ins counted in the launch store
signin.py     who is signed in (cookie + server-side record)
csrf.py       Flask-WTF CSRF limited to this blueprint
forms.py      the forms
reports.py    what the pages show (read-only queries; no learner names or texts)
views.py      the routes
cli.py        `scripts/flask admin create-user | list-users | delete-user`
"""
