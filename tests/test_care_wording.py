"""The care messages in the team's words: reading a reply (plugin.domain.wording), the catalogue and the answers
(plugin.text.care_wording), and every care text with a template (plugin.text.care). Pure: no Redis, no forum."""
from __future__ import annotations

import pytest

from plugin.domain.safety import ZWSP
from plugin.domain.wording import (EMPTY, MISSING_PLACEHOLDER, STRAY_BRACE, TOO_LONG, UNKNOWN_HEADING,
                                   UNKNOWN_PLACEHOLDER, Problem, Spec, fill, parse_reply, template_problems,
                                   worded)
from plugin.text import care
from plugin.text.care_wording import (ALERT, BY_KEY, CLOSED, LATER, MEMBER, MESSAGES, PICKUP, REFUSED, REMINDER,
                                      SPECS, TAKEN, TEAM, UNKNOWN, UNREACHABLE, answer, conversation, refusal,
                                      status)

NEW_MEMBER_WORDS = """\
Dear {member},

We heard you. Someone from the {group} group will write to you soon, by name.

Nothing else is needed from you."""


def only(raw: str):  # type: ignore[no-untyped-def]
    (change,) = parse_reply(raw, SPECS).changes
    return change


# ------------------------------------------------------------------------------------------------ reading a reply


def test_a_good_reply_gives_the_message_its_new_words() -> None:
    change = only(f"Here is what we agreed on Tuesday:\n\n## To the member who asked\n\n{NEW_MEMBER_WORDS}\n")
    assert change.taken and change.key == MEMBER and change.text == NEW_MEMBER_WORDS


def test_headings_are_matched_whatever_their_case_punctuation_or_alias() -> None:
    for heading in ("## to the member who asked:", "# TO THE MEMBER", "## To the member — who asked ##"):
        assert only(f"{heading}\nHello {{member}}, someone will write.").key == MEMBER, heading
    assert only("## Reminder\n{member} still waits.").key == REMINDER


def test_an_unknown_heading_is_refused_and_named() -> None:
    change = only("## To the teem\n{member} asked for help.")
    assert change.key is None and not change.taken
    assert change.problems == (Problem(UNKNOWN_HEADING, ("To the teem",)),)


def test_an_unknown_placeholder_is_refused() -> None:
    change = only("## Reminder to the team\n{membr} has waited {waited}; {member} needs someone.")
    assert not change.taken and change.problems == (Problem(UNKNOWN_PLACEHOLDER, ("{membr}",)),)


def test_a_missing_required_placeholder_is_refused() -> None:
    change = only("## To the team\n{member} asked for support. Please reach out.")
    assert change.problems == (Problem(MISSING_PLACEHOLDER, ("{link}",)),)


def test_placeholders_are_read_whatever_their_case_and_spaces() -> None:
    change = only("## To the team\n{ Member } asked {WHERE}: {link}")
    assert change.taken
    assert fill(change.text or "", {"member": "bob", "where": "in a post", "link": "L"}) == "bob asked in a post: L"


def test_empty_words_are_refused() -> None:
    assert only("## Alert to the backup group\n\n   \n").problems == (Problem(EMPTY),)
    assert only("## Alert to the backup group").problems == (Problem(EMPTY),)


def test_too_long_words_are_refused() -> None:
    change = only("## Closed note to the team\n" + "Thank you. " * 400)
    assert change.problems == (Problem(TOO_LONG, limit=BY_KEY[CLOSED].spec.max_length),)


def test_default_alone_puts_a_message_back_to_its_default_words() -> None:
    change = only("## To the member who asked\nDefault.")
    assert change.taken and change.key == MEMBER and change.text is None


def test_several_headings_are_each_checked_on_their_own() -> None:
    reply = parse_reply(
        "Three changes:\n\n"
        "## To the member who asked\n" + NEW_MEMBER_WORDS + "\n\n"
        "## Reminder to the team\n{membr} waits.\n\n"
        "## Closed note to the team\n{closer} closed it. Thanks for being there for {member}.\n\n"
        "## Mystery\nwho knows\n",
        SPECS,
    )
    assert [(c.key, c.taken) for c in reply.changes] == [(MEMBER, True), (REMINDER, False), (CLOSED, True),
                                                         (None, False)]
    assert [c.key for c in reply.taken] == [MEMBER, CLOSED]
    assert [c.heading for c in reply.unknown] == ["Mystery"]


def test_a_message_named_twice_counts_once_with_its_last_words() -> None:
    reply = parse_reply("## Reminder\n{member} waits.\n\n## Reminder to the team\n{member} still waits!", SPECS)
    (change,) = reply.changes
    assert change.text == "{member} still waits!"


