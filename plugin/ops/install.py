"""`python -m plugin install [--dry-run]`: set a forum up for the service. Idempotent: run it as often as you like.

Each step looks first and says what it found or did — `exists`, `created`, `updated` (or, with `--dry-run`,
`would create` / `would update`), `ok` for a check, `problem` with what to do about it:

1. the API key works, its user is an admin, and it reaches the admin API (an all-scope key);
2. the bot account `COC_BOT_USERNAME`: active, not suspended, a moderator (Discourse's per-user limits and refusals
   never hold staff back), trust level 1+;
3. the groups `COC_CARE_GROUP` (messageable by everyone, so the bot can message it), `COC_CONSENT_GROUP` (members
   join and leave it themselves) and `COC_MODERATORS_GROUP` if set;
4. the tags, in one tag group (only staff may create tags on a stock Discourse, so they must exist before the bot
   tags a draft);
5. the drafts category `COC_DRAFTS_CATEGORY` and the Code's own category `COC_DOCUMENT_CATEGORY` (everyone may
   read and reply in both: the Code is the members');
6. the living document: the topic given by `COC_DOCUMENT_TOPIC_ID`, else the one with external_id `coc-document`
   (moved to the Code's category if an earlier install left it in the drafts category), else a new one from the
   bundled starter text, in the Code's category;
7. the care wording conversation: a message from the bot to the care group (external_id `coc-care-wording`) that
   lists every care message with its default words; the team changes them by replying (worker/care_wording.py);
8. the service's saved Data Explorer queries (plugin/adapters/data_explorer.py), created or brought up to date
   where the forum has the plugin on (site setting `data_explorer_enabled`): rebuilds then read in pages of 10,000
   rows; where it is off or absent, a normal forum, the step says so and rebuilds read through the API;
9. the webhook to `COC_PUBLIC_URL` + the webhook path, with the secret, JSON, the topic, post and like events.

Then the command tells Redis which conversation holds the care messages' words, caches the living document and
seeds the engagement figures with who posted before (from the latest `COC_SEED_PAGES` pages of public posts), so
that "new contributor" means new.

Every forum call goes through the adapter and the shared API budget; when the budget is spent, install waits (it
is a command, not a worker) and carries on.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from plugin.adapters.budget import ApiBudget
from plugin.adapters.data_explorer import NAME_PREFIX, PAGE_SIZE, QUERIES, DataExplorer
from plugin.adapters.engagement_store import Engagement, seed_from_forum
from plugin.adapters.forum import (
    Category,
    Forum,
    ForumRefused,
    Member,
    Throttled,
    TopicView,
    WebHook,
)
from plugin.adapters.keys import Keys
from plugin.adapters.living_document import cache_document, document_ids
from plugin.adapters.redis import connect
from plugin.adapters.store import Store
from plugin.config import ConfigError, Settings
from plugin.domain.names import CARE_WORDING_EXTERNAL_ID, DOCUMENT_EXTERNAL_ID, TAG_CODE_OF_CARE, TAG_GROUP, TAGS
from plugin.text.care_wording import conversation as care_wording_conversation

EXISTS, CREATED, UPDATED = "exists", "created", "updated"
WOULD_CREATE, WOULD_UPDATE = "would create", "would update"
OK, PROBLEM = "ok", "problem"

BOT_NAME = "Code of Care bot"
DOCUMENT_TITLE = "Our Code of Care"
CATEGORY_COLOR, CATEGORY_TEXT_COLOR = "7B5EA7", "FFFFFF"
CATEGORY_DESCRIPTION = (
    "Proposed changes to our Code of Care. Every member may read and reply; moderators decide with /approve or /reject."
)
DOCUMENT_CATEGORY_DESCRIPTION = (
    "Our Code of Care: how we look after each other here, written together. Everyone may read it, talk about it "
    "and propose new wording."
)

EVERYONE = 99
"""Group messageable/mentionable level "everyone"."""
NOBODY = 0
PUBLIC = 0
"""Group visibility level "public"."""
CONTENT_TYPE_JSON = 1
"""Webhook content type id for application/json."""

WEBHOOK_EVENTS = (
    "topic_created",
    "topic_edited",
    "topic_destroyed",
    "topic_recovered",
    "post_created",
    "post_edited",
    "post_destroyed",
    "post_recovered",
    "post_liked",
)
"""The events the receiver uses (`topic_<status>_status_updated` arrive under `topic_edited`)."""
KNOWN_EVENT_TYPE_IDS = {
    "topic_created": 101,
    "topic_edited": 103,
    "topic_destroyed": 104,
    "topic_recovered": 105,
    "post_created": 201,
    "post_edited": 202,
    "post_destroyed": 203,
    "post_recovered": 204,
    "post_liked": 1501,
}
"""Discourse's `WebHookEventType` ids, used only if the forum does not list its event types."""

