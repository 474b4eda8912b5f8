"""Posts cooked as Discourse cooks them: markdown-it, Discourse's own rules on top, then its allowlist sanitizer.

Discourse renders `raw` with markdown-it (`app/assets/javascripts/discourse-markdown-it/src/setup.js`: `html: true`,
`breaks: !traditional_markdown_linebreaks`, typographer on, quotation marks `“|”|‘|’`) plus its features, and then
passes the HTML through an allowlist sanitizer (`pretty-text/addon/sanitizer.js`, js-xss with the tag list of
`pretty-text/addon/allow-lister.js` and each feature's additions). What this module models, each from that source:

- `[quote]…[/quote]` and `[quote="name, post:N, topic:M"]` (`discourse-markdown-it/src/features/bbcode-block.js`,
  `pretty-text/engines/discourse-markdown/quotes.js`): a block whose inside is parsed as markdown on its own,
  rendered `<aside class="quote no-group" data-username data-post data-topic>`, a `<div class="title">` with
  `<div class="quote-controls">` and "name:" when a name is given, then `<blockquote>…</blockquote></aside>`.
  `[code]…[/code]` is a code block, as there.
- GFM tables wrapped in `<div class="md-table">` (`features/table.js`), with only `text-align` styles kept.
- Code fences as `<pre><code class="lang-auto">`, or `<pre data-code-wrap="x"><code class="lang-x">`
  (`features/code.js`, `default_code_lang` = "auto").
- Heading anchors `<a name="slug-1" class="anchor" href="#slug-1">` outside quotes (`features/anchor.js`).
- Images: `![alt|690x388](…)` sizes (`discourse-markdown-it/src/engine.js`), and `upload://` short URLs resolved
  to the stored upload's URL with `data-base62-sha1`, as server-side cooking does (`features/upload-protocol.js`;
  a link to an upload gets its `/uploads/short-url/…` path). An unresolvable one gets `/images/transparent.png`
  and `data-orig-src`, as there.
- The sanitizer: tags outside the allowlist are dropped (their text kept), `<script>` with its content; every
  attribute not allowed is dropped (so every `on*` handler); `href`/`src` only as absolute http(s), relative,
  anchor or mailto URLs (`hrefAllowed`), so `javascript:` never survives; comments dropped; a bare `<` that
  starts no tag is text. As Nokogiri does when Discourse re-serializes the cooked fragment
  (`lib/pretty_text.rb`), the result is balanced: a stray closing tag is dropped, an unclosed one closed.

- Bare URLs become links (linkify, with linkify-it-py), as the site setting `enable_markdown_linkify` (on by
  default) has markdown-it do (`features/linkify.js`).

- Inline oneboxes for the forum's own public topics (`inline_oneboxes`, given the forum's lookup).

Not modelled (nothing the service posts needs them): mentions, hashtags, emoji, full oneboxes and inline ones of
other sites or of /p/ links, `rel="nofollow ugc"` on external links, avatars and group classes in quote titles,
`[details]`, polls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html import escape as _escape
from html import unescape as _unescape
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, isWhiteSpace, unescapeAll
from markdown_it.rules_block.state_block import StateBlock
from markdown_it.rules_core.state_core import StateCore
from markdown_it.token import Token

UploadLookup = Callable[[str], "str | None"]
"""A short URL (`upload://<base62>.<ext>`) to the stored upload's URL, or None when there is no such upload."""

TRANSPARENT_PNG = "/images/transparent.png"
QUOTATION_MARKS = "“”‘’"
"""Discourse's `markdown_typographer_quotation_marks` default, `“|”|‘|’`."""
DEFAULT_CODE_LANG = "auto"
"""Discourse's `default_code_lang` default."""
TEXT_CODE_CLASSES = ("text", "pre", "plain")

_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHORT_URL = re.compile(r"upload://([0-9A-Za-z]+)(?:\.([0-9A-Za-z]+))?")


# ------------------------------------------------------------------------------------------------ uploads


def sha1_from_short_url(short_url: str) -> str | None:
    """Upload.sha1_from_short_url: the base62 part of `upload://…` is the SHA-1, as a 40-digit hex number."""
    match = _SHORT_URL.fullmatch(short_url)
    if match is None:
        return None
    number = 0
    for char in match.group(1):
        number = number * 62 + _BASE62.index(char)
    if number >= 1 << 160:
        return None
    return f"{number:040x}"


