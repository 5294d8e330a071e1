"""Who gets the gradebook: context roles only (LTI 1.3 Core §A.2); institution and system roles never on their own.

A launch with a context Learner role plus `institution/person#Instructor` (or `#Administrator`, or a system
role) opened the course's gradebook before. Moodle's site administrator still gets it, because Moodle sends the
context role `membership#Instructor` for them (lti_get_ims_role; the demo LMS's `uri_roles` does the same).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from lti_tool.demo_lms.launch import uri_roles
from lti_tool.demo_lms.storage import User as DemoUser
from lti_tool.lti.roles import context_role, is_instructor, is_learner

from ..peer import Launcher, claim

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize(
    ("roles", "instructor"),
    [
        ([LIS + "membership#Instructor"], True),
        (["Instructor"], True),  # deprecated simple name of the context role
        ([LIS + "membership#ContentDeveloper"], True),
        ([LIS + "membership#Administrator"], True),
        ([LIS + "membership/Instructor#TeachingAssistant"], True),
        ([LIS + "membership/Instructor#Lecturer"], True),
        ([LIS + "membership#Learner"], False),
        ([LIS + "membership/Learner#Instructor"], False),  # a sub-role of Learner, not an instructor
        ([LIS + "membership#Learner", LIS + "institution/person#Instructor"], False),
        ([LIS + "membership#Learner", LIS + "institution/person#Administrator"], False),
        ([LIS + "membership#Learner", LIS + "system/person#Administrator"], False),
        ([LIS + "membership#Learner", LIS + "system/person#SysAdmin"], False),
        ([LIS + "institution/person#Instructor"], False),
        ([LIS + "system/person#Administrator", LIS + "institution/person#Administrator"], False),
        (["urn:lti:instrole:ims/lis/Instructor"], False),
        ([LIS + "membership#Mentor"], False),
        ([], False),
    ],
)
def test_only_context_roles_make_an_instructor(roles: list[str], instructor: bool) -> None:
    assert is_instructor(roles) is instructor


def test_context_role_names_the_principal_role() -> None:
    assert context_role(LIS + "membership/Instructor#TeachingAssistant") == "Instructor"
    assert context_role(LIS + "membership#Learner") == "Learner"
    assert context_role(LIS + "institution/person#Instructor") is None
    assert context_role("http://example.org/vocab#Instructor") is None


def test_moodle_site_admin_roles_make_an_instructor() -> None:
    enrolled_learner = DemoUser(course_role="Learner", is_admin=True)
    not_enrolled = DemoUser(course_role=None, is_admin=True)
    for user in (enrolled_learner, not_enrolled):
        roles = uri_roles(user)
        assert LIS + "institution/person#Administrator" in roles  # what Moodle adds for site admins
        assert is_instructor(roles) and not is_learner(roles)


@pytest.mark.parametrize(
    "extra",
    [
        LIS + "institution/person#Instructor",
        LIS + "institution/person#Administrator",
        LIS + "system/person#Administrator",
    ],
)
def test_a_learner_with_an_institution_or_system_role_gets_the_learner_pages(
    launcher: Launcher, extra: str
) -> None:
    page = launcher.launch_and_follow(**claim("roles", [LIS + "membership#Learner", extra]))
    assert page.status_code == 200
    assert "/lehrende/" not in page.url
    session_base = re.match(r"^(.*/s/[^/]+/)", page.url)
    assert session_base is not None
    gradebook = launcher.browser.get(session_base.group(1) + "lehrende/")
    assert gradebook.status_code == 403


def test_moodle_site_admin_launch_reaches_the_gradebook(app: Flask, launcher: Launcher) -> None:
    roles = uri_roles(DemoUser(course_role="Learner", is_admin=True))
    page = launcher.launch_and_follow(sub="admin-2", **claim("roles", roles))
    assert page.status_code == 200 and "/lehrende/" in page.url


def test_an_empty_roles_claim_is_a_participant_without_a_role(launcher: Launcher) -> None:
    """Core §5.3.7: the roles claim is required, its value "a (possibly empty) array"; a platform that sends no role
    information sends `[]`. Such a person gets the learner pages (their work is recorded and graded like a
    learner's: the platform decides whether it takes the score), never the gradebook, and is listed there once
    they launched, as every launched person who is not staff (docs/launch.md "Roles")."""
    page = launcher.launch_and_follow(sub="no-role-1", **claim("roles", []))
    assert page.status_code == 200 and "/lehrende/" not in page.url
    session_base = re.match(r"^(.*/s/[^/]+/)", page.url)
    assert session_base is not None
    assert launcher.browser.get(session_base.group(1) + "lehrende/").status_code == 403
    teacher = launcher.launch_and_follow(
        sub="teacher-1", name="Tom Lehrer", **claim("roles", [LIS + "membership#Instructor"])
    )
    assert teacher.status_code == 200 and "/lehrende/" in teacher.url
    assert "Lea Schneider" in teacher.text
