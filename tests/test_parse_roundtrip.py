"""Property: any syntax tree, written as nginx.conf text by tests/confhelpers.render, reads back
as the same tree, each statement on the line it was written on.

Names and arguments are drawn from text rich in what nginx's reader treats specially (whitespace,
`;` `{` `}` `#`, quotes, backslashes, `$`), in what it does not (a non-breaking space, vertical
tab, form feed, NEL and U+2028 are word characters; nginx counts lines by LF only), and in any
other Unicode. The renderer quotes and escapes whatever needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

from confhelpers import Node, render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushproxy.config.parse import parse_text
from pushproxy.config.tree import Directive

SPECIAL = [" ", "\t", "\r", "\n", ";", "{", "}", "#", '"', "'", "\\", "$", "(", ")"]
NOT_SPACE = ["\u00a0", "\x0b", "\x0c", "\x85", "\u2028", "\ufeff"]

chars = st.one_of(
    st.sampled_from(SPECIAL + NOT_SPACE),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
)
words = st.text(chars, max_size=10)
names = words.filter(lambda w: not w.endswith("_by_lua_block") and w != "include")
comment_texts = st.text(
    st.one_of(st.sampled_from(SPECIAL + NOT_SPACE), st.characters(exclude_categories=["Cs"])),
    max_size=20,
).map(lambda t: t.replace("\n", " ").replace("\r", " ").replace("\x00", " "))

simple = st.builds(Node, name=names, args=st.lists(words, max_size=4).map(tuple))
comment = st.builds(lambda text: Node(name="#", comment=text), comment_texts)


def with_block(children: st.SearchStrategy[list[Node]]) -> st.SearchStrategy[Node]:
    return st.builds(
        Node, name=names, args=st.lists(words, max_size=3).map(tuple), block=children.map(tuple)
    )


trees = st.lists(
    st.recursive(st.one_of(simple, comment), lambda inner: with_block(st.lists(inner, max_size=4))),
    max_size=6,
)
styles = st.lists(st.sampled_from(["auto", "double", "single"]), min_size=1)


def as_node(d: Directive) -> Node:
    if d.comment is not None:
        return Node(name="#", comment=d.comment)
    block = None if d.block is None else tuple(as_node(b) for b in d.block)
    return Node(name=d.name, args=d.args, block=block)


def lines_of(tree: tuple[Directive, ...]) -> list[int]:
    out: list[int] = []
    for d in tree:
        out.append(d.line)
        out.extend(lines_of(d.block or ()))
    return out


def without_comments(nodes: list[Node] | tuple[Node, ...]) -> list[Node]:
    out = []
    for n in nodes:
        if n.comment is not None:
            continue
        block = None if n.block is None else tuple(without_comments(n.block))
        out.append(Node(name=n.name, args=n.args, block=block))
    return out


def cycle(items: list[str]) -> Iterator[str]:
    while True:
        yield from items


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, style=styles)
def test_rendered_tree_reads_back(tree: list[Node], style: list[str]) -> None:
    rendered = render(tree, styles=cycle(style))
    parsed = parse_text(rendered.text, comments=True)
    assert [as_node(d) for d in parsed] == tree
    assert lines_of(parsed) == rendered.lines


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, style=styles)
def test_comments_are_dropped_unless_asked(tree: list[Node], style: list[str]) -> None:
    rendered = render(tree, styles=cycle(style))
    parsed = parse_text(rendered.text)
    assert [as_node(d) for d in parsed] == without_comments(tree)


def test_renderer_quotes_what_needs_it() -> None:
    odd = ("", "x;y", "{", "}z", "#c", "q\"'", "t\tn\n\\", "$v", "w\u00a0")
    rendered = render(
        [
            Node(name="a b", args=odd),
            Node(name="blk", args=("z}",), block=(Node(name="#", comment=" note"),)),
        ]
    )
    assert rendered.text == (
        '"a b" "" "x;y" "{" "}z" "#c" q"\' "t\\tn\\n\\\\" $v w\u00a0;\nblk z} {\n    # note\n}\n'
    )
    assert rendered.lines == [1, 2, 3]
    forced = iter(["double", "single", "single", "double"])
    styled = render([Node(name="n", args=("a", "it's", "b"))], styles=forced)
    assert styled.text == "\"n\" 'a' 'it\\'s' \"b\";\n"
