"""The certification register: every completion of every course across platforms and deployments, for the NaMa
NRW certification office (accounts of the operator area with the role `office`, and only they).

entries.py     register entries: written when a course is completed; searched, filtered, paged; one record
revocation.py  revoking a certificate with a reason and reinstating it (who, when, why; nothing deleted)
audit.py       the audit trail: every view of a record, every export, revocation and reinstatement
export.py      the register as CSV for spreadsheets (the gradebook's German-Excel form), streamed
retention.py   REGISTER_RETENTION_DAYS: entries older than that leave the register
views.py       the pages under /admin/register (they join the operator area's blueprint and its guard)
"""
