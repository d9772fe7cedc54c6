"""Helpers for the nginx.conf reader tests: case directories, nginx and pushproxy runs, crossplane
comparison, and a renderer that writes syntax trees back as nginx.conf text.

Layout of a case, `tests/configs/<case>/`:
- `nginx.conf` (plus the files it includes);
- `expect.txt`: what `nginx -t -p DIR/ -c DIR/nginx.conf` prints on stderr, the case directory
  written as `{dir}`, then a last line `rc=N`;
- `parsed.json`: the expected `pushproxy parse` payload when the syntax is accepted (paths as
  `{dir}/...`), or `parse-error.txt`: the first syntax error, `<message> in <file>:<line>`;
- optional `parsed-comments.json`: the payload of `pushproxy parse --include-comments`;
- optional `not-nginx.txt`: why `expect.txt` does not come from the nginx installed here.
`tests/configs/real/<name>/` hold real-world files: one config file, `SOURCE`, and optionally
`crossplane-differs.txt` and `parsed.json`.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushproxy.cli import main

TESTS = Path(__file__).resolve().parent
CONFIGS = TESTS / "configs"
REAL = CONFIGS / "real"

# Debian builds nginx with --error-log-path=stderr, so before the config is read its messages carry
# the error-log prefix (`2024/01/01 10:00:00 [emerg] 123#123: ...`); an nginx that logs to a file
# prints `nginx: [emerg] ...` on stderr instead. Both are brought to the second form.
_LOG_PREFIX = re.compile(rb"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: ", re.MULTILINE)
_ERROR_LINE = re.compile(rb"^nginx: \[(?:emerg|alert|crit|error)\] .*$", re.MULTILINE)
# the file-descriptor limit nginx runs under: an include cycle then ends in EMFILE, as recorded in
# the include-cycle cases, instead of a stack overflow under a high limit
NGINX_NOFILE = 1024
TIMEOUT = 60

# directives of modules the nginx installed here lacks
MISSING_MODULE_MARKERS = ("push_stream_", "_by_lua")

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def conf(self) -> Path:
        return self.dir / "nginx.conf"

    def fill(self, text: str) -> str:
        """`{dir}` replaced by this case's directory, as it appears inside JSON strings."""
        return text.replace("{dir}", json.dumps(str(self.dir))[1:-1])

    def expect(self) -> tuple[bytes, int]:
        """nginx -t's stderr for this case and its exit code."""
        raw = (self.dir / "expect.txt").read_bytes().replace(b"{dir}", os.fsencode(self.dir))
        head, _, last = raw.rstrip(b"\n").rpartition(b"\n")
        match = re.fullmatch(rb"rc=(\d+)", last)
        assert match, f"{self.name}: expect.txt must end with rc=N"
        return (head + b"\n" if head else b""), int(match.group(1))

    def payload(self, name: str = "parsed.json") -> JSON | None:
        path = self.dir / name
        if not path.exists():
            return None
        data: JSON = json.loads(self.fill(path.read_text(encoding="utf-8")))
        return data

    def parse_error(self) -> ParseError | None:
        path = self.dir / "parse-error.txt"
        if not path.exists():
            return None
        return ParseError.from_text(self.fill(path.read_text(encoding="utf-8").rstrip("\n")))

    @property
    def from_nginx(self) -> bool:
        """Whether expect.txt is what the nginx installed here prints."""
        return not (self.dir / "not-nginx.txt").exists()

    def files(self) -> list[Path]:
        return sorted(p for p in self.dir.rglob("*") if p.is_file())

    def uses_modules_missing_here(self) -> bool:
        texts = [p.read_bytes() for p in self.files()]
        return any(key.encode() in text for text in texts for key in MISSING_MODULE_MARKERS)


@dataclass(frozen=True)
class ParseError:
    error: str
    file: str
    line: int

    @classmethod
    def from_text(cls, error: str) -> ParseError:
        match = re.fullmatch(r"(?s)(.*) in (.+):(\d+)", error)
        assert match, error
        return cls(error=error, file=match.group(2), line=int(match.group(3)))

    def as_payload_error(self) -> JSON:
        return {"file": self.file, "line": self.line, "error": self.error}


def cases() -> list[Case]:
    return sorted(
        (Case(d) for d in CONFIGS.iterdir() if d.is_dir() and d != REAL), key=lambda c: c.name
    )