MAX_WAIT_SECONDS = 600.0
"""How long install waits in all for the API budget before it gives up on a step."""


@dataclass(frozen=True)
class Step:
    """One line of install's answer."""

    subject: str  # "bot user care-bot"
    outcome: str  # EXISTS, CREATED, UPDATED, WOULD_CREATE, WOULD_UPDATE, OK or PROBLEM
    detail: str = ""

    @property
    def problem(self) -> bool:
        return self.outcome == PROBLEM

    def line(self) -> str:
        return f"{self.outcome:<12}  {self.subject}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class GroupPlan:
    name: str
    full_name: str
    fields: dict[str, Any]
    purpose: str


class Installer:
    """Runs the steps in order; `run()` returns every step's result (and hands each to `report` as it is done).

    After a run, `document` holds the living document's `topic_id` and `post_id` (None if it is not there yet).
    `on_wait(seconds)` is told whenever install waits for the API budget.
    """

    def __init__(
        self,
        settings: Settings,
        forum: Forum,
        *,
        dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
        on_wait: Callable[[float], None] | None = None,
    ):
        self.settings = settings
        self.forum = forum
        self.dry_run = dry_run
        self.sleep = sleep
        self.max_wait = max_wait
        self.on_wait = on_wait
        self.waited = 0.0
        self.document: dict[str, int] | None = None
        self.care_wording_topic_id: int | None = None  # the care group's conversation about the care messages' words
        self._hooks: list[WebHook] = []
        self._event_types: dict[str, int] = {}  # name → id, as the forum numbers them
        self._categories: list[Category] | None = None
        self._made: set[str] = set()  # what this run created (a step retried after a wait finds it)

    def run(self, report: Callable[[Step], None] | None = None) -> list[Step]:
        steps: list[Step] = []
        for step in (
            self.check_api_key,
            self.bot_user,
            self.groups,
            self.tags,
            self.drafts_category,
            self.document_category,
            self.living_document,
            self.care_wording,
            self.data_explorer_queries,
            self.webhook,
        ):
            done = self._attempt(step)
            steps.extend(done)
            if report is not None:
                for result in done:
                    report(result)
            if step == self.check_api_key and any(s.problem for s in done):
                break  # nothing else can work without a good admin key
        return steps

    def _attempt(self, step: Callable[[], list[Step]]) -> list[Step]:
        """Run a step; wait out the API budget and run it again (steps look before they act, so this is safe)."""
        while True:
            try:
                return [
                    Step(s.subject, CREATED, s.detail) if s.outcome == EXISTS and s.subject in self._made else s
                    for s in step()
                ]
            except Throttled as exc:
                if self.waited + exc.retry_after > self.max_wait:
                    return [
                        Step(
                            step.__name__.replace("_", " "),
                            PROBLEM,
                            f"gave up after waiting {self.waited:.0f} s for the API budget; run install again",
                        )
                    ]
                self.waited += exc.retry_after
                if self.on_wait is not None:
                    self.on_wait(exc.retry_after)
                self.sleep(exc.retry_after)
            except ForumRefused as exc:
                return [Step(step.__name__.replace("_", " "), PROBLEM, f"the forum refused {exc}")]

    # ------------------------------------------------------------------------------------------ 1. the key

    def check_api_key(self) -> list[Step]:
        subject = f"API key and admin user {self.settings.discourse_api_username}"
        try:
            user = self.forum.admin_user(self.settings.discourse_api_username)
        except ForumRefused as exc:
            if exc.status == 403:
                return [
                    Step(
                        subject,
                        PROBLEM,
                        "the forum refused the key: check DISCOURSE_API_KEY and "
                        "DISCOURSE_API_USERNAME (Admin → API → Keys)",
                    )
                ]
            raise
        if user is None:
            return [Step(subject, PROBLEM, "there is no such user: set DISCOURSE_API_USERNAME to an admin's")]
        if not user.admin:
            return [Step(subject, PROBLEM, "this user is not an admin: the service needs an admin's key")]
        try:
            self._hooks, self._event_types = self.forum.web_hooks()
        except ForumRefused as exc:
            if exc.status in (403, 404):
                return [
                    Step(
                        subject,
                        PROBLEM,
                        'the key cannot use the admin API: create an all-scope ("Global") '
                        "key for an admin; granular keys do not cover what the service does",
                    )
                ]
            raise
        return [Step(subject, OK, "the key works, its user is an admin and it reaches the admin API")]

    # ------------------------------------------------------------------------------------------ 2. the bot

    def bot_user(self) -> list[Step]:
        """The bot account: active, not suspended, a moderator, trust level 1+.

        A moderator because Discourse's per-user limits and refusals never apply to staff (lib/rate_limiter.rb,
        lib/guardian.rb; FACTS.md "Third check"): a non-staff account may start one message every 15 s and 20 a
        day, so a hard evening of care requests would wait minutes to a day. Staff also lifts Discourse's mention
        limits: the service neutralizes every mention in what it posts itself (plugin.text.drafts.neutralize_mentions).
        """
        name = self.settings.bot_username
        subject = f"bot user {name}"
        user = self.forum.admin_user(name)
        outcome = CREATED if subject in self._made else EXISTS  # made by this run before a budget wait
        if user is None:
            made = self._create_bot(name, subject)
            if isinstance(made, Step):
                return [made]
            user, outcome = made, CREATED
        if user.suspended:
            return [
                Step(
                    subject,
                    PROBLEM,
                    f"the account is suspended until {user.suspended_till}: the forum "
                    f"refuses every call it makes. Unsuspend it (Admin → Users → {name})",
                )
            ]
        changes = []  # what is or would be changed, as the step's detail says it
        if not user.staff:
            changes.append("moderator (the forum's per-user limits and refusals never hold it back)")
            if not self.dry_run:
                self.forum.grant_moderation(user.id)
        if user.trust_level < 1:
            changes.append("trust level 1")
            if not self.dry_run:
                self.forum.set_trust_level(user.id, 1)
        if changes:
            done = WOULD_UPDATE if self.dry_run else CREATED if outcome == CREATED else UPDATED
            return [Step(subject, done, "made " + " and ".join(changes))]
        return [
            Step(
                subject,
                outcome,
                f"trust level {user.trust_level}, {'an admin' if user.admin else 'a moderator'}",
            )
        ]

    def _create_bot(self, name: str, subject: str) -> Member | Step:
        """Create the bot account; the step that says why not (or what a dry run would do) if it is not made."""
        if self.dry_run:
            return Step(subject, WOULD_CREATE, f"active, a moderator, trust level 1, email {self.bot_email()}")
        try:
            self.forum.create_user(
                username=name, name=BOT_NAME, email=self.bot_email(), password=secrets.token_urlsafe(32)
            )
        except ForumRefused as exc:
            return Step(
                subject,
                PROBLEM,
                f"the forum did not create the account ({'; '.join(exc.errors)}). If {self.bot_email()} is already "
                "some account's email (the forum does not say so when hide_email_address_taken is on), set "
                "COC_BOT_EMAIL to an address no account uses",
            )
        self._made.add(subject)
        user = self.forum.admin_user(name)
        if user is None:
            return Step(subject, PROBLEM, "the forum said it created the account but does not show it")
        return user

    def bot_email(self) -> str:
        if self.settings.bot_email:
            return self.settings.bot_email
        host = urlsplit(self.settings.discourse_url).hostname or "localhost"
        return f"{self.settings.bot_username}@{host}"

    # ------------------------------------------------------------------------------------------ 3. groups

    def group_plans(self) -> list[GroupPlan]:
        s = self.settings
        plans = [
            GroupPlan(
                s.care_group,
                "Peer support",
                {"visibility_level": PUBLIC, "mentionable_level": NOBODY, "messageable_level": EVERYONE},
                "care group",
            ),
            GroupPlan(
                s.consent_group,
                "Credited by name in Code of Care drafts",
                {
                    "visibility_level": PUBLIC,
                    "mentionable_level": NOBODY,
                    "messageable_level": NOBODY,
                    "public_admission": True,
                    "public_exit": True,
                },
                "consent group",
            ),
        ]
        if s.moderators_group:
            plans.append(
                GroupPlan(
                    s.moderators_group,
                    "Code of Care moderators",
                    {"visibility_level": PUBLIC, "mentionable_level": NOBODY, "messageable_level": NOBODY},
                    "moderators group",
                )
            )
        return plans

    def groups(self) -> list[Step]:
        steps = []
        for plan in self.group_plans():
            subject = f"{plan.purpose} {plan.name}"
            group = self.forum.group(plan.name)
            if group is not None:
                wanted = plan.fields.get("messageable_level")
                if wanted == EVERYONE and group.messageable_level != EVERYONE:
                    steps.append(
                        Step(
                            subject,
                            PROBLEM,
                            'exists, but the bot cannot message it: set "Who can '
                            'message this group" to Everyone (Admin → Groups → '
                            f"{plan.name} → Interaction)",
                        )
                    )
                else:
                    steps.append(Step(subject, EXISTS))
                continue
            if self.dry_run:
                steps.append(Step(subject, WOULD_CREATE))
                continue
            self.forum.create_group(name=plan.name, full_name=plan.full_name, **plan.fields)
            self._made.add(subject)
            steps.append(Step(subject, CREATED))
        return steps

    # ------------------------------------------------------------------------------------------ 4. tags

    def tags(self) -> list[Step]:
        existing = self.forum.tag_names()
        missing = [t for t in TAGS if t not in existing]
        steps = [Step(f"tag {t}", EXISTS) for t in TAGS if t in existing]
        if not missing:
            return steps
        if self.dry_run:
            return steps + [Step(f"tag {t}", WOULD_CREATE, f"in tag group “{TAG_GROUP}”") for t in missing]
        try:
            self.forum.create_tag_group(TAG_GROUP, missing)
            self._made.update(f"tag {t}" for t in missing)
        except ForumRefused as exc:
            if exc.status != 422:
                raise
            return steps + [
                Step(
                    f"tag {t}",
                    PROBLEM,
                    f"could not create it ({'; '.join(exc.errors)}): add it to "
                    f"the tag group “{TAG_GROUP}” (Admin → Tags)",
                )
                for t in missing
            ]
        return steps + [Step(f"tag {t}", CREATED, f"in tag group “{TAG_GROUP}”") for t in missing]

    # ------------------------------------------------------------------------------------------ 5. category

    def _find_category(self, name_or_id: str) -> Category | None:
        if self._categories is None:
            self._categories = self.forum.categories(as_admin=True)
        wanted = name_or_id.strip().lower()
        for category in self._categories:
            if (wanted.isdigit() and category.id == int(wanted)) or category.name.lower() == wanted:
                return category
        return None

    def drafts_category(self) -> list[Step]:
        name = self.settings.drafts_category
        return [self._category(f"drafts category “{name}”", name, "COC_DRAFTS_CATEGORY", CATEGORY_DESCRIPTION)]

    def document_category(self) -> list[Step]:
        """The living document's own category (COC_DOCUMENT_CATEGORY), apart from the drafts; none when it is set
        to "" or to the drafts category itself."""
        name = self.settings.document_category
        if not name.strip() or self._document_category_name().lower() == self.settings.drafts_category.strip().lower():
            return []
        subject = f"Code of Care category “{name}”"
        return [self._category(subject, name, "COC_DOCUMENT_CATEGORY", DOCUMENT_CATEGORY_DESCRIPTION)]

    def _document_category_name(self) -> str:
        return (self.settings.document_category or self.settings.drafts_category).strip()

    def _category(self, subject: str, name: str, variable: str, description: str) -> Step:
        """A category the service uses, created if there is none by that name (everyone may read and reply)."""
        found = self._find_category(name)
        if found is not None:
            return Step(subject, EXISTS, f"id {found.id}")
        if name.strip().isdigit():
            return Step(
                subject,
                PROBLEM,
                f"there is no category with that id: set {variable} to a name "
                "(install creates it) or to an existing category's id",
            )
        if self.dry_run:
            return Step(subject, WOULD_CREATE, "everyone may read and reply")
        created = self.forum.create_category(
            name=name, color=CATEGORY_COLOR, text_color=CATEGORY_TEXT_COLOR, description=description
        )
        self._made.add(subject)
        self._categories = None
        return Step(subject, CREATED, f"id {created.id}, everyone may read and reply")

    # ------------------------------------------------------------------------------------------ 6. the document

    def living_document(self) -> list[Step]:
        subject = "living document"
        if self.settings.document_topic_id:
            return [self._adopt_document(subject, self.settings.document_topic_id)]
        found = self.forum.topic_by_external_id(DOCUMENT_EXTERNAL_ID, as_admin=True)
        if found is not None:
            self.document = document_ids(found)
            return [Step(subject, EXISTS, f"topic {found.topic.id} “{found.topic.title}”"), *self._move_document(found)]
        return [self._create_document(subject)]

    def _move_document(self, found: TopicView) -> list[Step]:
        """A document that an earlier install put in the drafts category moves to its own category (once: then it
        is there). A document anywhere else stays where the community put it."""
        wanted_name = self._document_category_name()
        drafts = self._find_category(self.settings.drafts_category)
        wanted = self._find_category(wanted_name)
        if drafts is None or found.topic.category_id != drafts.id or (wanted is not None and wanted.id == drafts.id):
            return []
        subject = "living document's category"
        where = f"topic {found.topic.id} from “{drafts.name}” to “{wanted.name if wanted else wanted_name}”"
        if self.dry_run:
            return [Step(subject, WOULD_UPDATE, f"move {where}")]
        if wanted is None:  # the category step could not make it: it has said why
            return []
        self.forum.move_topic(found.topic.id, wanted.id)
        return [Step(subject, UPDATED, f"moved {where}")]

    def _adopt_document(self, subject: str, topic_id: int) -> Step:
        """The topic an operator named (COC_DOCUMENT_TOPIC_ID) becomes the living document."""
        try:
            topic = self.forum.topic(topic_id, as_admin=True)
        except ForumRefused as exc:
            if not exc.not_found:
                raise
            return Step(subject, PROBLEM, f"COC_DOCUMENT_TOPIC_ID={topic_id}: there is no such topic")
        self.document = document_ids(topic)
        return Step(subject, EXISTS, f"adopted topic {topic_id} “{topic.topic.title}” (COC_DOCUMENT_TOPIC_ID)")

    def _create_document(self, subject: str) -> Step:
        """A new living document from the starter text, in the document's category."""
        try:
            from plugin.domain.document import STARTER_TEXT  # noqa: PLC0415  (the domain's text, loaded only when needed)
        except ImportError as exc:
            return Step(
                subject,
                PROBLEM,
                "the bundled starter text (plugin.domain.document.STARTER_TEXT) is missing "
                f"from this installation ({exc}); or adopt a topic with "
                "COC_DOCUMENT_TOPIC_ID",
            )
        category_name = self._document_category_name()
        category = self._find_category(category_name)
        if self.dry_run:
            return Step(subject, WOULD_CREATE, f"“{DOCUMENT_TITLE}” from the starter text, in “{category_name}”")
        if category is None:
            return Step(subject, PROBLEM, f"there is no category “{category_name}” to put it in")
        try:
            post = self.forum.create_topic(
                title=DOCUMENT_TITLE,
                raw=STARTER_TEXT,
                category_id=category.id,
                tags=[TAG_CODE_OF_CARE],
                external_id=DOCUMENT_EXTERNAL_ID,
            )
        except ForumRefused as exc:
            if exc.status != 422 or not any("title" in e.lower() for e in exc.errors):
                raise
            return Step(
                subject,
                PROBLEM,
                f"a topic titled “{DOCUMENT_TITLE}” already exists and the forum refuses "
                f"a second ({'; '.join(exc.errors)}): adopt it as the living document "
                "with COC_DOCUMENT_TOPIC_ID=<its id>, or rename it, then run install again",
            )
        self.document = {"topic_id": post.topic_id, "post_id": post.id}
        return Step(subject, CREATED, f"topic {post.topic_id} “{DOCUMENT_TITLE}” in “{category_name}”")

    # ------------------------------------------------------------------------------------------ 6b. care's words

    def care_wording(self) -> list[Step]:
        """The care group's conversation where the team changes the care messages' words (plugin.text.care_wording):
        a message from the bot to the group, made once (by its external id), listing every message's defaults.
        Discourse lets every member of a group a message was sent to read it and reply (TopicGuardian: a private
        message is seen by its `all_allowed_users`, the allowed groups' members included)."""
        group = self.settings.care_group
        subject = "care wording conversation"
        found = self.forum.topic_by_external_id(CARE_WORDING_EXTERNAL_ID, as_admin=True)
        if found is not None:
            self.care_wording_topic_id = found.topic.id
            return [Step(subject, EXISTS, f"topic {found.topic.id} “{found.topic.title}”")]
        if self.dry_run:
            return [Step(subject, WOULD_CREATE, f"a message to the {group} group with every care message's words")]
        title, raw = care_wording_conversation()
        post = self.forum.private_message(
            title=title, raw=raw, recipients=[group], external_id=CARE_WORDING_EXTERNAL_ID
        )
        self._made.add(subject)
        self.care_wording_topic_id = post.topic_id
        return [Step(subject, CREATED, f"topic {post.topic_id} “{title}”, a message to the {group} group")]

    # ------------------------------------------------------------------------------------------ 6c. Data Explorer

    def data_explorer_queries(self) -> list[Step]:
        """The saved queries rebuilds read the forum's history with, in pages of 10,000 rows, where the forum has its
        Data Explorer plugin on. Off or not installed (the forum answers 404) is a normal forum, never a problem.
        Looks at the listing first (1 call; 2 where the plugin is off or mounted at the standalone plugin's path),
        then creates each missing query and updates each whose SQL changed (DataExplorer.ensure_queries: the
        listing again, then 1 call each)."""
        subject = "data explorer queries"
        explorer = DataExplorer(self.forum)
        try:
            listed = explorer._list()
        except ForumRefused as exc:
            if exc.status == 404:
                return [
                    Step(
                        subject,
                        OK,
                        "the plugin is off (or not installed): rebuild reads through the API (turn on "
                        f"data_explorer_enabled in Admin → Settings for rebuilds in pages of {PAGE_SIZE:,})",
                    )
                ]
            return [Step(subject, PROBLEM, _data_explorer_refusal(exc))]
        descriptions: dict[str, str] = {}
        for row in sorted(listed, key=lambda row: int(row["id"])):  # the lowest id wins, as ensure_queries does
            descriptions.setdefault(str(row.get("name")), str(row.get("description")))
        missing = [q.name for q in QUERIES if q.name not in descriptions]
        changed = [q.name for q in QUERIES if q.name in descriptions and descriptions[q.name] != q.description]
        if not self.dry_run and (missing or changed):
            # Remember the intent first: a run retried after a budget wait finds them made, and still says so.
            self._made.update(f"data explorer query {name}" for name in missing)
            self._made.update(f"data explorer query updated {name}" for name in changed)
            try:
                explorer.ensure_queries()
            except ForumRefused as exc:
                return [Step(subject, PROBLEM, _data_explorer_refusal(exc))]
        created = [q.name for q in QUERIES if q.name in missing or f"data explorer query {q.name}" in self._made]
        updated = [
            q.name
            for q in QUERIES
            if q.name not in created and (q.name in changed or f"data explorer query updated {q.name}" in self._made)
        ]
        current = len(QUERIES) - len(created) - len(updated)
        made, remade = (WOULD_CREATE, WOULD_UPDATE) if self.dry_run else (CREATED, UPDATED)
        parts = [f"{made} {len(created)}"] if created else []
        parts += [f"{remade} {len(updated)} whose SQL changed"] if updated else []
        parts += [f"{current} up to date"] if current else []
        outcome = made if created else remade if updated else EXISTS
        return [Step(subject, outcome, ", ".join(parts) + f" (“{NAME_PREFIX}: …” in Admin → Plugins → Data Explorer)")]

    # ------------------------------------------------------------------------------------------ 7. the webhook

    def webhook_fields(self, secret: str) -> dict[str, Any]:
        return {
            "payload_url": self.payload_url(),
            "secret": secret,
            "content_type": CONTENT_TYPE_JSON,
            "wildcard_web_hook": False,
            "web_hook_event_type_ids": self.event_type_ids(),
            "active": True,
        }

    def payload_url(self) -> str:
        return self.settings.webhook_url

    def event_type_ids(self) -> list[int]:
        """The ids of WEBHOOK_EVENTS as this forum numbers them (from its own list; known ids as a fallback)."""
        source = self._event_types or KNOWN_EVENT_TYPE_IDS
        return sorted(source[name] for name in WEBHOOK_EVENTS if name in source)

    def webhook(self) -> list[Step]:
        if not self.settings.public_url:
            return [
                Step(
                    "webhook",
                    PROBLEM,
                    "COC_PUBLIC_URL is not set: the address where the forum reaches this "
                    "service's receiver, e.g. https://coc.example.org",
                )
            ]
        subject = f"webhook {self.payload_url()}"
        try:
            secret = self.settings.require_webhook_secret()
        except ConfigError as exc:
            return [Step(subject, PROBLEM, str(exc))]
        wanted = self.webhook_fields(secret)
        existing = next(
            (h for h in self._hooks if h.payload_url.rstrip("/") == wanted["payload_url"].rstrip("/")),
            None,
        )
        others = self.other_webhooks(secret)
        if existing is None:
            if self.dry_run:
                planned = f"{len(wanted['web_hook_event_type_ids'])} event types, JSON"
                return [Step(subject, WOULD_CREATE, planned), *_kept_webhooks(others, added=True, dry_run=True)]
            created = self.forum.create_web_hook(wanted)
            self._made.add(subject)
            self._hooks.append(created)
            return [Step(subject, CREATED, f"id {created.id}"), *_kept_webhooks(others, added=True, dry_run=False)]
        kept = _kept_webhooks(others, added=False, dry_run=self.dry_run)
        differences = _webhook_differences(existing, wanted)
        if not differences:
            return [Step(subject, EXISTS, f"id {existing.id}"), *kept]
        if self.dry_run:
            return [Step(subject, WOULD_UPDATE, ", ".join(differences)), *kept]
        self.forum.update_web_hook(existing.id, wanted)
        return [Step(subject, UPDATED, ", ".join(differences)), *kept]

    def other_webhooks(self, secret: str) -> list[WebHook]:
        """Webhooks that look like this service's at another address (an older install at another COC_PUBLIC_URL):
        their path is COC_WEBHOOK_PATH, or they carry DISCOURSE_WEBHOOK_SECRET. Install never changes or deletes
        them: it only ever updates the webhook at its own address, or adds one."""
        mine = self.payload_url().rstrip("/")
        path = self.settings.webhook_path.rstrip("/")
        return [
            hook
            for hook in self._hooks
            if hook.payload_url.rstrip("/") != mine
            and (urlsplit(hook.payload_url).path.rstrip("/") == path or hook.secret == secret)
        ]