def simulator_upload_url(short_url: str) -> str | None:
    """Where the simulator stores the upload a short URL names (`Forum.create_upload`'s URL scheme)."""
    sha1 = sha1_from_short_url(short_url)
    if sha1 is None:
        return None
    extension = _SHORT_URL.fullmatch(short_url).group(2)  # type: ignore[union-attr]
    return f"/uploads/default/original/1X/{sha1}.{extension}" if extension else f"/uploads/default/original/1X/{sha1}"


# ------------------------------------------------------------------------------------------------ BBCode blocks
# A port of discourse-markdown-it/src/features/bbcode-block.js (parseBBCodeTag, findBlockCloseTag,
# findInlineCloseTag, applyBBCode) for the block tags the simulator knows: quote and code.

_ATTR = re.compile(r"""^\s*=(.+)$|((([a-z0-9]*)\s*)=)([“”"][^“”"]*[“”"]|['][^']*[']|[^"'“”]\S*)""", re.IGNORECASE)


def _trailing_space_only(src: str, start: int, end: int) -> bool:
    for i in range(start, end):
        if src[i] == "\n":
            return True
        if not isWhiteSpace(ord(src[i])):
            return False
    return True


def parse_bbcode_tag(src: str, start: int, end: int, multiline: bool = False) -> dict[str, Any] | None:
    """`[tag a=1]` at `src[start]` → {"tag", "attrs", "length"}; `[/tag]` → {"tag", "length", "closing"}."""
    closing = start + 1 < end and src[start + 1] == "/"
    if closing:
        start += 1
    i = start + 1
    while i < end and ("a" <= src[i] <= "z" or "A" <= src[i] <= "Z"):
        i += 1
    tag = src[start + 1 : i]
    if not tag:
        return None
    if closing:
        if i < end and src[i] == "]":
            if multiline and not _trailing_space_only(src, i + 1, end):
                return None
            return {"tag": tag.lower(), "length": len(tag) + 3, "closing": True}
        return None
    close = src.find("]", i, end)
    if close < 0:
        return None
    length = close - start + 1
    attrs: dict[str, str] = {}
    raw = src[start + len(tag) + 1 : close]
    for match in _ATTR.finditer(raw):
        key = "_default" if match.group(1) else match.group(4)
        value = match.group(1) or match.group(5)
        if value:
            attrs[key] = re.sub(r"""^["'“”](.*)["'“”]$""", r"\1", value.strip())
    if multiline and not _trailing_space_only(src, start + length, end):
        return None
    return {"tag": tag.lower(), "attrs": attrs, "length": length}


def _find_block_close(state: StateBlock, tag: str, start_line: int, end_line: int) -> int | None:
    nesting = 0
    line = start_line - 1
    while True:
        line += 1
        if line >= end_line:
            return None  # an unclosed BBCode block is not closed by the end of the document
        start = state.bMarks[line] + state.tShift[line]
        end = state.eMarks[line]
        if start < end and state.sCount[line] < state.blkIndent:
            return None
        if start >= len(state.src) or state.src[start] != "[":
            continue
        if state.sCount[line] - state.blkIndent >= 4:
            continue
        found = parse_bbcode_tag(state.src, start, end, multiline=True)
        if found and found["tag"] == tag:
            if found.get("closing"):
                if nesting == 0:
                    return line
                nesting -= 1
            else:
                nesting += 1


def _find_inline_close(state: StateBlock, tag: str, start: int, end: int) -> int | None:
    possible = False
    for j in range(end - 1, start, -1):
        if not possible:
            if state.src[j] == "]":
                possible = True
                continue
            if not isWhiteSpace(ord(state.src[j])):
                return None
        elif state.src[j] == "[":
            found = parse_bbcode_tag(state.src, j, end)
            if found and found["tag"] == tag and found.get("closing"):
                return j
    return None


