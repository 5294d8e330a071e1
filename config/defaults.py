"""Defaults for every installation. Override with environment variables prefixed LTI_TOOL_
(e.g. LTI_TOOL_DATABASE_URL); values are read as JSON where they parse as JSON (true, 5, [..])."""

# "production" turns off everything meant for trying the tool out (the demo LMS).
ENV = "production"

# Public base URL of the tool, e.g. "https://lti.example.org". Used in the registration values an LMS admin
# copies and in dynamic registration. When empty, the URL of the current request is used (development only).
BASE_URL = ""

# Empty: a SQLite file in the instance folder. Production: postgresql+psycopg://user:pass@host/dbname
DATABASE_URL = ""

# Optional. With it, the launch cache (OIDC state/nonce, platform keys) and access tokens live in Redis.
REDIS_URL = ""

# Number of reverse proxies in front of the tool that set X-Forwarded-For/-Proto/-Host (werkzeug ProxyFix).
PROXY_FIX = 0

# Where every erasure of a learner (`scripts/flask learner delete`) is also appended: one line each, a keyed hash
# and the time, no personal data. Empty: erasures.jsonl in the instance folder. Keep it (and back it up) apart
# from the database: after a restore, `scripts/flask learner reapply-erasures` reads it.
ERASURE_LOG = ""

# Where course folders live; the default course for resource links without a "course" custom parameter.
CONTENT_DIR = ""
DEFAULT_COURSE = "grundlagenkurs"

# Logging to standard error: the tool's level (libraries log warnings only); "text" lines or "json" (one object
# per line with time, level, logger, message, request_id).
LOG_LEVEL = "INFO"
LOG_FORMAT = "text"

# Prometheus metrics at GET /metrics for a scraper that sends "Authorization: Bearer <token>" (empty: no
# /metrics route). Grade workers serve theirs on a port of their own (grades worker --metrics-bind).
METRICS_TOKEN = ""

# Interface languages (the first is the default when the platform sends no locale).
LANGUAGES = ["de", "en"]

# LTI launch checks.
LAUNCH_LEEWAY_SECONDS = 60  # clock skew allowed on exp/iat/nbf (at most 60)
OIDC_STATE_TTL_SECONDS = 600  # a login must be completed within this time
PLATFORM_JWKS_TTL_SECONDS = 3600  # cached platform key sets are refreshed after this
JWKS_REFETCH_MIN_INTERVAL_SECONDS = 10  # at most one refetch on an unknown kid per platform per interval

# Tool session carried in the tool's own URLs after a launch: it ends SESSION_IDLE_SECONDS after its last
# request, and SESSION_LIFETIME_SECONDS after the launch at the latest. Pages warn SESSION_WARNING_SECONDS before
# the end (the idle end can be put off from the warning).
SESSION_LIFETIME_SECONDS = 8 * 3600
SESSION_IDLE_SECONDS = 90 * 60
SESSION_WARNING_SECONDS = 5 * 60

# Tool keys: a retired key stays in the JWKS this long, for tokens signed shortly before a rotation.
KEY_RETIRE_GRACE_SECONDS = 24 * 3600

# Outbound HTTP (platform JWKS, token endpoint, AGS, NRPS, dynamic registration), all through lti_tool/http.py:
# connect and read timeouts, a total time per request (however slowly an answer drips in), the largest answer
# read. Requests go only to a platform's registered origins; to private or loopback addresses only where the
# platform is registered as an IP address or `localhost`, or for host names listed here (an intranet Moodle).
HTTP_CONNECT_TIMEOUT = 3.05
HTTP_READ_TIMEOUT = 10.0
HTTP_TOTAL_TIMEOUT = 15.0
HTTP_MAX_RESPONSE_BYTES = 1024 * 1024
OUTBOUND_PRIVATE_HOSTS: list[str] = []

# Largest request body accepted (id_tokens, forms). Bigger ones get a 413 page.
MAX_CONTENT_LENGTH = 256 * 1024

# Dynamic registration links are valid this long unless --expires says otherwise.
REGISTRATION_LINK_TTL_SECONDS = 7 * 24 * 3600
# A registration that fails gives its link back for another try, at most this many tries in all (each is logged).
REGISTRATION_LINK_MAX_ATTEMPTS = 3

# Built-in demo LMS (only for trying the tool out; never in production).
DEMO_LMS = False
DEMO_LMS_URL = ""

