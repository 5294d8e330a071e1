"""Privacy: what the tool stores about a person can be exported and deleted per platform (`scripts/flask learner …`).

learner_data.py   find, export and delete one person's rows (services)
cli.py            `scripts/flask learner export | delete`

Expired launch-store entries and tool sessions are purged on their own (lti_tool/housekeeping.py).
"""
