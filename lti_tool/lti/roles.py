"""LIS role URIs (LTI 1.3 Core §5.3.7 and Appendix A.2): who counts as teaching staff in a context.

Only *context* roles say what someone may do in the course the launch comes from: the membership vocabulary
(`…/lis/v2/membership#Instructor`), its sub-roles (`…/membership/Instructor#TeachingAssistant`, whose principal
role is the part before `#`), and the deprecated simple names that stand for context roles (Core §A.2.3.1:
`Instructor`). Institution and system roles (`…/institution/person#Instructor`, `…/system/person#Administrator`)
describe someone's job at the institution, not in this course: a learner of the course who is a teacher
elsewhere, or an administrator of the platform, does not see the course's gradebook through them. Moodle always
sends a context role (docs/launch.md "Roles": `membership#Instructor` for anyone who may manage the activity, site
administrators included), so its site administrators still reach the gradebook.
"""

from __future__ import annotations

from collections.abc import Iterable

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
MEMBERSHIP = LIS + "membership"
STAFF_NAMES = frozenset({"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"})


def context_role(role: str) -> str | None:
    """The principal context role a role URI stands for ("Instructor"), or None for other vocabularies.

    `…/membership#Instructor` and `Instructor` -> "Instructor"; the sub-role
    `…/membership/Instructor#TeachingAssistant` -> "Instructor" (its principal); `…/membership/Learner#Instructor`
    -> "Learner"; institution, system and unknown vocabularies -> None.
    """
    if "#" not in role:
        return role if role and "/" not in role and ":" not in role else None
    base, name = role.rsplit("#", 1)
    if base == MEMBERSHIP:
        return name
    if base.startswith(MEMBERSHIP + "/"):
        principal = base[len(MEMBERSHIP) + 1 :]
        return principal if principal and "/" not in principal else None
    return None


def is_instructor(roles: Iterable[str]) -> bool:
    return any(context_role(role) in STAFF_NAMES for role in roles)


LEARNER_ROLES = frozenset({"Learner", LIS + "membership#Learner", LIS + "institution/person#Learner"})


def is_learner(roles: Iterable[str]) -> bool:
    """A Learner (context or institution role, full URI or short name; a Learner sub-role such as
    `membership/Learner#NonCreditLearner` too) who holds no staff role in the context."""
    roles = list(roles)
    learner = any(r in LEARNER_ROLES or r.startswith(LIS + "membership/Learner#") for r in roles)
    return learner and not is_instructor(roles)