def _kept_webhooks(others: list[WebHook], *, added: bool, dry_run: bool) -> list[Step]:
    """One line for each webhook of the service's at another address, saying what install does with it: nothing —
    it stays, so where install adds its own there are two, and the forum delivers every event to both."""
    if added:
        what = (
            "install would leave it and add a second webhook, so the forum would deliver every event to both"
            if dry_run
            else "install left it and added a second webhook, so the forum delivers every event to both"
        )
    else:
        what = "install leaves it as it is, so the forum delivers every event there too"
    return [
        Step(
            f"webhook {hook.payload_url}",
            EXISTS,
            f"id {hook.id}, at another address than COC_PUBLIC_URL's: {what}; if it is an older install's, delete it "
            "in Admin → API → Webhooks",
        )
        for hook in others
    ]


def _webhook_differences(hook: WebHook, wanted: dict[str, Any]) -> list[str]:
    """What must change in an existing webhook (the forum's answer) for it to serve the service."""
    differences = []
    if hook.secret != wanted["secret"]:
        differences.append("secret")
    if hook.content_type != wanted["content_type"]:
        differences.append("content type")
    if not hook.active:
        differences.append("inactive")
    if not hook.wildcard and not set(wanted["web_hook_event_type_ids"]) <= hook.event_type_ids:
        differences.append("event types")
    return differences


