"""`map` blocks: which variant a source value chooses, and what nginx says about bad entries.

Expected values are nginx's: the matching cases were run through nginx 1.22 (`return 200
"$var"`) and the error texts are what its `nginx -t` printed for the same blocks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pushproxy.config.check import check_file
from pushproxy.config.maps import VariableMap, compile_map, compile_maps
from pushproxy.config.parse import parse_text
from pushproxy.errors import ConfigError

PLAIN = """
    default dflt;
    '' empty;
    Foo upper;
    \\default escaped;
    ~^re(?<num>\\d+)$ "re:$1:$num";
    ~*^CI(.*)$ "ci:$1";
    ~^re plain-re;
    *.x.com literal-star;
"""
HOSTNAMES = """
    hostnames;
    default none;
    example.org exact;
    .example.com dot;
    *.www.example.com deep;
    www.example.* tail;
    www.example.co.* tail2;
    ~^www\\. regex;
"""


def compiled(entries: str, source: str = "$arg_s") -> VariableMap:
    (directive,) = parse_text(f"map {source} $v {{ {entries} }}")
    return compile_map(directive)


@pytest.mark.parametrize(
    ("entries", "text", "chosen", "captured"),
    [
        (PLAIN, "", "empty", None),
        (PLAIN, "foo", "upper", None),
        (PLAIN, "FOO", "upper", None),  # exact keys ignore ASCII case
        (PLAIN, "default", "escaped", None),  # `\default` is the key "default"
        (PLAIN, "re12", "re:$1:$num", ("12",)),  # regexes after exact keys, in order
        (PLAIN, "RE12", "dflt", None),  # `~` minds case
        (PLAIN, "ciAbc", "ci:$1", ("Abc",)),  # `~*` does not; captures keep the source's case
        (PLAIN, "rex", "plain-re", ()),
        (PLAIN, "a.x.com", "dflt", None),  # without `hostnames`, `*` is a plain character
        (PLAIN, "*.X.com", "literal-star", None),
        (PLAIN, "other", "dflt", None),
        (HOSTNAMES, "example.org", "exact", None),
        (HOSTNAMES, "EXAMPLE.org.", "exact", None),  # one trailing dot is dropped
        (HOSTNAMES, "example.com", "dot", None),  # `.example.com` holds example.com itself
        (HOSTNAMES, "b.a.example.com", "dot", None),
        (HOSTNAMES, ".example.com", "dot", None),
        (HOSTNAMES, "x.www.example.com", "deep", None),  # the longest mask wins
        (HOSTNAMES, "www.example.com", "dot", None),  # a leading mask before a trailing one
        (HOSTNAMES, "www.example.org", "tail", None),
        (HOSTNAMES, "www.example.co.uk", "tail2", None),
        (HOSTNAMES, "www.example", "regex", ()),  # `www.example.*` needs more after the dot
        (HOSTNAMES, "www.other.org", "regex", ()),
        (HOSTNAMES, "other", "none", None),
        (HOSTNAMES, ".", "none", None),  # empty once the dot is dropped: no regex runs
        ("~^ 1;", "", "", None),  # no default: empty; an empty source matches no regex
        ("a 1; a.* 2;", "a.b", "", None),  # masks need `hostnames` before them
        ("a.* 2; hostnames;", "a.b", "", None),
        ("hostnames; a.* 2;", "a.b", "2", None),
    ],
)
def test_find(entries: str, text: str, chosen: str, captured: tuple[str, ...] | None) -> None:
    value, match = compiled(entries).find(text)
    assert value.source == chosen
    assert (None if match is None else match.groups()) == captured


def test_compiled_once_per_block() -> None:
    (http,) = parse_text(
        """http {
            map $http_upgrade $connection_upgrade { default upgrade; '' close; }
            map $host$uri $Mixed { volatile; default $uri; }
            map $arg_x $connection_upgrade { default later; }
        }"""
    )
    maps = compile_maps(http.block or ())
    assert sorted(maps) == ["connection_upgrade", "mixed"]
    later, mixed = maps["connection_upgrade"], maps["mixed"]
    assert isinstance(later, VariableMap)
    assert isinstance(mixed, VariableMap)
    assert later.default.source == "later"  # the later map takes it over
    assert mixed.source.variables == ("host", "uri")
    assert mixed.volatile
    assert mixed.default.variables == ("uri",)


def test_a_regex_python_cannot_run_is_an_error_at_its_line() -> None:
    with pytest.raises(ConfigError, match="PCRE feature") as raised:
        compiled("a 1;\n ~a\\z 2;")
    assert raised.value.line == 2


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("map $x $y { a 1; A 2; }", 'conflicting parameter "a"'),
        ("map $x $y { hostnames; *.a.com 1; .a.com 2; }", 'conflicting parameter ".a.com"'),
        ("map $x $y { hostnames; .a.com 2; A.com 1; }", 'conflicting parameter "a.com"'),
        ("map $x $y { hostnames; www.a.* 1; WWW.A.* 2; }", 'conflicting parameter "www.a.*"'),
        ("map $x $y { hostnames; a.*.com 1; }", 'invalid hostname or wildcard "a.*.com"'),
        ("map $x $y { hostnames; *.a.* 1; }", 'invalid hostname or wildcard "*.a.*"'),
        ("map $x $y { hostnames; a..com 1; }", 'invalid hostname or wildcard "a..com"'),
        ("map $x $y { hostnames; * 1; }", 'invalid hostname or wildcard "*"'),
        ("map $x $y { \\a 1; a 2; }", 'conflicting parameter "a"'),
        ("map $x $y { ~^(a 1; }", 'pcre2_compile() failed: missing closing parenthesis in "^(a"'),
        ("map $x $y { default 1; default 2; }", "duplicate default map parameter"),
        ("map $x $y { a 1 2; }", "invalid number of the map parameters"),
        ("map $x $y { include; }", "invalid number of the map parameters"),
        ("map $x $y { a $; }", "invalid variable name"),
        ("map $x $y { a ${b; }", 'the closing bracket in "b" variable is missing'),
        ("map $ $y { }", "invalid variable name"),
        ("map $x y { }", 'invalid variable name "y"'),
        ("map $x $Host { }", 'the duplicate "Host" variable'),
    ],
)
def test_check_reports_what_nginx_reports(tmp_path: Path, block: str, message: str) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"events {{}}\nhttp {{\n  map $arg_x $x {{}}\n  {block}\n}}\n")
    result = check_file(str(conf))
    error = result.nginx_error
    assert error is not None
    assert (error.message, error.line) == (message, 4)


def test_check_accepts_what_nginx_accepts(tmp_path: Path) -> None:
    (tmp_path / "more.map").write_text("b 2;\n~^c 3;\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "events {}\nhttp {\n"
        "  map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
        "  map $host $h { hostnames; volatile; .a.com 1; *.b.a.com 2; a.* 3; include more.map; }\n"
        "  map $arg_x $args { default $h; }\n"  # $args may be taken over
        "}\n"
    )
    result = check_file(str(conf))
    assert result.nginx_error is None
    assert not [d for d in result.diagnostics if d.code.startswith("E")]


def test_an_included_entry_is_reported_in_its_file(tmp_path: Path) -> None:
    (tmp_path / "inc.map").write_text("a 1;\na 2;\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  map $uri $y { include inc.map; }\n}\n")
    error = check_file(str(conf)).nginx_error
    assert error is not None
    assert (error.message, error.file, error.line) == (
        'conflicting parameter "a"',
        str(tmp_path / "inc.map"),
        2,
    )
