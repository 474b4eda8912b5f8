"""Every Redis key name the service uses, and nowhere else.

All keys start with the configured prefix (`COC_REDIS_PREFIX`, default `coc:`), so several forums — or the test
suite — can share one Redis. RQ's own keys (`rq:queue:<name>`, `rq:job:<id>`) are RQ's and named by RQ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "coc:"

    def seen_delivery(self, event_id: str) -> str:
        """A delivery already accepted, by `X-Discourse-Event-Id` (an admin's redelivery reuses it)."""
        return f"{self.prefix}seen:delivery:{event_id}"

    def seen_fact(self, identity: str) -> str:
        """A fact already accepted, by payload identity (a retry carries a new Event-Id but the same fact)."""
        return f"{self.prefix}seen:fact:{identity}"

    @property
    def receiver_stats(self) -> str:
        """Hash of delivery counters shared by every receiver process: `<event>:<answer>` → count."""
        return f"{self.prefix}stats:deliveries"

    # ----------------------------------------------------------------------------- the Code of Care's state

    @property
    def document(self) -> str:
        """Hash: the living document's topic id, post id, version and raw text (a cache of the forum's post)."""
        return f"{self.prefix}document"

    @property
    def section_versions(self) -> str:
        """Hash: section slug → how many times its text has changed since install (1 = the first text)."""
        return f"{self.prefix}section-versions"

    @property
    def care_posts(self) -> str:
        """Set: ids of posts that asked for direct support; nothing public ever counts them."""
        return f"{self.prefix}care-posts"

    @property
    def care_requests(self) -> str:
        """Hash: care request (the id of the post that asked) → the request as JSON (plugin.domain.care)."""
        return f"{self.prefix}care:requests"

    @property
    def care_conversations(self) -> str:
        """Hash: topic id of a care conversation (the member's or the team's) → the request it belongs to."""
        return f"{self.prefix}care:conversations"

    @property
    def care_wording_topic(self) -> str:
        """String: the topic id of the care group's conversation where the team changes the care messages' words
        (`install` sets it; the receiver routes its posts to care)."""
        return f"{self.prefix}care:wording:topic"

    @property
    def care_wordings(self) -> str:
        """Hash: care message key (plugin.text.care_wording) → JSON {text, post_id, author, at} of the team's words
        for it (`text` null: back to the default)."""
        return f"{self.prefix}care:wording"

    @property
    def care_wording_refusals(self) -> str:
        """Hash: care message key (or `*` for headings naming none) → JSON {post_id, author, at, heading, problems}
        of the latest reply whose words for it could not be used, until a later reply's are (for `doctor`)."""
        return f"{self.prefix}care:wording:refused"

    def care_relays(self, post_id: int) -> str:
        """Hash: the member's posts relayed to the team for one request → their number (1, 2, …) among them."""
        return f"{self.prefix}care:relays:{post_id}"

    @property
    def care_read_back(self) -> str:
        """Hash: topic id of a care conversation (or the wording one) → the highest post number `reconcile` has
        read back of it."""
        return f"{self.prefix}care:read-back"

    @property
    def care_read_back_since(self) -> str:
        """String: epoch seconds; the bot's messages bumped since then are what `reconcile` lists next pass."""
        return f"{self.prefix}care:read-back:since"

    def care_lock(self, post_id: int) -> str:
        """Lock: one handler at a time changes a care request (a reply, a pickup, a timer)."""
        return f"{self.prefix}lock:care:{post_id}"

    @property
    def restricted_categories(self) -> str:
        """String: JSON list of the ids of read-restricted categories, as the forum last listed them (a cache with a
        time to live: whatever is said in them is never feedback)."""
        return f"{self.prefix}restricted-categories"

    def topic(self, topic_id: int) -> str:
        """Hash: what topic webhooks told of a topic (tags, category, author, archetype)."""
        return f"{self.prefix}topic:{topic_id}"

    def amendment(self, amendment_id: str) -> str:
        """String: one amendment as JSON (plugin.domain.amendments.Amendment)."""
        return f"{self.prefix}amendment:{amendment_id}"

    @property
    def amendments(self) -> str:
        """Set: every amendment id."""
        return f"{self.prefix}amendments"

    def post_amendments(self, post_id: int) -> str:
        """Set: the amendment ids a post proposed."""
        return f"{self.prefix}post-amendments:{post_id}"

    def likers(self, post_id: int | str) -> str:
        """Set: usernames whose like of the post arrived by webhook (gross: there is no unlike webhook). `post_id`
        "" gives the keys' common prefix, "*" the pattern that matches them all."""
        return f"{self.prefix}likers:{post_id}"

    @property
    def post_versions(self) -> str:
        """Hash: post id → the newest version seen of each public post ("D<version>" once deleted): a late,
        stale snapshot is not applied over a newer one, and `reconcile` tells what never arrived."""
        return f"{self.prefix}post-versions"

    @property
    def live_posts(self) -> str:
        """Sorted set: ids (scored by id) of the regular public posts seen and not deleted."""
        return f"{self.prefix}live-posts"

    def draft_topic(self, topic_id: int) -> str:
        """String: the amendment id whose draft is this topic."""
        return f"{self.prefix}draft-topic:{topic_id}"

    def discussion(self, section_slug: str) -> str:
        """Hash: post id → JSON {author, at} of the posts that discussed a section."""
        return f"{self.prefix}discussion:{section_slug}"

    @property
    def discussed_sections(self) -> str:
        """Hash: post id → JSON list of the sections the post discusses (its entries in `discussion`)."""
        return f"{self.prefix}discussed-sections"

    def member(self, username: str) -> str:
        """Hash: a member's trust level, staff and suspension, as last seen (expires)."""
        return f"{self.prefix}member:{username.lower()}"

    def effect(self, effect_key: str) -> str:
        """String: "pending" while an effect is being made, "done" once it is in the forum."""
        return f"{self.prefix}effect:{effect_key}"

    @property
    def document_lock(self) -> str:
        """Lock: one amendment at a time is applied to the document."""
        return f"{self.prefix}lock:document"

    # ----------------------------------------------------------------------------- reconcile and rebuild

    @property
    def reconcile_cursor(self) -> str:
        """String: the highest post id a reconcile pass has read (it reads back to a little below it)."""
        return f"{self.prefix}reconcile:cursor"

    @property
    def delivery_log(self) -> str:
        """Hash: `hook` → the id of the service's webhook in the forum; `mark` → every delivery of it up to this id
        was settled when reconcile last read its delivery log."""
        return f"{self.prefix}reconcile:delivery-log"

    @property
    def reconcile_lock(self) -> str:
        """Lock: one reconcile pass at a time (the scheduled one and a manual one)."""
        return f"{self.prefix}lock:reconcile"

    @property
    def rebuild_cursor(self) -> str:
        """Hash: how far an interrupted `rebuild` got (its phase and the forum's page cursor), to resume from."""
        return f"{self.prefix}rebuild:cursor"

    @property
    def rebuild_posts(self) -> str:
        """Hash: post id → JSON of the public posts a `rebuild` has read so far (deleted when it finishes)."""
        return f"{self.prefix}rebuild:posts"

    # ----------------------------------------------------------------------------- the forum API budget

    @property
    def api_budget(self) -> str:
        """Sorted set: one member per forum API call of the last minute, scored by its time (plugin.adapters.budget)."""
        return f"{self.prefix}api:budget"

    @property
    def api_pause(self) -> str:
        """String: the time (epoch seconds) until which nobody calls the forum, after it answered 429."""
        return f"{self.prefix}api:budget:pause"

    # ----------------------------------------------------------------------------- the weekly digest

    def digest_topic(self, week: str) -> str:
        """String: the id of the week's digest topic, once it is in the forum (the forum's external_id
        `coc-digest-<week>` is the lasting record; this saves asking it)."""
        return f"{self.prefix}digest:{week}:topic"

    def digest_chart(self, week: str) -> str:
        """String: the `upload://…` URL of the week's chart, once uploaded (a rerun reuses it)."""
        return f"{self.prefix}digest:{week}:chart"

    def digest_lock(self, week: str) -> str:
        """Lock: one digest job at a time works on a week (a manual run beside the scheduled one)."""
        return f"{self.prefix}lock:digest:{week}"

    # ------------------------------------------------------------------- engagement (plugin.adapters.engagement_store)

    @property
    def engagement_posts(self) -> str:
        """Hash: post id → its standing in the figures: `counted:<week>`, `deleted:<week>` or `care` (never counted)."""
        return f"{self.prefix}eng:posts"

    def engagement_week_posts(self, week: str) -> str:
        """Hash: post id → the counted post written that ISO week (JSON [username, topic, category, at, number,
        reply_to]; never its text)."""
        return f"{self.prefix}eng:week:{week}:posts"

    def engagement_week_topics(self, week: str) -> str:
        """Hash: topic id → how many of its counted posts were written that ISO week (the most active topics)."""
        return f"{self.prefix}eng:week:{week}:topics"

    def engagement_week_likes(self, week: str) -> str:
        """Hash: `<post id>:<liker>` → JSON [liker, category] of the likes recorded that ISO week."""
        return f"{self.prefix}eng:week:{week}:likes"

    @property
    def engagement_post_likes(self) -> str:
        """Hash: post id → the likes it received (`<week>|<liker>` lines), to take back if it turns out a care post."""
        return f"{self.prefix}eng:post-likes"

    def engagement_day(self, day: int) -> str:
        """Hash: `<scope>|<username>` → counted posts that UTC day (day = days since 1970; scope `*` = the forum,
        else a category id)."""
        return f"{self.prefix}eng:day:{day}"

    def engagement_member_days(self, scope: str, username: str) -> str:
        """Sorted set: the days (scored by day number) on which a member has counted posts, in a scope."""
        return f"{self.prefix}eng:member-days:{scope}:{username}"

    def engagement_replies(self, topic_id: int) -> str:
        """Sorted set: `<post id>|<username>` of a topic's counted replies, scored by time (its first response)."""
        return f"{self.prefix}eng:replies:{topic_id}"

    @property
    def engagement_topic_authors(self) -> str:
        """Hash: topic id → its author's username (from post #1)."""
        return f"{self.prefix}eng:topic-authors"

    @property
    def engagement_topic_titles(self) -> str:
        """Hash: topic id → its title (public topics only)."""
        return f"{self.prefix}eng:topic-titles"

    @property
    def engagement_deleted_topics(self) -> str:
        """Set: ids of deleted topics (their posts are left out while they are deleted)."""
        return f"{self.prefix}eng:deleted-topics"

    @property
    def engagement_care_topics(self) -> str:
        """Set: ids of topics opened by a care post (never listed, never counted)."""
        return f"{self.prefix}eng:care-topics"

    @property
    def engagement_categories(self) -> str:
        """Set: category ids that have had counted posts."""
        return f"{self.prefix}eng:categories"

    @property
    def engagement_bots(self) -> str:
        """Set: usernames of bots seen in payloads (Discourse's bots have user ids below 1)."""
        return f"{self.prefix}eng:bots"

    @property
    def engagement_seeded(self) -> str:
        """Hash: username → `<first day>,<last day>` of their posts seen at install (`,` = posted, date unknown)."""
        return f"{self.prefix}eng:seeded"

    def engagement_frozen(self, week: str) -> str:
        """Hash: `figures:<scope>`, `top-topics`, `new-names` → a week's published figures (JSON), never rewritten."""
        return f"{self.prefix}eng:frozen:{week}"

    def engagement_week_reply_edges(self, week: str) -> str:
        """Set: JSON [username, topic, category, reply_to] of the replies written that ISO week, kept once its posts
        were compacted while the reply graph (reciprocity) of a week not compacted still spans it."""
        return f"{self.prefix}eng:week:{week}:reply-edges"

    @property
    def engagement_window_start(self) -> str:
        """String: the first day (days since 1970) of the weeks whose detail `Engagement.compact` keeps; it only
        moves on. Posts written before it, and likes recorded before it, are no longer filed."""
        return f"{self.prefix}eng:window-start"

    @property
    def engagement_week_pattern(self) -> str:
        """The pattern of every per-week key (`engagement_week_posts`, `_topics`, `_likes`, `_reply_edges`)."""
        return f"{self.prefix}eng:week:*"

    @property
    def engagement_day_pattern(self) -> str:
        """The pattern of every `engagement_day` key."""
        return f"{self.prefix}eng:day:*"

    @property
    def engagement_frozen_pattern(self) -> str:
        """The pattern of every `engagement_frozen` key."""
        return f"{self.prefix}eng:frozen:*"

    @property
    def engagement_member_days_pattern(self) -> str:
        """The pattern of every `engagement_member_days` key."""
        return f"{self.prefix}eng:member-days:*"