def test_a_reply_without_headings_is_conversation() -> None:
    assert parse_reply("I like the reminder as it is. What do you all think?", SPECS).changes == ()
    assert parse_reply("### To the team\nsmaller headings are part of a message", SPECS).changes == ()
    assert parse_reply("", SPECS).changes == ()


def test_quoted_words_and_code_are_not_headings() -> None:
    quoted = ('[quote="care-bot, post:1, topic:9"]\n## To the team\n{member} asked.\n'
              '[quote]\n## Reminder\nnested\n[/quote]\n[/quote]\nShall we change these?')
    assert parse_reply(quoted, SPECS).changes == ()
    fenced = "```\n## To the team\n{member} {link}\n```\nthat is how it looks"
    assert parse_reply(fenced, SPECS).changes == ()


def test_words_given_in_one_code_block_are_the_words_themselves() -> None:
    change = only("## Reminder to the team\n```text\n{member} is still waiting ({waited}).\n```")
    assert change.taken and change.text == "{member} is still waiting ({waited})."


def test_a_message_may_use_smaller_headings_inside() -> None:
    change = only("## To the member who asked\n### You are not alone\nHi {member}, someone will write.")
    assert change.taken and change.text == "### You are not alone\nHi {member}, someone will write."


@pytest.mark.parametrize("hostile", [
    "{member.__class__.__mro__}", "{member[0]}", "{0}", "{}", "{member!r}", "{member:>99999999}",
    "{{member}}", "{member", "member}", "{__import__('os').system('x')}",
])
def test_hostile_placeholders_are_refused_and_never_break_a_message(hostile: str) -> None:
    change = only(f"## Reminder to the team\n{{member}} waits. {hostile}")
    assert not change.taken
    assert {p.kind for p in change.problems} <= {UNKNOWN_PLACEHOLDER, STRAY_BRACE}
    text = care.reminder(member="bob", waited_seconds=120, template=f"{{member}} waits. {hostile}")
    assert text == care.reminder(member="bob", waited_seconds=120)  # the default, never an exception


def test_hostile_words_cannot_ping_or_escape_what_they_are_put_in() -> None:
    template = "@everyone @peer-support look: {member} waits since {waited}. [/quote] <script>x</script>"
    change = only(f"## Reminder to the team\n{template}")
    assert change.taken  # the team's own markup is theirs to write; pings are not
    text = care.reminder(member="@mallory_", waited_seconds=60, template=change.text)
    assert "@everyone" not in text and "@peer-support" not in text and f"@{ZWSP}everyone" in text
    assert "@mallory" not in text and "mallory\\_" in text  # the member's name is escaped as in the defaults


def test_a_reply_as_long_as_the_forum_allows_is_read_quickly() -> None:
    raw = "\n".join(f"## Heading {i}\n{{x}} {'{' * 50}" for i in range(1500))[:32000]
    reply = parse_reply(raw, SPECS)
    assert reply.changes and not reply.taken


# ------------------------------------------------------------------------------------------------ filling in


def test_worded_uses_the_template_and_falls_back_to_the_default() -> None:
    assert worded("Hi {member}!", "Hello {member}.", member="bob") == "Hi bob!"
    assert worded(None, "Hello {member}.", member="bob") == "Hello bob."
    assert worded("Hi {nobody}!", "Hello {member}.", member="bob") == "Hello bob."
    assert worded("Hi {member", "Hello {member}.", member="bob") == "Hello bob."
    assert worded("   ", "Hello {member}.", member="bob") == "Hello bob."
    assert worded("{member}", "Hello {member}.", member="{group}") == "{group}"  # values are not filled again


def test_every_care_text_takes_the_teams_words() -> None:
    title, body = care.member_message(member="bob", group="peer-support", template=NEW_MEMBER_WORDS)
    assert title == care.MEMBER_TITLE and body.startswith("Dear bob,") and "peer-support" in body
    _, body = care.team_message(member="bob", group="g", post_url="https://f/t/x/1/2", private=False,
                                template="{member} needs us {where}: {link}")
    assert body == "bob needs us in a post: https://f/t/x/1/2"
    assert care.pickup_notice(picker="pat", template="{picker} will write to you.") == "**pat** will write to you."
    assert care.pickup_notice(picker=None, template="{picker} will write to you.") == "Someone will write to you."
    assert care.closed_note(closer="pat", member="bob", template="Done by {closer} for {member}.") == \
        "Done by pat for bob."
    assert care.reminder(member="bob", waited_seconds=7200, template="{member}: {waited}") == "bob: 2 hours"
    title, body = care.alert(member="bob", group="g", backup="mods", waited_seconds=60,
                             template="{backup}: {member} waits ({waited}) for {group}.")
    assert (title, body) == (care.ALERT_TITLE, "mods: bob waits (60 seconds) for g.")
    assert care.unreachable_notice(member="bob", reason="off", template="{member}: {reason}") == "**bob**: off"


