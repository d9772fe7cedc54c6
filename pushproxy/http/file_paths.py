"""Where a location's files are: its `root` or `alias` (nginx's ngx_http_map_uri_to_path()),
and the variables that tell (`$document_root`, `$realpath_root`, `$request_filename`). Pure
but for `realpath`.

`root` adds the whole URI to its path; `alias` in a prefix location replaces the location's
prefix with its path; `alias` in a regex location is the whole path (its captures name the
file). Relative paths start at the prefix, as nginx's do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pushproxy.config.complex import ComplexValue, ComplexValueError, Lookup, compile_value
from pushproxy.config.model import Location

if TYPE_CHECKING:
    from pushproxy.http.variables import RequestVars

DEFAULT_ROOT = "html"  # nginx's compiled-in `root`, under its prefix
# Directives that name a location's files: with one in effect, the static handler serves it
# even when `--upstream` gives unnamed locations to an application.
_NAMING = ("root", "alias", "try_files")


def _compiled(text: str) -> ComplexValue:
    try:
        return compile_value(text)
    except ComplexValueError:  # `check` reports it; the text is then taken as it is
        return ComplexValue(text, (text,))


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRoot:
    """A location's `root` or `alias`, compiled at load.

    `cut`: for an alias in a prefix location, the length of the location's prefix, which the
    alias's path replaces; -1 for an alias in a regex location (its value is the whole path),
    0 for a root. `named`: whether the configuration names the location's files itself (see
    `_NAMING`) rather than leaving nginx's default root."""

    path: ComplexValue
    prefix: str = ""
    cut: int = 0
    named: bool = False

    @classmethod
    def of(cls, location: Location, prefix: str, owner: Location | None = None) -> FileRoot:
        """`owner`: the location (this one, or one around it) whose `root` or `alias` is in
        effect here, as nginx merges the two as one setting; an alias cuts the owner's
        prefix."""
        level = location.level
        named = any(name in level.effective for name in _NAMING)
        owner = owner or location
        alias = owner.level.own.get("alias")
        if alias and alias[-1].args:
            cut = -1 if owner.regex is not None else len(owner.pattern)
            return cls(path=_compiled(alias[-1].args[0]), prefix=prefix, cut=cut, named=named)
        root = level.arg("root", DEFAULT_ROOT) or DEFAULT_ROOT
        return cls(path=_compiled(root), prefix=prefix, named=named)

    def document_root(self, lookup: Lookup) -> str:
        """`$document_root`: the root's or alias's path, from the prefix when relative."""
        path = self.path.evaluate(lookup)
        return path if os.path.isabs(path) else os.path.join(self.prefix, path)

    def realpath_root(self, lookup: Lookup) -> str | None:
        """`$realpath_root`: the document root with symbolic links resolved; None when it
        does not exist (nginx logs its realpath() failure and has no value)."""
        root = self.document_root(lookup)
        try:
            return os.path.realpath(root, strict=True)
        except (OSError, ValueError):  # not there, or a NUL byte from a variable
            return None

    def filename(self, uri: str, lookup: Lookup, *, tried: bool = False) -> str:
        """`$request_filename`: the file `uri` names under this root or alias. `tried`: the
        URI is a name `try_files` found, which a regex location's alias is followed by."""
        root = self.document_root(lookup)
        if self.cut < 0:
            return root + uri if tried else root
        return root + uri[self.cut :]

    def tried_file(self, name: str, uri: str, lookup: Lookup) -> str:
        """The file a `try_files` name stands for: after the root, or after the alias once
        the location's prefix (when the name starts with the URI's) is taken off it."""
        root = self.document_root(lookup)
        if self.cut > 0 and name[: self.cut] == uri[: self.cut]:
            return root + name[self.cut :]
        return root + name


def _root_of(variables: RequestVars) -> FileRoot:
    setup = variables.setup
    return setup.static.root if setup is not None else FileRoot(path=_compiled(DEFAULT_ROOT))


def _realpath_root(variables: RequestVars) -> str | None:
    return _root_of(variables).realpath_root(variables.lookup)


FILE_GETTERS: dict[str, Callable[[RequestVars], str | None]] = {
    "document_root": lambda v: _root_of(v).document_root(v.lookup),
    "realpath_root": _realpath_root,
    "request_filename": lambda v: _root_of(v).filename(v.target.uri, v.lookup),
}


def file_owners(server: Location) -> dict[int, Location]:
    """For each location and `if` block of a server (by id), the innermost one, itself or
    one around it, that sets `root` or `alias`: where its files are said to be."""
    owners: dict[int, Location] = {}

    def visit(location: Location, owner: Location) -> None:
        if "root" in location.level.own or "alias" in location.level.own:
            owner = location
        owners[id(location)] = owner
        for inner in (*location.conditions, *location.locations):
            visit(inner, owner)

    visit(server, server)
    return owners