def _quote_before(state: StateBlock, attrs: Mapping[str, str]) -> None:
    """quotes.js `before`: the aside, its title when a name is given, and the blockquote."""
    username = post_number = topic_id = None
    full = False
    info = attrs.get("_default")
    if info:
        parts = re.split(r",\s*", info)
        username = parts[0]
        for part in parts[1:]:
            if part.startswith("post:") and re.match(r"\s*-?\d", part[5:]):
                post_number = int(re.match(r"\s*(-?\d+)", part[5:]).group(1))  # type: ignore[union-attr]
            elif part.startswith("topic:") and re.match(r"\s*-?\d", part[6:]):
                topic_id = int(re.match(r"\s*(-?\d+)", part[6:]).group(1))  # type: ignore[union-attr]
            elif re.search(r"full:\s*true", part):
                full = True
            elif part.startswith("username:"):
                username = part[9:]
    token = state.push("bbcode_open", "aside", 1)
    token.attrSet("class", "quote no-group")
    if username:
        token.attrSet("data-username", username)
    if post_number:
        token.attrSet("data-post", str(post_number))
    if topic_id:
        token.attrSet("data-topic", str(topic_id))
    if full:
        token.attrSet("data-full", "true")
    if username:
        state.push("quote_header_open", "div", 1).attrSet("class", "title")
        state.push("quote_controls_open", "div", 1).attrSet("class", "quote-controls")
        state.push("quote_controls_close", "div", -1)
        state.push("text", "", 0).content = f" {username}:"
        state.push("quote_header_close", "div", -1)
    state.push("bbcode_open", "blockquote", 1)


def _bbcode_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    start = state.bMarks[start_line] + state.tShift[start_line]
    end = state.eMarks[start_line]
    if start >= end or state.src[start] != "[":
        return False
    info = parse_bbcode_tag(state.src, start, end)
    if info is None or info.get("closing") or info["tag"] not in ("quote", "code"):
        return False
    if silent:
        return True
    inline_close = _find_inline_close(state, info["tag"], start + info["length"], end)
    close_line = start_line
    if inline_close is None:
        if not _trailing_space_only(state.src, start + info["length"], end):
            return False
        block_close = _find_block_close(state, info["tag"], start_line + 1, end_line)
        if block_close is None:
            return False
        close_line = block_close
    old_parent, old_line_max = state.parentType, state.lineMax
    state.lineMax = close_line
    if info["tag"] == "code":
        if inline_close is not None:
            content = state.src[start + info["length"] : inline_close]
        else:
            content = state.src[state.bMarks[start_line + 1] : state.eMarks[close_line - 1]]
        state.push("fence", "code", 0).content = content
    else:
        _quote_before(state, info["attrs"])
        if inline_close is None:
            state.md.block.tokenize(state, start_line + 1, close_line)
        else:
            state.push("paragraph_open", "p", 1).map = [start_line, start_line]
            inline = state.push("inline", "", 0)
            inline.children = []
            inline.map = [start_line, start_line]
            inline.content = state.src[start + info["length"] : inline_close]
            state.push("paragraph_close", "p", -1)
        state.push("bbcode_close", "blockquote", -1)
        state.push("bbcode_close", "aside", -1)
    state.parentType, state.lineMax = old_parent, old_line_max
    state.line = close_line + 1
    return True


# ------------------------------------------------------------------------------------------------ core rules


def _anchors(state: StateCore) -> None:
    """features/anchor.js: each heading outside quotes gets `<a name class="anchor" href="#…">`."""
    level = heading_id = 0
    tokens = state.tokens
    for idx, token in enumerate(tokens):
        if token.type == "blockquote_open" or (token.type == "bbcode_open" and token.tag == "aside"):
            level += 1
        elif token.type == "blockquote_close" or (token.type == "bbcode_close" and token.tag == "aside"):
            level -= 1
        if level > 0 or token.type != "heading_open":
            continue
        slug = tokens[idx + 1].content.lower()
        slug = re.sub(r"\s+", "-", slug)
        slug = re.sub(r"[^\w\-]+", "", slug, flags=re.ASCII)
        slug = re.sub(r"\-\-+", "-", slug).strip("-")
        if re.match(r"^[^a-z]", slug):
            slug = f"h-{slug}"
        heading_id += 1
        slug = f"{slug or 'h'}-{heading_id}"
        link_open = Token("link_open", "a", 1, attrs={"name": slug, "class": "anchor", "href": "#" + slug})
        children = tokens[idx + 1].children or []
        tokens[idx + 1].children = [link_open, Token("link_close", "a", -1), *children]