def _data_explorer_refusal(exc: ForumRefused) -> str:
    return (
        f"the forum's Data Explorer refused the service's saved queries ({exc.status}: {'; '.join(exc.errors)}): "
        "rebuild reads through the API until they are there; run install again once that is fixed"
    )


def seed_contributors(settings: Settings, connection: redis.Redis, forum: Forum) -> Step:
    """Tell the engagement figures who posted before the service listened (for "first post ever"), from the
    forum's latest public posts: `COC_SEED_PAGES` calls at most, waiting for the shared budget like every step."""
    waited = 0.0

    def wait(exc: Throttled) -> None:
        nonlocal waited
        if waited + exc.retry_after > MAX_WAIT_SECONDS:
            raise exc
        waited += exc.retry_after
        print(f"waiting {exc.retry_after:.0f} s for the shared API budget", file=sys.stderr, flush=True)
        time.sleep(exc.retry_after)

    subject = "contributors who posted before"
    engagement = Engagement(connection, Keys(settings.redis_prefix), bot_username=settings.bot_username)
    try:
        seeded = seed_from_forum(forum, engagement, settings.seed_pages, on_throttled=wait)
    except Throttled:
        return Step(subject, PROBLEM, f"gave up after waiting {waited:.0f} s for the API budget; run install again")
    members = "1 member" if seeded == 1 else f"{seeded} members"
    return Step(subject, OK, f"{members} seeded from the latest {settings.seed_pages * 50} public posts at most")


