"""Challenges (揭榜掛帥): posting with a held bounty, government matching funds, applications,
shortlist, award, milestones paid from the holds, withdrawal, cancellation, the result asset."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from api import auth
from api.context import caller, read_uow, uow
from api.pagination import next_link
from api.schemas.challenges import (
    ApplicationCreateSchema,
    ApplicationSchema,
    AwardCreateSchema,
    ChallengeCreateSchema,
    ChallengeQuerySchema,
    ChallengeSchema,
    ReasonSchema,
    ResultCreateSchema,
    ResultSchema,
    ShortlistSchema,
)
from contracts.services import challenges

blp = Blueprint("challenges", __name__, url_prefix="/v1/challenges",
                description="Challenges (揭榜掛帥)")


@blp.route("", methods=["POST"])
@blp.arguments(ChallengeCreateSchema)
@blp.response(201, ChallengeSchema)
@auth.required
def post(body: dict[str, Any]) -> Any:
    """A company, start-up or government body posts a challenge. The bounty is held from its
    available cash now. With `matching` funds the challenge is `awaiting_matching` until the
    named government party confirms them (`POST .../matching-funds`), which holds them from
    its own cash; then it opens for applications."""
    return challenges.post_challenge(uow(), caller(), body)


@blp.route("", methods=["GET"])
@blp.arguments(ChallengeQuerySchema, location="query")
@blp.response(200, ChallengeSchema(many=True))
def browse(query: dict[str, Any]) -> Any:
    """Every challenge by id, optionally of one `status` or `field`; follow `Link: rel=next`."""
    page = challenges.browse_challenges(read_uow(), query["cursor"], query["limit"],
                                        status=query["status"], field_code=query["field"])
    return page, 200, next_link(page, query["limit"], lambda view: view.challenge.id)


@blp.route("/<challenge_id>", methods=["GET"])
@blp.response(200, ChallengeSchema)
def read(challenge_id: str) -> Any:
    """A challenge: its terms, escrow by funder, milestones, shortlist and award."""
    return challenges.read_challenge(read_uow(), challenge_id)


@blp.route("/<challenge_id>/matching-funds", methods=["POST"])
@blp.response(200, ChallengeSchema)
@auth.required
def confirm_matching(challenge_id: str) -> Any:
    """The government party named for matching funds confirms them: they are held from its
    available cash and the challenge opens."""
    return challenges.confirm_matching(uow(), caller(), challenge_id)


@blp.route("/<challenge_id>/applications", methods=["POST"])
@blp.arguments(ApplicationCreateSchema)
@blp.response(201, ApplicationSchema)
@auth.required
def apply(body: dict[str, Any], challenge_id: str) -> Any:
    """A team applies (the caller is one of its members) with its proposal and the agreed
    payout percentages of its parties. The application's id is the team's id."""
    return challenges.apply(uow(), caller(), challenge_id, body["team"], body["proposal"])


@blp.route("/<challenge_id>/applications", methods=["GET"])
@blp.response(200, ApplicationSchema(many=True))
@auth.required
def applications(challenge_id: str) -> Any:
    """Every application for the poster and the operator; a team member sees its own."""
    return challenges.list_applications(read_uow(), caller(), challenge_id)


@blp.route("/<challenge_id>/shortlist", methods=["POST"])
@blp.arguments(ShortlistSchema)
@blp.response(200, ChallengeSchema)
@auth.required
def shortlist(body: dict[str, Any], challenge_id: str) -> Any:
    """The poster adds teams that applied to the shortlist, before the deadline."""
    return challenges.shortlist(uow(), caller(), challenge_id, body["team_ids"])


@blp.route("/<challenge_id>/award", methods=["POST"])
@blp.arguments(AwardCreateSchema)
@blp.response(200, ChallengeSchema)
@auth.required
def award(body: dict[str, Any], challenge_id: str) -> Any:
    """The poster awards the challenge to a shortlisted team before the deadline; the IP
    terms of the result are signed into the journal."""
    return challenges.award(uow(), caller(), challenge_id, body["team_id"])


@blp.route("/<challenge_id>/withdraw", methods=["POST"])
@blp.response(200, ChallengeSchema)
@auth.required
def withdraw(challenge_id: str) -> Any:
    """The poster withdraws the challenge before an award: every hold is refunded."""
    return challenges.withdraw(uow(), caller(), challenge_id)


@blp.route("/<challenge_id>/cancel", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, ChallengeSchema)
@auth.required
def cancel(body: dict[str, Any], challenge_id: str) -> Any:
    """The operator cancels an awarded challenge after its deadline (the team did not
    deliver): accepted milestones stay paid; what is still held returns to each funder."""
    return challenges.cancel(uow(), caller(), challenge_id, body["reason"])


@blp.route("/<challenge_id>/milestones/<key>/report", methods=["POST"])
@blp.response(200, ChallengeSchema)
@auth.required
def report(challenge_id: str, key: str) -> Any:
    """A member of the awarded team reports milestone `key` done."""
    return challenges.report_milestone(uow(), caller(), challenge_id, key)


@blp.route("/<challenge_id>/milestones/<key>/accept", methods=["POST"])
@blp.response(200, ChallengeSchema)
@auth.required
def accept(challenge_id: str, key: str) -> Any:
    """The poster accepts a reported milestone: its share of every funder's hold is paid to
    the team's parties by their percentages (once; `payments` lists them)."""
    return challenges.accept_milestone(uow(), caller(), challenge_id, key)


@blp.route("/<challenge_id>/milestones/<key>/reject", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, ChallengeSchema)
@auth.required
def reject(body: dict[str, Any], challenge_id: str, key: str) -> Any:
    """The poster rejects a reported milestone with a reason; the team may report it again."""
    return challenges.reject_milestone(uow(), caller(), challenge_id, key, body["reason"])


@blp.route("/<challenge_id>/result-asset", methods=["POST"])
@blp.arguments(ResultCreateSchema)
@blp.response(201, ResultSchema)
@auth.required
def register_result(body: dict[str, Any], challenge_id: str) -> Any:
    """Register the completed challenge's result as an asset, owned as its IP terms say (the
    owner they name calls this), with inventors from the awarded team and a link back to the
    challenge."""
    return challenges.register_result(uow(), caller(), challenge_id, **body)
