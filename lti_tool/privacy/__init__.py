"""Privacy: what the tool stores about a person can be exported and deleted per platform (`scripts/flask learner …`).

learner_data.py   find, export and delete one person's rows (services)
readable.py       the export as the person reads it (titles, quiz questions with their answers, right or wrong)
erasure.py        what a deletion leaves (a keyed hash): no roster re-import, grades held on return, re-applied
                  after a restore
subjects.py       the keyed hash of (issuer, client id, sub), and the lookups launches and roster refreshes make
cli.py            `scripts/flask learner export | delete | send-grades | reapply-erasures`

Expired launch-store entries and tool sessions are purged on their own (lti_tool/housekeeping.py).
"""