def _uploads(lookup: UploadLookup) -> Callable[[StateCore], None]:
    """features/upload-protocol.js, server-side: `upload://` sources resolved to the stored upload."""

    def resolve(token: Token) -> None:
        if token.tag in ("img", "a"):
            name = "src" if token.tag == "img" else "href"
            value = str(token.attrGet(name) or "")
            if value.startswith("upload://"):
                url = lookup(value)
                sha1 = sha1_from_short_url(value)
                if token.tag == "img" and url and sha1:
                    token.attrSet("src", url)
                    token.attrSet("data-base62-sha1", value.removeprefix("upload://").split(".", 1)[0])
                elif token.tag == "img":
                    token.attrSet("src", TRANSPARENT_PNG)
                    token.attrSet("data-orig-src", value)
                elif url:
                    token.attrSet("href", "/uploads/short-url/" + value.removeprefix("upload://"))
                else:
                    token.attrSet("href", "/404")
                    token.attrSet("data-orig-href", value)
        for child in token.children or []:
            resolve(child)

    def rule(state: StateCore) -> None:
        for token in state.tokens:
            resolve(token)

    return rule


# ------------------------------------------------------------------------------------------------ renderers

_IMG_SIZE = re.compile(r"^([1-9][0-9]*)x([1-9][0-9]*)(\s*,\s*(x?)([1-9][0-9]{0,2}?)([%x]?))?$")


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """engine.js renderImageOrPlayableMedia, for images: `alt|WxH` sets the size; an empty alt gets a role."""
    token = tokens[idx]
    split = self.renderInlineAsText(token.children or [], options, env).split("|")
    alt = [split[0]]
    for part in split[1:]:
        size = _IMG_SIZE.match(part)
        if size:
            if token.attrGet("width") is None:
                token.attrSet("width", size.group(1))
            if token.attrGet("height") is None:
                token.attrSet("height", size.group(2))
        elif part == "thumbnail":
            token.attrSet("data-thumbnail", "true")
        else:
            alt.append(part)
    text = "|".join(alt).strip()
    if text:
        token.attrSet("alt", text)
    else:
        token.attrs.pop("alt", None)
        token.attrSet("role", "presentation")
    return str(self.renderToken(tokens, idx, options, env))


