"""HTML sanitising: what remote servers send, and what members type."""

from __future__ import annotations

from node.activitypub.as2.notes import parse_note
from node.activitypub.sanitize import clean_html, text_to_html


def test_clean_html__strips_script_and_event_handlers():
    dirty = ('<p onclick="x()" style="color:red">hi<script>alert(1)</script><img src=x onerror=y>'
             '<a href="javascript:alert(1)" onmouseover="z()">link</a><iframe src="https://e.x"></iframe></p>')
    clean = clean_html(dirty)
    assert "script" not in clean and "alert" not in clean and "on" + "click" not in clean
    assert "onerror" not in clean and "onmouseover" not in clean and "iframe" not in clean and "img" not in clean
    assert clean.startswith("<p>hi") and "link</a>" in clean


def test_clean_html__keeps_mastodon_mentions_and_safe_links():
    html = ('<p><span class="h-card"><a href="https://m.example/@a" class="u-url mention evil">@a</a></span> '
            '<a href="https://e.example/x">x</a></p>')
    clean = clean_html(html)
    assert 'class="h-card"' in clean and "mention" in clean and "evil" not in clean
    assert 'href="https://e.example/x"' in clean and 'rel="nofollow noopener noreferrer"' in clean


def test_text_to_html__escapes_and_makes_paragraphs_and_links():
    html = text_to_html("a <b> & c\nnext line\n\nsee https://example.org/p?q=1.")
    assert html.startswith("<p>a &lt;b&gt; &amp; c<br>next line</p><p>see <a href=\"https://example.org/p?q=1\"")
    assert html.endswith("</a>.</p>")


def test_parse_note__sanitises_content_and_summary_and_checks_author_origin():
    document = {"id": "https://r.example/n/1", "type": "Note", "attributedTo": "https://r.example/u/a",
                "content": "<p>ok<script>bad()</script></p>", "summary": "<b onload=x>cw</b>",
                "to": ["https://www.w3.org/ns/activitystreams#Public"]}
    obj = parse_note(document)
    assert obj.content == "<p>ok</p>" and obj.summary == "<b>cw</b>" and obj.public
    try:
        parse_note({**document, "attributedTo": "https://elsewhere.example/u/a"})
    except Exception as exc:  # noqa: BLE001 - any refusal will do; the type is BadDocument
        assert "author" in str(exc)
    else:
        raise AssertionError("a Note attributed to another origin was accepted")