def case_ids(items: Sequence[Case]) -> list[str]:
    return [c.name for c in items]


def without_includes(statements: Sequence[JSON]) -> list[JSON]:
    """A payload's statements as `--single` gives them: no `includes` lists."""
    out = []
    for stmt in statements:
        copy = {k: v for k, v in stmt.items() if k != "includes"}
        if "block" in copy:
            copy["block"] = without_includes(copy["block"])
        out.append(copy)
    return out


def single_payload(full: JSON) -> JSON:
    """The `--single` payload implied by a full one: the main file only, includes not followed."""
    main = dict(full["config"][0])
    main["parsed"] = without_includes(main["parsed"])
    return {"status": main["status"], "errors": [], "config": [main]}


# ------------------------------------------------------------------------------------ processes


def pushproxy(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The command line, run in this process (a new interpreter per case costs minutes over
    the corpus): its exact output bytes and exit code. tests/test_check.py runs real
    subprocesses."""
    out, err = io.BytesIO(), io.BytesIO()
    streams = (sys.stdout, sys.stderr)
    wrappers = [io.TextIOWrapper(b, encoding="utf-8", errors="surrogateescape") for b in (out, err)]
    sys.stdout, sys.stderr = wrappers
    try:
        code = main(list(args))
    finally:
        sys.stdout, sys.stderr = streams
        for wrapper in wrappers:
            wrapper.flush()
            wrapper.detach()  # keep the buffer open once the wrapper is gone
    return subprocess.CompletedProcess(["pushproxy", *args], code, out.getvalue(), err.getvalue())


def parse_payload(path: Path, *flags: str) -> JSON:
    proc = pushproxy("parse", str(path), *flags)
    assert proc.stdout, proc.stderr.decode(errors="replace")
    data: JSON = json.loads(proc.stdout)
    return data


def check_output(path: Path) -> tuple[bytes, int]:
    """`pushproxy check --nginx FILE`: its messages (stdout then stderr) and exit code."""
    proc = pushproxy("check", "--nginx", str(path))
    return proc.stdout + proc.stderr, proc.returncode


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NGINX_NOFILE, NGINX_NOFILE))


def normalize_nginx(stderr: bytes) -> bytes:
    return _LOG_PREFIX.sub(rb"nginx: [\1] ", stderr)


def nginx_t(nginx: str, conf: Path) -> tuple[bytes, int]:
    """`nginx -t -p DIR/ -c FILE` (DIR: the file's directory); stderr normalized, exit code.

    nginx -t neither daemonizes nor binds: nothing is left running.
    """
    proc = subprocess.run(
        [nginx, "-t", "-p", f"{conf.parent}/", "-c", str(conf)],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limit_files,
    )
    return normalize_nginx(proc.stderr), proc.returncode


@dataclass(frozen=True)
class Verdict:
    """What a `-t` run says, reduced to what two implementations must agree on."""

    ok: bool
    first_error: bytes | None = field(default=None)

    @classmethod
    def of(cls, output: bytes, rc: int) -> Verdict:
        match = _ERROR_LINE.search(output)
        return cls(ok=rc == 0, first_error=match.group(0) if match else None)


# ------------------------------------------------------------------------- real-world configs

META_FILES = {"SOURCE", "crossplane-differs.txt", "parsed.json"}


@dataclass(frozen=True)
class RealConfig:
    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def file(self) -> Path:
        (only,) = [p for p in self.dir.iterdir() if p.name not in META_FILES]
        return only

    def differs(self) -> list[Difference]:
        path = self.dir / "crossplane-differs.txt"
        if not path.exists():
            return []
        out = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            out.append(Difference.parse(raw))
        return out


@dataclass(frozen=True)
class Difference:
    """A documented line range where crossplane reads the file otherwise than nginx does.

    `crossplane-differs.txt` lines: `FIRST[-LAST]: reason`; `#` starts a comment line.
    """

    first: int
    last: int
    reason: str

    @classmethod
    def parse(cls, raw: str) -> Difference:
        match = re.fullmatch(r"(\d+)(?:-(\d+))?: (\S.*)", raw)
        assert match, f"bad crossplane-differs.txt line: {raw!r}"
        first = int(match.group(1))
        return cls(first=first, last=int(match.group(2) or first), reason=match.group(3))

    def covers(self, line: int) -> bool:
        return self.first <= line <= self.last


def real_configs() -> list[RealConfig]:
    return sorted((RealConfig(d) for d in REAL.iterdir() if d.is_dir()), key=lambda r: r.name)


Flat = tuple[int, str, tuple[str, ...]]


def flatten(statements: Sequence[Mapping[str, Any]]) -> list[Flat]:
    """(line, name, args) of every statement in reading order; comments left out."""
    out: list[Flat] = []
    for stmt in statements:
        if stmt["directive"] == "#" and "comment" in stmt:
            continue
        out.append((stmt["line"], stmt["directive"], tuple(stmt["args"])))
        out.extend(flatten(stmt.get("block", ())))
    return out


def as_crossplane_if(flat: Sequence[Flat]) -> list[Flat]:
    """crossplane strips the parentheses of `if`: `($a = b)` -> `$a`, `=`, `b`.

    nginx (and pushproxy) keep them as its tokenizer made them; this applies crossplane's rule so
    the two can be compared.
    """
    out = []
    for line, name, args in flat:
        if name == "if" and args and args[0].startswith("(") and args[-1].endswith(")"):
            items = list(args)
            items[0] = items[0][1:].lstrip()
            items[-1] = items[-1][:-1].rstrip()
            items = items[int(not items[0]) : len(items) - int(not items[-1])]
            args = tuple(items)
        out.append((line, name, args))
    return out


def crossplane_flat(path: Path) -> list[Flat] | str:
    """crossplane's reading of one file (includes not followed), or its first error."""
    import crossplane  # the reference parser (PyPI), imported only where compared

    payload = crossplane.parse(
        str(path), single=True, comments=False, check_ctx=False, check_args=False
    )
    if payload["errors"]:
        return str(payload["errors"][0]["error"])
    return flatten(payload["config"][0]["parsed"])


# ------------------------------------------------------------------------------------ rendering


@dataclass(frozen=True)
class Node:
    """A statement to render: a directive (args, optional block) or a comment."""

    name: str
    args: tuple[str, ...] = ()
    block: tuple[Node, ...] | None = None
    comment: str | None = None


_BARE_FORBIDDEN = re.compile(r"[ \t\r\n;{\\]")


def bare_ok(word: str) -> bool:
    """Whether nginx reads `word` back unchanged when written without quotes."""
    return bool(word) and word[0] not in "\"'#}" and _BARE_FORBIDDEN.search(word) is None


def quote(word: str, style: str = "auto") -> str:
    """`word` as nginx.conf text that nginx's reader turns back into exactly `word`.

    style: `bare` (only if `bare_ok`), `double`, `single`, or `auto` (bare when possible).
    Inside quotes a backslash and the quote are escaped, and tab, CR and LF are written as
    `\\t`, `\\r`, `\\n` (nginx resolves those three escapes), keeping one statement per line.
    """
    if style == "bare" or (style == "auto" and bare_ok(word)):
        assert bare_ok(word), word
        return word
    q = "'" if style == "single" else '"'
    body = word.replace("\\", "\\\\").replace(q, "\\" + q)
    body = body.replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return q + body + q


@dataclass
class Rendered:
    text: str
    lines: list[int]  # line of every statement in reading order (comments included)


def render(
    nodes: Sequence[Node], styles: Iterator[str] | None = None, indent: str = "    "
) -> Rendered:
    """nginx.conf text for `nodes`: one statement per line, blocks closed on their own line."""
    out: list[str] = []
    lines: list[int] = []

    def emit(items: Sequence[Node], depth: int) -> None:
        pad = indent * depth
        for node in items:
            lines.append(len(out) + 1)
            if node.comment is not None:
                out.append(f"{pad}#{node.comment}")
                continue
            words = [quote(node.name, next(styles, "auto") if styles else "auto")]
            words += [quote(a, next(styles, "auto") if styles else "auto") for a in node.args]
            if node.block is None:
                out.append(pad + " ".join(words) + ";")
            else:
                out.append(pad + " ".join(words) + " {")
                emit(node.block, depth + 1)
                out.append(pad + "}")

    emit(nodes, 0)
    return Rendered(text="\n".join(out) + "\n", lines=lines)
