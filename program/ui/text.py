"""What a person typed, made safe to place in Markdown: shown as the characters typed, never as markup.

Streamlit renders Markdown in titles, headers, captions, alerts, `st.write`, widget labels and help, radio
options, button labels, expander titles and tab names. Beyond CommonMark it renders GitHub's autolinks
(`www.host`, `https://host`, `a@host`), raw HTML where allowed, its own directives (`:red[...]`,
`:material/icon:`, `:small[...]`), `$math$` and emoji short codes. A name like `![t](http://host/x)` would
make every reader's browser fetch that image.
"""

from __future__ import annotations

import re
import unicodedata

# CommonMark lets a backslash escape any ASCII punctuation character, and then shows that character as
# itself. Escaping these stops links, images, emphasis, code, HTML, autolinks (their `:`, `.` and `@`),
# Streamlit's directives (`:`, `[`, `{`), math (`$`), tables (`|`) and block syntax at the start of a
# line (`#`, `>`, `-`, `+`, `*`, `=`, `1.`, `1)`). `&` is escaped where it would start a character
# reference (`&lt;`, `&#91;`). Only `'`, `"`, `,`, `;`, `?`, `%` and a plain `&` are never markup, and
# stay as they are, so "Ana & Ben" reads the same in the page's source.
_MARKUP = re.compile(r"""([!#$()*+\-./:<=>@\[\\\]^_`{|}~]|&(?=#?[0-9A-Za-z]+;))""")
# Line breaks would let a later line start a heading, a list or a code block; one space reads the same.
_LINE_BREAKS = re.compile(r"[ \t]*[\r\n\v\f\u2028\u2029\x85]+\s*|\t")
# Characters that change how the text around them looks or reads (bidi overrides and isolates,
# zero-width and invisible characters, controls) are dropped: the reader sees what is actually there.
_ZERO_WIDTH_JOINER = "\u200d"  # kept: it joins emoji sequences


def visible(text: str) -> str:
    """The text without control and format characters (bidi overrides, zero-width, NUL), one line."""
    text = _LINE_BREAKS.sub(" ", text)
    return "".join(
        char for char in text if char == _ZERO_WIDTH_JOINER or unicodedata.category(char) not in ("Cc", "Cf")
    )


# GitHub's autolinks (`www.host`, `https://host`, `a@host.org`) are found in the text after escapes are
# resolved, so escaping cannot stop them; an invisible word joiner at the one place each pattern needs
# (`www⁠.host`, `https⁠://` and any word before a colon, `a⁠@host`) breaks it without changing what the
# reader sees. Other dots are left alone, so a username such as "dr.kim" reads and copies as typed.
_LINK_PARTS = re.compile(r"(?i)(?<=\bwww)(?=\.)|(?<=\w)(?=:)|(?<=\w)(?=@\w)")
WORD_JOINER = "\u2060"


def md(text: str) -> str:
    """A typed string escaped for any Streamlit Markdown context, so it shows as the characters typed."""
    return _MARKUP.sub(r"\\\1", _LINK_PARTS.sub(WORD_JOINER, visible(text)))