# Grade delivery: run a worker thread inside the app process ("auto": on SQLite only; true; false). With
# PostgreSQL, run `scripts/flask grades worker` processes instead.
EMBEDDED_WORKER = "auto"
GRADE_POLL_SECONDS = 1.0  # how often an idle worker looks for due grades
GRADE_BATCH_SIZE = 20  # rows one worker claims at a time
GRADE_LEASE_SECONDS = 120  # a claimed row is someone else's again after this (worker died)
GRADE_RECORD_EVERY = 10  # outcomes written per transaction (fewer commits; see grading/worker.py)
GRADE_BACKOFF_BASE_SECONDS = 2.0  # retry n waits a random time up to base * 2**(n-1) ("full jitter") ...
GRADE_BACKOFF_CAP_SECONDS = 600  # ... but at most this, unless the platform's Retry-After asks for more
GRADE_RETRY_AFTER_MAX_SECONDS = 3600  # a Retry-After beyond this is cut to it
GRADE_TOKEN_MARGIN_SECONDS = 60  # an access token is renewed this long before it expires
# A failed token request rests the platform's token endpoint (no token request to it, its grades wait) for base,
# then 2x, 4x ... base after each further failure in a row, at most cap (longer only if its Retry-After asks).
GRADE_TOKEN_BACKOFF_BASE_SECONDS = 5.0
GRADE_TOKEN_BACKOFF_CAP_SECONDS = 300
GRADE_HEARTBEAT_SECONDS = 10  # workers record that they are alive this often
HOUSEKEEPING_SECONDS = (
    600  # each grade worker purges expired launch-store entries and sessions this often (0: never)
)
# Grade rows sent (or applied) longer ago than this are pruned by the grade workers' housekeeping, except the
# newest of each grade; superseded ones after an hour (lti_tool/grading/outbox/retention.py). 0: keep sent rows.
GRADE_HISTORY_DAYS = 180

# Course roster (NRPS): members asked for per page (0: the platform decides), and limits that stop a broken
# platform's endless `rel="next"` paging. The whole fetch must finish within NRPS_TIME_LIMIT_SECONDS (an
# instructor waits for it; keep it below gunicorn's timeout).
NRPS_PAGE_SIZE = 1000
NRPS_MAX_PAGES = 100
NRPS_MAX_MEMBERS = 50_000
NRPS_TIME_LIMIT_SECONDS = 20
NRPS_MAX_PAGE_BYTES = 16 * 1024 * 1024  # one page of the member list (1000 members take ~0.3 MB)

# Operator area (/admin): a sign-in lasts at most ADMIN_SESSION_SECONDS and ends earlier after
# ADMIN_IDLE_SECONDS without a request.
ADMIN_SESSION_SECONDS = 2 * 3600
ADMIN_IDLE_SECONDS = 30 * 60
# Failed sign-ins: after this many within ADMIN_LOGIN_LOCKOUT_SECONDS for one user name from one client address
# (whether the name exists or not), or from one client address for any names, that address may not sign in
# (with that name) for ADMIN_LOGIN_LOCKOUT_SECONDS. Other addresses are not affected.
ADMIN_LOGIN_MAX_FAILURES = 5
ADMIN_LOGIN_MAX_FAILURES_PER_IP = 20
ADMIN_LOGIN_LOCKOUT_SECONDS = 15 * 60

# The certificate of participation as the issuing organisation prints it (lti_tool/certificate/pdf.py). The issuer's
# name comes from the course file (`issuer`); an operator may print another name. The logo is a PNG, JPEG or SVG
# file the operator may use (none is shipped: without one, the issuer's name stands in type). The signatory is
# printed under the signature line, e.g. "Geschäftsführung".
CERTIFICATE_ISSUER_NAME = ""
CERTIFICATE_LOGO = ""
CERTIFICATE_SIGNATORY = ""

# Certification register (/admin/register, accounts with the role "office"): an entry whose completion is older
# than this many days leaves the register, and so does an audit-trail line older than that (checked with the
# housekeeping, lti_tool/housekeeping.py). 0: entries stay until the learner's data is deleted
# (`scripts/flask learner delete`). The learner's certificate itself is not touched.
REGISTER_RETENTION_DAYS = 0

# The operator's facts for the imprint (§ 5 DDG), the privacy notice (Art. 13 GDPR) and the accessibility
# statement: a TOML file, e.g. /etc/nama-lti/legal.toml (every key in config/legal.example.toml). Without it the
# pages show marked placeholders, and in production the log (first request of each process) and /admin warn.
LEGAL_FILE = ""

# A web process serves its first this many requests one at a time (lti_tool/warmup.py): a cold start served by
# several threads at once leaves the process with ~50 MB more memory. 0: no such turn-taking.
WARMUP_SERIAL_REQUESTS = 150