def remember_care_wording(store: Store, installer: Installer) -> None:
    """Tell the workers (and the receiver) which conversation holds the team's words for the care messages."""
    if installer.care_wording_topic_id is not None:
        store.remember_care_wording_topic(installer.care_wording_topic_id)


def run_install(settings: Settings, *, dry_run: bool = False) -> int:
    """The command: every step printed as it is done; exit status 1 if any step has a problem."""
    connection = connect(settings)
    try:
        with Forum(settings, budget=ApiBudget.for_settings(connection, settings)) as forum:
            installer = Installer(
                settings,
                forum,
                dry_run=dry_run,
                on_wait=lambda seconds: print(
                    f"waiting {seconds:.0f} s for the shared API budget", file=sys.stderr, flush=True
                ),
            )
            steps = installer.run(report=lambda step: print(step.line(), flush=True))
            if not dry_run and installer.care_wording_topic_id:
                remember_care_wording(Store(connection, Keys(settings.redis_prefix)), installer)
                print(Step("care wording conversation known to the workers", OK).line(), flush=True)
            if not dry_run and installer.document:
                cache_document(Store(connection, Keys(settings.redis_prefix)), forum, installer.document)
                print(Step("living document cached in Redis", OK).line(), flush=True)
                steps.append(seed_contributors(settings, connection, forum))
                print(steps[-1].line(), flush=True)
    finally:  # the forum or Redis not reachable: plugin/__main__.py names the setting to check (exit 2)
        connection.close()
    return 1 if any(step.problem for step in steps) else 0