def _render_fence(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """features/code.js: `lang-auto` by default, `lang-x` with `data-code-wrap="x"` for a named language."""
    token = tokens[idx]
    info = (token.info or "").strip()
    tag = ""
    if info:
        first = re.match(r"(^\s*\S*)\s*(.*)", info)
        if first and re.fullmatch(r"[\w+-]*", first.group(1), flags=re.ASCII):
            tag = unescapeAll(re.sub(r"[^\x00-\x7F]", "", first.group(1), count=1))
    tag = tag or DEFAULT_CODE_LANG
    attributes = ""
    if tag in TEXT_CODE_CLASSES:
        class_name = "lang-plaintext"
    elif tag == "auto":
        class_name = "lang-auto"
    else:
        class_name = f"lang-{escapeHtml(tag)}"
        attributes = f' data-code-wrap="{escapeHtml(tag)}"'
    return f'<pre{attributes}><code class="{class_name}">{escapeHtml(token.content)}</code></pre>\n'


def _render_table_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return '<div class="md-table">\n<table>\n'


def _render_table_close(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return "</table>\n</div>"


def make_engine(lookup_upload: UploadLookup = simulator_upload_url) -> MarkdownIt:
    """markdown-it set up as Discourse's engine is (see the module docstring), with its rules added."""
    md = MarkdownIt(
        "default", {"html": True, "breaks": True, "typographer": True, "linkify": True, "quotes": QUOTATION_MARKS}
    ).enable("linkify")  # site setting enable_markdown_linkify, on by default: a bare URL becomes a link
    md.block.ruler.after("fence", "bbcode", _bbcode_block, {"alt": ["paragraph", "reference", "blockquote", "list"]})
    md.core.ruler.push("upload_protocol", _uploads(lookup_upload))
    md.core.ruler.push("anchor", _anchors)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    return md


# ------------------------------------------------------------------------------------------------ sanitizer

_DEFAULT_LIST = (
    # pretty-text/addon/allow-lister.js DEFAULT_LIST
    "a.anchor a.attachment a.hashtag a.mention a.mention-group a.onebox a.inline-onebox a.inline-onebox-loading "
    "a[data-bbcode] a[data-word] a[name] a[rel=nofollow] a[rel=ugc] a[target=_blank] a[title] abbr[title] "
    "aside.quote aside[data-*] audio audio[controls] audio[preload] b big blockquote br code dd del div "
    "div.quote-controls div.title div[align] div[lang] div[data-*] div[dir] dl dt em h1 h2 h3 h4 h5 h6 hr i "
    "img[alt] img[height] img[title] img[width] img[data-thumbnail] ins kbd li mark ol ol[reversed] ol[start] "
    "ol[type] p p[lang] picture pre s small span[lang] span.excerpt div.excerpt div.video-container "
    "div.onebox-placeholder-container span.hashtag span.mention strike strong sub sup source[data-orig-src] "
    "source[src] source[srcset] source[type] track track[default] track[label] track[kind] track[src] "
    "track[srclang] ul video video[controls] video[controlslist] video[crossorigin] video[height] video[loop] "
    "video[muted] video[playsinline] video[poster] video[preload] video[width] ruby ruby[lang] rb rb[lang] rp rt "
    "rt[lang] "
    # features/table.js
    "table tbody thead tr th th[colspan] th[rowspan] td td[colspan] td[rowspan] div.md-table "
    # quotes.js
    "img[class=avatar] img[loading=lazy] "
    # code.js
    "pre[data-code-*] "
    # upload-protocol.js
    "img[data-orig-src] img[data-base62-sha1] a[data-orig-href]"
).split()
_ALLOW_ITEM = re.compile(r"([^\[]+)(\[([^=]+)(=(.*))?\])?")


def _build_allow_list() -> dict[str, dict[str, list[str]]]:
    """allow-lister.js `_buildCache`: tag → attribute → allowed values ("*" for any)."""
    tags: dict[str, dict[str, list[str]]] = {}
    for item in _DEFAULT_LIST:
        classes = item.split(".")
        match = _ALLOW_ITEM.fullmatch(classes.pop(0))
        assert match is not None, item
        name, attr, value = match.group(1), match.group(3), match.group(5)
        attrs = tags.setdefault(name, {})
        if classes:
            attrs.setdefault("class", []).extend(classes)
        if attr:
            if value:
                attrs.setdefault(attr, []).append(value)
            else:
                attrs[attr] = ["*"]
    return tags


ALLOWED = _build_allow_list()
STRIP_WITH_BODY = frozenset({"script"})
"""js-xss `stripIgnoreTagBody` (sanitizer.js also names table, which the table feature allows)."""
VOID = frozenset({"br", "hr", "img", "source", "track", "wbr", "col", "area", "input", "meta", "link", "base"})


def href_allowed(href: str) -> str | None:
    """sanitizer.js hrefAllowed: absolute http(s) or protocol-relative, relative, anchor or mailto."""
    href = href.replace("'", "%27")
    for pattern in (r"^(https?:)?//[\w.\-]+", r"^/[\w.\-]+", r"^#[\w.\-]+", r"^mailto:[\w.\-@]+"):
        if re.match(pattern, href, flags=re.IGNORECASE | re.ASCII):
            return href
    return None


def _custom_allowed(tag: str, name: str, value: str) -> bool:
    """The features' custom callbacks: quote classes (quotes.js), code classes (code.js), cell alignment
    (table.js)."""
    if tag == "aside" and name == "class":
        return value == "quote no-group" or re.match(r"^quote group-(.+)$", value) is not None
    if tag == "code" and name == "class":
        return re.match(r"^lang-.+$", value) is not None
    if tag in ("th", "td") and name == "style":
        return value in ("text-align:right", "text-align:left", "text-align:center")
    return False


def _allowed_attr(tag: str, name: str, value: str) -> str | None:
    """sanitizer.js onIgnoreTagAttr: the value to keep for `name`, or None to drop it."""
    for_tag = ALLOWED[tag]
    allowed = for_tag.get(name)
    if allowed and ("*" in allowed or value in allowed):
        return value
    if name.startswith("data-") and "data-html-" not in name:
        if "data-*" in for_tag:
            return value
        for key, values in for_tag.items():
            if key.endswith("*") and re.match("^" + re.escape(key[:-1]) + r"\w+?", name):
                if "*" in values or value in values:
                    return value
    if tag == "a" and name == "href":
        return href_allowed(value)
    if name == "src" and tag in ("img", "source", "track"):
        return value if value.startswith("data:image") else href_allowed(value)
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and re.match(r"^heading--[a-zA-Z0-9\-_]+$", value):
        return value
    if _custom_allowed(tag, name, value):
        return value
    return None


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping: str | None = None

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        kept = []
        for name, value in attrs:
            value = value if value is not None else ""
            keep = _allowed_attr(tag, name, value)
            if keep is not None:
                kept.append(f' {name}="{_escape(keep, quote=True)}"' if keep else f" {name}")
        return f"<{tag}{''.join(kept)}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            return
        if tag in STRIP_WITH_BODY:
            self.skipping = tag
        elif tag in ALLOWED:
            self.out.append(self._tag(tag, attrs))
            if tag not in VOID:
                self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping and tag in ALLOWED:
            self.out.append(self._tag(tag, attrs))
            if tag not in VOID:
                self.out.append(f"</{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping:
                self.skipping = None
            return
        if tag in ALLOWED and tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data.replace("<", "&lt;").replace(">", "&gt;"))

    def handle_entityref(self, name: str) -> None:
        if not self.skipping:
            self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if not self.skipping:
            self.out.append(f"&#{name};")

    def unknown_decl(self, data: str) -> None:  # <![CDATA[…]]> and the like: dropped
        pass

    def close(self) -> None:
        super().close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")


def sanitize(html: str) -> str:
    """sanitizer.js `sanitize` over Discourse's allowlist, then balanced as Nokogiri re-serializes it."""
    if not html:
        return ""
    html = re.sub(r"<([^A-Za-z/!]|$)", r"&lt;\1", html)  # "Allow things like <3 and <_<"
    parser = _Sanitizer()
    parser.feed(html)
    parser.close()
    result = "".join(parser.out)
    result = re.sub(r"&(?![#\w]+;)", "&amp;", result)
    return result.replace("&#39;", "'")


# ------------------------------------------------------------------------------------------------ cook

_ENGINE = make_engine()


def cook(raw: str, *, lookup_upload: UploadLookup | None = None, topic_title: TitleLookup | None = None) -> str:
    """A post's `cooked` HTML from its `raw`, as Discourse's PrettyText.cook makes it.

    `lookup_upload` maps a short URL to a stored upload's URL; by default the simulator's own URL scheme, in
    which an upload's URL follows from its SHA-1 as its short URL does. `topic_title` (the forum's, where it cooks
    a post) names the public topic a link of the forum's own leads to, for inline oneboxes.
    """
    engine = _ENGINE if lookup_upload is None else make_engine(lookup_upload)
    cooked = sanitize(engine.render(raw)).strip()
    return cooked if topic_title is None else inline_oneboxes(cooked, topic_title)


TitleLookup = Callable[[str], "str | None"]
"""A URL → the title of the public topic of this forum it shows (None: not one)."""

_BARE_LINK = re.compile(r'<a href="([^"<>]+)">([^<>]+)</a>')


def inline_oneboxes(cooked: str, topic_title: TitleLookup) -> str:
    """A bare link (its text is its URL) to a topic of the forum's own that anyone may see shows the topic's title,
    as Discourse's InlineOneboxer does when it cooks a post (`lib/inline_oneboxer.rb`: a `topics#show` route of a
    topic `Guardian.new` — an anonymous visitor — can see; `<a class="inline-onebox">`). Other links stay as written."""

    def titled(match: re.Match[str]) -> str:
        href, text = match.group(1), match.group(2)
        if _unescape(text) != _unescape(href):
            return match.group(0)
        title = topic_title(_unescape(href))
        return match.group(0) if not title else f'<a href="{href}" class="inline-onebox">{_escape(title)}</a>'

    return _BARE_LINK.sub(titled, cooked)