def test_without_the_teams_words_every_care_text_is_the_default() -> None:
    assert care.pickup_notice(picker=None) == care.PICKUP_ANONYMOUS_BODY
    assert care.reminder(member="bob", waited_seconds=60) == care.REMINDER_BODY.format(
        member="bob", marker=care.REMINDER_MARKER, waited="60 seconds")


# ------------------------------------------------------------------------------------------------ the catalogue


def test_every_default_as_shown_to_the_team_is_itself_good_words() -> None:
    assert {m.spec.key for m in MESSAGES} == {MEMBER, TEAM, PICKUP, REMINDER, ALERT, CLOSED, UNREACHABLE}
    for message in MESSAGES:
        assert template_problems(message.default, message.spec) == (), message.spec.key
        assert set(message.spec.required) <= set(message.spec.placeholders)


def test_copying_a_default_from_the_conversation_keeps_the_default_words() -> None:
    values = {"member": "bob", "group": "g", "where": "in a post", "link": "L", "picker": "**pat**",
              "waited": "2 hours", "backup": "mods", "closer": "pat", "reason": "off"}
    assert fill(BY_KEY[REMINDER].default, values) == care.reminder(member="bob", waited_seconds=7200)
    assert fill(BY_KEY[CLOSED].default, values) == care.closed_note(closer="pat", member="bob")


def test_the_conversation_lists_every_message_under_its_heading_with_its_placeholders() -> None:
    title, raw = conversation()
    assert len(title) >= 15 and len(raw) < 32000
    for message in MESSAGES:
        assert f"\n## {message.spec.heading}\n" in raw
        assert all(f"`{{{name}}}`" in raw for name in message.spec.placeholders)
    assert "@" not in raw


def test_the_first_post_copied_into_a_reply_gives_every_message_its_default_words() -> None:
    """A section copied from the conversation's first post (its heading and words) is a good reply as it is."""
    _, raw = conversation()
    reply = parse_reply(raw, SPECS)
    assert [(c.key, c.text) for c in reply.changes] == [(m.spec.key, m.default) for m in MESSAGES]
    assert all(c.taken for c in reply.changes)


# ------------------------------------------------------------------------------------------------ the answers


def test_the_answer_says_what_was_taken_and_what_not_and_why() -> None:
    reply = parse_reply("## To the member who asked\nHi {member}!\n\n## Reminder\n{membr}\n\n## Teh *team*\nx",
                        SPECS)
    taken, broken, unknown = reply.changes
    text = answer([(taken, TAKEN), (broken, REFUSED), (unknown, REFUSED)], team_words={})
    assert "**To the member who asked**: taken." in text
    assert "**Reminder to the team**: not taken" in text and "\\{membr\\}" not in text and "{membr}" in text
    assert "it must use `{member}`" in text and "It keeps its default words." in text
    assert "**Teh \\*team\\***: I don't know a message by that name" in text
    assert "To try again" in text
    later = answer([(taken, LATER)], team_words={})
    assert "a later reply had already changed this message" in later


def test_doctor_lines_say_default_or_since_when_and_what_was_refused() -> None:
    assert status(MEMBER, None) == "default"
    record = {"text": "Hi", "post_id": 9, "author": "pat", "at": "2026-12-03T14:05:06.000Z"}
    assert status(MEMBER, record) == "the team's wording since 2026-12-03 14:05 UTC (by pat)"
    assert status(MEMBER, {**record, "text": None}) == "default"
    refused = {"post_id": 10, "author": "sam", "at": "2026-12-04T08:00:00Z",
               "problems": [Problem(MISSING_PLACEHOLDER, ("{link}",)).to_json()]}
    assert "it must use {link}" in refusal(TEAM, refused).replace("`", "")
    unknown = {**refused, "problems": [Problem(UNKNOWN_HEADING, ("To the teem",)).to_json()]}
    assert "“To the teem”" in refusal(UNKNOWN, unknown)


def test_a_spec_with_no_placeholders_refuses_every_brace() -> None:
    spec = Spec("x", "X", ())
    assert template_problems("Hello {member}", spec) == (Problem(UNKNOWN_PLACEHOLDER, ("{member}",)),)
