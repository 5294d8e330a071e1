"""Grades on their way to the LMS gradebook: a transactional outbox, workers, AGS 2.0.

Whatever changes a learner's grade calls `enqueue_grades(s, user_id=…, context_id=…, course=…,
changed_module_ids=…)` in the same transaction as the progress it records; a worker delivers the rows.

What is sent (per learner and context; instructors' own activity is never queued). Only activities that accept
grades get any: a resource link whose launch carried the AGS `lineitem` claim (ResourceLink.lineitem_url). A
launch without it (Moodle: "Accept grades from the tool" off; the `lineitems` container and the scopes still
come, they belong to the tool) means no grade for that activity and no line item created for it.
- Course result -> the `lineitem` of each resource link the learner launched that delivers the whole course
  (ResourceLink.module_id None): scoreGiven = 100 × completed required modules ÷ required modules, scoreMaximum
  100; activityProgress Completed when the course is complete (CourseProgress.completed_at, or every required
  module completed), InProgress once anything was done, else Started; comment "3 von 8 Modulen abgeschlossen".
- Module result (for each changed module) -> the `lineitem` of every resource link that delivers just that
  module (deep-linked activity, custom module=X). Per-module line items through the container only where the
  teacher asked for them: a whole-course link launched with the custom parameter `module_grade_items=true`
  (ResourceLink.module_grade_items), when the platform granted the line-item scope and no link of the module
  exists in the context: found by resourceId = module id (GET lineitems?resource_id=…&tag=…) or created
  (label "<n>. <title>", tag = course id, scoreMaximum 100), remembered in `line_item`. scoreGiven = best quiz
  score × 100; activityProgress Completed when the module is complete, else InProgress.
- gradingProgress FullyGraded, except Pending while the course requires reviewed practice tasks
  (`practice_review_required`) and a submitted one awaits review (for the course: any module's; for a
  module: its own). Moodle drops scoreGiven unless FullyGraded, so the grade shows again once the review is
  recorded, which must enqueue again (the gradebook's review action calls enqueue_grades).
- Every score carries userId (the LTI sub), scoreGiven, scoreMaximum, activityProgress, gradingProgress, a
  German comment and a timestamp: ISO 8601 UTC with microseconds, max(now, previous + 1 µs) per (user,
  context, target), so strictly increasing.

Reconcile (`reconcile`): a learner's launch queues, in the launch's transaction, what the launched link's grade
items should hold but were never sent (or not the current value): an activity added after the learner's
results exist, a module placed later. Only for a learner with a result (an empty launch sends nothing: Moodle's
"receive a grade" completion would count a 0). The teacher's "send" in the gradebook does the same for every
activity of the context, launched by the learner or not.

Outbox states (GradeOutbox.state, `outbox.RowState`; the platform's answers are `ags.OutcomeKind`, mapped to
these in outbox/record.py):
  pending     waiting to be sent (next_attempt_at says when)
  sending     leased to a worker until lease_until; claimed again after that (the worker died)
  sent        the platform answered 2xx
  applied     the platform answered 409: it already had this score or a newer one; never retried
  failed      the platform refused it (other 4xx), reason in last_error; `resend` queues it again
  removed     the platform answered 404: the teacher deleted the grade item. Nothing more is queued for the
              target, a per-module line item is marked removed (LineItem.removed_at) and never created again
              unless a teacher asks for it (`resend(..., removed=True)`, the gradebook's button)
  superseded  a newer score for the same user, context and target was queued first; never sent
A new score supersedes the older pending ones of its target; a row that is sending when a newer one arrives
is superseded instead of retried, and a row with a newer sibling is superseded when claimed. A score whose
newest row already carries the same values is not queued again. A row waits while an older row of its
target is in flight, so a target's scores reach the platform in order.

One refinement of "409 = applied": Moodle compares a score's timestamp with the grade's `timemodified` in whole
seconds: the moment it *saved* the previous grade (the activity's own grade item, its clock), or the previous
score's own timestamp (a line item made through the container). A score queued while our previous one for the
same user and line item was in flight or in the same second, or whose timestamp shares its second with a
previous score of ours (a score queued right after a restamped one carries a timestamp just after it, ahead of
the clock: `payloads.next_timestamp`), is refused although it is newer. When our own previous delivery explains
the 409 (`outbox.record.own_conflict`), the row is sent once more (GradeOutbox.restamps, at most once), at and
with a timestamp in the first whole second after the clock and every timestamp of ours that may stand there;
any other 409 is applied.

Send again (`resend`): a failed row stays as history; a new pending row with the same score and a fresh
timestamp is queued (so "send again" twice does not send twice: only failed rows that are still the newest
of their target are picked). Pending rows waiting for a retry become due at once.
"""

from __future__ import annotations

from .outbox.enqueue import any_result, enqueue_grades, reconcile, resend

__all__ = ["any_result", "enqueue_grades", "reconcile", "resend"]
