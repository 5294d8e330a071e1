"""All tables, typed (SQLAlchemy 2 declarative), one module per domain; import them from here.

Multi-tenant by construction: every row below Platform hangs off a Platform and, where LTI scopes an
identifier to a deployment (context, resource link), off a Deployment. A context's data is reached
only through the context row a launch resolved, never by a bare LTI id.

The modules are imported in a fixed order: the privacy notice lists the tables in the order they are defined
(`Base.metadata.tables`).
"""

from __future__ import annotations

# The order of definition is the privacy notice's order: keep these imports as they are.
# isort: off
from .base import PK, Base, UTCDateTime, utcnow
from .platforms import Deployment, Platform, RegistrationLink, ToolKey
from .people import Context, LinkLaunch, Membership, ResourceLink, User
from .sessions import LaunchCache, ToolSession
from .progress import (
    CourseProgress,
    LearnerSummary,
    LessonVisit,
    ModuleProgress,
    PracticeReviewRound,
    PracticeSubmission,
    QuizAttempt,
    ReviewDecision,
)
from .exchange import ExchangeProfile, ExchangeReply
from .certification import Certificate, CertificateEvent, RegisterAudit, RegisterEntry
from .grades import GradeOutbox, LineItem, WorkerHeartbeat
from .roster import Erasure, ListedLearner, RosterEntry
from .operators import Operator
# isort: on

__all__ = [
    "PK",
    "Base",
    "Certificate",
    "CertificateEvent",
    "Context",
    "CourseProgress",
    "Deployment",
    "Erasure",
    "ExchangeProfile",
    "ExchangeReply",
    "GradeOutbox",
    "LaunchCache",
    "LearnerSummary",
    "LessonVisit",
    "LineItem",
    "LinkLaunch",
    "ListedLearner",
    "Membership",
    "ModuleProgress",
    "Operator",
    "Platform",
    "PracticeReviewRound",
    "PracticeSubmission",
    "QuizAttempt",
    "RegisterAudit",
    "RegisterEntry",
    "RegistrationLink",
    "ResourceLink",
    "ReviewDecision",
    "RosterEntry",
    "ToolKey",
    "ToolSession",
    "UTCDateTime",
    "User",
    "WorkerHeartbeat",
    "utcnow",
]
