"""LIS role URIs (LTI 1.3 Core §5.3.7 and Appendix A): who counts as teaching staff in a context."""

from __future__ import annotations

from collections.abc import Iterable

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
STAFF_NAMES = frozenset({"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"})
# Context (membership) roles, and institution/system roles that grant staff rights in any context.
STAFF_VOCABULARIES = (LIS + "membership", LIS + "institution/person", LIS + "system/person")


def _split(role: str) -> tuple[str, str]:
    """('http://…/membership', 'Instructor') for full URIs, incl. sub-roles 'membership/Instructor#TeachingAssistant'."""
    if "#" in role:
        base, name = role.rsplit("#", 1)
        return base, name
    return "", role


def is_instructor(roles: Iterable[str]) -> bool:
    for role in roles:
        base, name = _split(role)
        if name not in STAFF_NAMES:
            continue
        if base == "":
            # Deprecated simple names ("Instructor") are context roles (LTI 1.3 Core §A.2.2).
            return True
        if base.startswith(STAFF_VOCABULARIES):
            return True
    return False


LEARNER_ROLES = frozenset({"Learner", LIS + "membership#Learner", LIS + "institution/person#Learner"})


def is_learner(roles: Iterable[str]) -> bool:
    """A Learner (context or institution role, full URI or short name; a Learner sub-role such as
    `membership/Learner#NonCreditLearner` too) who holds no staff role."""
    roles = list(roles)
    learner = any(r in LEARNER_ROLES or r.startswith(LIS + "membership/Learner#") for r in roles)
    return learner and not is_instructor(roles)
