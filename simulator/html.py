"""A small read-only HTML view of the forum, so a person can see what happened.

`/` lists the latest topics, `/view/t/<id>` shows a topic with its posts, `/view/p/<id>/revisions` a post's
edits (raw before and after), and `/uploads/…` serves stored upload bytes. Everything is shown as an anonymous
visitor sees it (the forum's own visibility rules) unless `?as=<username>` names someone to look as.
No JavaScript; every value is escaped, and only the forum's `cooked` HTML is rendered as HTML: it is what Discourse's
cooker and allowlist sanitizer leave (`simulator.cooking`), styled as a Discourse theme shows it (quotes as asides,
insertions and deletions marked, tables with borders, code blocks).
"""
from __future__ import annotations

import difflib
import mimetypes
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, render_template_string, request
from markupsafe import Markup, escape

from .auth import forum as current_forum
from .state import POST_WHISPER, Forum, Post, Topic, Upload, User

blueprint = Blueprint("html", __name__)

ANONYMOUS = User(id=0, username="anonymous", name="anonymous visitor", trust_level=-1)
"""A synthetic visitor for the forum's `can_see_*` rules: no id any record uses, in no group (not even a
trust-level group: `trust_level=-1`), not staff."""

ORIG_SRC = re.compile(r'<img src="/images/transparent\.png"([^>]*?) data-orig-src="(upload://[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)?)"')
"""An image whose upload the cooker could not resolve (`simulator.cooking`, as Discourse's upload-protocol.js)."""

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · {{ site }}</title>
<style>
 body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; color: #222; }
 a { color: #0a5bb5; } header { display: flex; justify-content: space-between; align-items: baseline;
 border-bottom: 1px solid #ddd; margin-bottom: 1rem; } header h1 { font-size: 1.2rem; margin: .4rem 0; }
 table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem;
 border-bottom: 1px solid #eee; vertical-align: top; } th { font-size: .8rem; color: #666; }
 .tag { display: inline-block; background: #eef; border-radius: 3px; padding: 0 .35rem; margin-right: .2rem;
 font-size: .8rem; } .chip { display: inline-block; padding: 0 .4rem; border-radius: 3px; font-size: .8rem; }
 .badge { font-size: .75rem; border-radius: 3px; padding: 0 .3rem; background: #eee; margin-left: .3rem; }
 .whisper { background: #f3ecff; } .deleted { background: #fde8e8; } .pm { background: #fff4d6; }
 .post { border: 1px solid #e4e4e4; border-radius: 6px; margin: .8rem 0; padding: .6rem .9rem; }
 .post.whisper { border-style: dashed; } .post.deleted { opacity: .7; }
 .meta { color: #666; font-size: .85rem; } .cooked img { max-width: 100%; }
 pre { background: #f7f7f7; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
 .ext { font-family: monospace; font-size: .8rem; color: #555; } form.as { font-size: .85rem; }
 .add { color: #126b12; } .del { color: #a11; }
 .cooked ins { background: #d9f2d9; color: #0b4d0b; text-decoration: underline; }
 .cooked del { background: #fbdcdc; color: #8a1111; text-decoration: line-through; }
 .cooked table { width: auto; margin: .5rem 0; } .cooked th, .cooked td { border: 1px solid #ccc; }
 .cooked th { font-size: .85rem; color: #333; background: #f5f5f5; }
 .cooked aside.quote { margin: .6rem 0; } .cooked aside.quote .title { font-size: .85rem; color: #666;
 background: #f3f3f3; padding: .3rem .6rem; border-left: 5px solid #e0e0e0; }
 .cooked blockquote { margin: 0; padding: .4rem .8rem; border-left: 5px solid #e0e0e0; background: #f8f8f8; }
 .cooked code { background: #f3f3f3; padding: 0 .2rem; border-radius: 3px; font-size: .9em; }
 .cooked pre code { background: none; padding: 0; } .cooked a.anchor { display: none; }
</style></head><body>
<header><h1><a href="{{ url('/') }}">{{ site }}</a></h1>
<form class="as" method="get" action="">viewing as <strong>{{ viewer_label }}</strong> ·
<input name="as" value="{{ as_name or '' }}" placeholder="username" size="12"><button>view as</button></form>
</header>
{{ body }}
</body></html>"""

TOPIC_LIST = """<h2>Latest</h2>
{% if not rows %}<p>No topics to show.</p>{% else %}
<table><tr><th>Topic</th><th>Category</th><th>Tags</th><th>external_id</th><th>Posts</th><th>Activity</th></tr>
{% for row in rows %}<tr>
<td><a href="{{ url('/view/t/%d' % row.topic.id) }}">{{ row.topic.title }}</a>
{% if row.topic.is_pm %}<span class="badge pm">private message</span>{% endif %}
{% if row.topic.shared_draft_category_id %}<span class="badge">shared draft</span>{% endif %}
{% if row.topic.closed %}<span class="badge">closed</span>{% endif %}
{% if row.topic.archived %}<span class="badge">archived</span>{% endif %}
{% if row.topic.deleted_at %}<span class="badge deleted">deleted</span>{% endif %}</td>
<td>{% if row.category %}<span class="chip" style="background:#{{ row.category.color }};color:#{{ row.category.text_color }}">{{ row.category.name }}</span>{% endif %}</td>
<td>{% for tag in row.topic.tags %}<span class="tag">{{ tag }}</span>{% endfor %}</td>
<td class="ext">{{ row.topic.external_id or '' }}</td>
<td>{{ row.posts }}</td><td class="meta">{{ when(row.topic.bumped_at or row.topic.created_at) }}</td>
</tr>{% endfor %}</table>{% endif %}"""

TOPIC_VIEW = """<h2>{{ topic.title }}</h2>
<p class="meta">
{% if topic.is_pm %}<span class="badge pm">private message</span> to
{{ recipients | join(', ') }}{% elif category %}<span class="chip" style="background:#{{ category.color }};color:#{{ category.text_color }}">{{ category.name }}</span>{% endif %}
{% for tag in topic.tags %}<span class="tag">{{ tag }}</span>{% endfor %}
{% if topic.external_id %} · external_id <span class="ext">{{ topic.external_id }}</span>{% endif %}
{% if topic.shared_draft_category_id %}<span class="badge">shared draft</span>{% endif %}
{% if topic.closed %}<span class="badge">closed</span>{% endif %}
{% if topic.archived %}<span class="badge">archived</span>{% endif %}
{% if not topic.visible %}<span class="badge">unlisted</span>{% endif %}
{% if topic.deleted_at %}<span class="badge deleted">deleted</span>{% endif %}
· topic {{ topic.id }}</p>
{% for item in posts %}{% set post = item.post %}
<div class="post{% if post.post_type == whisper %} whisper{% endif %}{% if post.deleted_at %} deleted{% endif %}" id="post-{{ post.post_number }}">
<div class="meta"><strong>#{{ post.post_number }}</strong> {{ item.author_name }} (@{{ item.author }})
· {{ when(post.created_at) }}
{% if post.reply_to_post_number %} · reply to <a href="#post-{{ post.reply_to_post_number }}">#{{ post.reply_to_post_number }}</a>{% endif %}
{% if post.post_type == whisper %}<span class="badge whisper">whisper</span>{% endif %}
{% if post.deleted_at %}<span class="badge deleted">deleted</span>{% endif %}
{% if post.hidden %}<span class="badge">hidden</span>{% endif %}
· ♥ {{ post.likes | length }}
· post {{ post.id }}
· {% if post.revisions %}<a href="{{ url('/view/p/%d/revisions' % post.id) }}">v{{ post.version }}, {{ post.revisions | length }} revision{{ '' if post.revisions | length == 1 else 's' }}</a>{% else %}no edits{% endif %}
</div>
<div class="cooked">{{ item.cooked }}</div></div>
{% endfor %}"""

REVISIONS_VIEW = """<h2>Revisions of post #{{ post.post_number }} in
<a href="{{ url('/view/t/%d' % topic.id) }}#post-{{ post.post_number }}">{{ topic.title }}</a></h2>
<p class="meta">current version {{ post.version }} · {{ post.revisions | length }} revision(s)</p>
{% for item in revisions %}{% set rev = item.revision %}
<div class="post"><div class="meta"><strong>version {{ rev.number }}</strong> by @{{ item.editor }}
· {{ when(rev.created_at) }}{% if rev.edit_reason %} · reason: {{ rev.edit_reason }}{% endif %}</div>
{% if rev.title_before is not none %}<p>Title: <span class="del">{{ rev.title_before }}</span> →
<span class="add">{{ rev.title_after }}</span></p>{% endif %}
{% if rev.raw_before != rev.raw_after %}
<p class="meta">before</p><pre>{{ rev.raw_before }}</pre>
<p class="meta">after</p><pre>{{ rev.raw_after }}</pre>
<p class="meta">diff</p><pre>{% for line in item.diff %}<span class="{{ 'add' if line.startswith('+') else 'del' if line.startswith('-') else '' }}">{{ line }}</span>
{% endfor %}</pre>{% else %}<p class="meta">raw unchanged</p>{% endif %}
</div>{% endfor %}"""


def _viewer(forum: Forum) -> tuple[User, str | None]:
    """Who the page is shown to: `?as=<username>`, else the anonymous visitor."""
    name = request.args.get("as", "").strip()
    if not name:
        return ANONYMOUS, None
    user = forum.user_by_name(name)
    if user is None:
        abort(404, description=f"no user named {name!r}")
    return user, user.username


def _url(path: str, as_name: str | None) -> str:
    if not as_name:
        return path
    anchor = ""
    if "#" in path:
        path, anchor = path.split("#", 1)
        anchor = "#" + anchor
    return f"{path}?as={quote(as_name)}{anchor}"


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts else ""


def _page(title: str, body: str, *, forum: Forum, viewer: User, as_name: str | None, status: int = 200) -> Response:
    label = "anonymous visitor" if viewer is ANONYMOUS else f"@{viewer.username}"
    html = render_template_string(LAYOUT, title=title, site=forum.settings.get("title", "Discourse"),
                                  viewer_label=label, as_name=as_name, body=Markup(body),
                                  url=lambda p: _url(p, as_name))
    return Response(html, status=status, mimetype="text/html")


def _render(template: str, as_name: str | None, **context: Any) -> str:
    return render_template_string(template, url=lambda p: _url(p, as_name), when=_when, **context)


def resolve_uploads(forum: Forum, cooked: str) -> str:
    """Resolve images the cooker left as `data-orig-src="upload://…"` to the stored upload, if there is one now.

    Discourse's client does the same for such images when it shows a post (`resolveAllShortUrls`); images the cooker
    resolved already carry their `/uploads/…` URL. An unknown short URL stays the transparent placeholder.
    """
    by_short = {u.short_url: u for u in forum.uploads.values()}

    def image(match: re.Match[str]) -> str:
        upload = by_short.get(match.group(2))
        if upload is None:
            return match.group(0)
        return f'<img src="{escape(upload.url)}"{match.group(1)} data-orig-src="{match.group(2)}"'

    return ORIG_SRC.sub(image, cooked)


@blueprint.get("/")
def topic_list():  # type: ignore[no-untyped-def]
    forum = current_forum()
    with forum.lock:
        viewer, as_name = _viewer(forum)
        topics = [t for t in forum.topics.values() if forum.can_see_topic(viewer, t)]
        topics.sort(key=lambda t: (t.bumped_at or t.created_at, t.id), reverse=True)
        rows = [{"topic": t, "category": forum.categories.get(t.category_id or 0) if not t.is_pm else None,
                 "posts": len(forum.topic_posts(t, viewer))} for t in topics]
        body = _render(TOPIC_LIST, as_name, rows=rows)
        return _page("Latest", body, forum=forum, viewer=viewer, as_name=as_name)


def _visible_topic(forum: Forum, topic_id: int, viewer: User) -> Topic:
    topic = forum.topics.get(topic_id)
    if topic is None or not forum.can_see_topic(viewer, topic):
        abort(404)
    return topic


@blueprint.get("/view/t/<int:topic_id>")
def topic_view(topic_id: int):  # type: ignore[no-untyped-def]
    forum = current_forum()
    with forum.lock:
        viewer, as_name = _viewer(forum)
        topic = _visible_topic(forum, topic_id, viewer)
        posts = []
        for post in forum.topic_posts(topic, viewer):
            author = forum.users.get(post.user_id)
            posts.append({"post": post, "author": author.username if author else "deleted",
                          "author_name": author.name if author else "",
                          "cooked": Markup(resolve_uploads(forum, post.cooked))})
        recipients = [forum.users[i].username for i in topic.allowed_user_ids if i in forum.users]
        recipients += [forum.groups[i].name for i in topic.allowed_group_ids if i in forum.groups]
        body = _render(TOPIC_VIEW, as_name, topic=topic, posts=posts, whisper=POST_WHISPER,
                       category=forum.categories.get(topic.category_id or 0), recipients=recipients)
        return _page(topic.title, body, forum=forum, viewer=viewer, as_name=as_name)


@blueprint.get("/view/p/<int:post_id>/revisions")
def post_revisions(post_id: int):  # type: ignore[no-untyped-def]
    forum = current_forum()
    with forum.lock:
        viewer, as_name = _viewer(forum)
        post: Post | None = forum.posts.get(post_id)
        if post is None or not forum.can_see_post(viewer, post):
            abort(404)
        topic = forum.topics[post.topic_id]
        revisions = []
        for revision in post.revisions:
            editor = forum.users.get(revision.user_id)
            diff = list(difflib.unified_diff(revision.raw_before.splitlines(), revision.raw_after.splitlines(),
                                             "before", "after", lineterm="", n=2))[2:]
            revisions.append({"revision": revision, "editor": editor.username if editor else "?", "diff": diff})
        body = _render(REVISIONS_VIEW, as_name, post=post, topic=topic, revisions=revisions)
        return _page(f"Revisions · {topic.title}", body, forum=forum, viewer=viewer, as_name=as_name)


def _upload_response(upload: Upload) -> Response:
    mimetype = mimetypes.guess_type(f"x.{upload.extension}")[0] or "application/octet-stream"
    response = Response(upload.data, mimetype=mimetype)
    response.headers["Cache-Control"] = "max-age=31556952, public, immutable"
    return response


@blueprint.get("/uploads/default/original/<path:rest>")
def upload_original(rest: str):  # type: ignore[no-untyped-def]
    forum = current_forum()
    with forum.lock:
        for upload in forum.uploads.values():
            if upload.url == request.path:
                return _upload_response(upload)
    abort(404)


@blueprint.get("/uploads/short-url/<short>")
def upload_short(short: str):  # type: ignore[no-untyped-def]
    forum = current_forum()
    with forum.lock:
        for upload in forum.uploads.values():
            if upload.short_url == f"upload://{short}":
                return _upload_response(upload)
    abort(404)
