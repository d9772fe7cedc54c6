"""Reading a configuration and the files it includes, as nginx does.

`include` paths are relative to the configuration prefix (the main file's folder unless set);
globs are expanded in sorted order and may match nothing; a missing literal file is an error at
the include line. Files are listed once each, in the order crossplane lists them (the main file,
then included files as they are found), and an include that leads back to a file being read is
an error, where nginx would recurse until it ran out of file descriptors.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Callable, Iterator, Sequence

from pushproxy.config.parse import ConfigSyntaxError, decode, parse_text
from pushproxy.config.tree import ConfigFile, Directive, ParsedConfig
from pushproxy.errors import ConfigError

_GLOB_CHARS = frozenset("*?[")


def read_error(path: str, error: OSError) -> str:
    """nginx's wording for a file it cannot open."""
    return f'open() "{path}" failed ({error.errno}: {error.strerror})'


def config_prefix(path: str, prefix: str | None = None) -> str:
    """The folder relative paths in a configuration start from (`include`, certificates)."""
    return os.path.abspath(prefix) if prefix else os.path.dirname(os.path.abspath(path))


def load(
    path: str, *, prefix: str | None = None, single: bool = False, comments: bool = False
) -> ParsedConfig:
    """Read `path` and, unless `single`, every file it includes; collect all errors."""
    main = os.path.abspath(path)
    conf_prefix = config_prefix(path, prefix)
    order: list[str] = [main]
    index: dict[str, int] = {main: 0}
    trees: dict[str, tuple[Directive, ...]] = {}
    file_errors: dict[str, list[ConfigError]] = {}

    position = 0
    while position < len(order):
        name = order[position]
        position += 1
        errors = file_errors.setdefault(name, [])
        try:
            with open(name, "rb") as handle:
                text = decode(handle.read())
        except OSError as error:
            unreadable = ConfigError(read_error(name, error), file=name, line=0)
            unreadable.stops_reading = True
            errors.append(unreadable)
            trees[name] = ()
            continue
        try:
            tree = parse_text(text, file=name, comments=comments)
        except ConfigSyntaxError as error:
            errors.append(error)
            tree = error.partial  # what nginx had read, and acted on, before the error
        if not single:
            tree = _resolve_includes(tree, conf_prefix, order, index, errors)
        trees[name] = tree

    cycle_errors = _cycles(trees, index, order)
    files = tuple(
        ConfigFile(
            file=name,
            parsed=trees[name],
            errors=tuple(file_errors[name]) + tuple(e for e in cycle_errors if e.file == name),
        )
        for name in order
    )
    partial = ParsedConfig(files=files)
    errors = sorted((e for f in files for e in f.errors), key=_reading_position(partial))
    return ParsedConfig(files=files, errors=tuple(errors))


def _reading_position(parsed: ParsedConfig) -> Callable[[ConfigError], int]:
    """Where nginx meets an error while reading, for sorting errors in nginx's order."""
    tree, _ = inline(parsed)
    order: dict[tuple[str, int], int] = {}
    last_in_file: dict[str, int] = {}

    def number(items: Sequence[Directive]) -> None:
        for directive in items:
            position = len(order)
            order.setdefault((directive.file, directive.end_line), position)
            last_in_file[directive.file] = position
            if directive.block:
                number(directive.block)

    number(tree)

    def position(error: ConfigError) -> int:
        found = order.get((error.file, error.line))
        if found is not None and not error.stops_reading:
            return found
        # A syntax error comes right after the last statement read from its file.
        return last_in_file.get(error.file, -1) + 1 if error.file in last_in_file else len(order)

    return position


def _resolve_includes(
    tree: tuple[Directive, ...],
    conf_prefix: str,
    order: list[str],
    index: dict[str, int],
    errors: list[ConfigError],
) -> tuple[Directive, ...]:
    """The tree with each `include` pointing at the files it names (queued to be read)."""
    changed = False
    result: list[Directive] = []
    for directive in tree:
        if directive.name == "include" and len(directive.args) == 1 and directive.block is None:
            targets = _include_targets(directive, conf_prefix, errors)
            for target in targets:
                if target not in index:
                    index[target] = len(order)
                    order.append(target)
            directive = dataclasses.replace(directive, includes=tuple(index[t] for t in targets))
            changed = True
        elif directive.block:
            block = _resolve_includes(directive.block, conf_prefix, order, index, errors)
            if block is not directive.block:
                directive = dataclasses.replace(directive, block=block)
                changed = True
        result.append(directive)
    return tuple(result) if changed else tree


def _include_targets(
    directive: Directive, conf_prefix: str, errors: list[ConfigError]
) -> list[str]:
    pattern = os.path.join(conf_prefix, directive.args[0])
    if _GLOB_CHARS & set(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    if not os.path.exists(pattern):
        error = FileNotFoundError(2, os.strerror(2))
        errors.append(
            ConfigError(
                read_error(pattern, error),
                file=directive.file,
                line=directive.end_line,
                column=directive.column,
            )
        )
        return []
    return [pattern]


def _includes_of(tree: tuple[Directive, ...]) -> Iterator[Directive]:
    for directive in tree:
        if directive.includes:
            yield directive
        if directive.block:
            yield from _includes_of(directive.block)


def _cycles(
    trees: dict[str, tuple[Directive, ...]], index: dict[str, int], order: list[str]
) -> list[ConfigError]:
    """An error at each include that leads back to a file already being read."""
    errors: list[ConfigError] = []
    reading: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        reading.append(name)
        for directive in _includes_of(trees.get(name, ())):
            for target in (order[i] for i in directive.includes):
                if target in reading:
                    chain = " -> ".join([*reading[reading.index(target) :], target])
                    errors.append(
                        ConfigError(
                            f'include cycle: "{target}" is already being read ({chain})',
                            file=directive.file,
                            line=directive.end_line,
                            column=directive.column,
                            # nginx recurses until it runs out of file descriptors
                            nginx_message=f'open() "{target}" failed (24: Too many open files)',
                        )
                    )
                elif target not in done:
                    visit(target)
        reading.pop()
        done.add(name)

    visit(order[0])
    return errors


def inline(
    parsed: ParsedConfig, *, stop_at_error: bool = False
) -> tuple[tuple[Directive, ...], ConfigError | None]:
    """The main file's tree with each include followed by the statements it brings in.

    This is what nginx acts on, in reading order. With `stop_at_error`, reading stops where
    nginx's stops: at the first syntax error or failed include met in that order; what follows
    is dropped and that error is returned beside the tree.
    """
    trees = {f.file: f.parsed for f in parsed.files}
    names = [f.file for f in parsed.files]
    # Errors met while reading a file, by the include line they stand at (0: the file itself).
    met: dict[tuple[str, int], ConfigError] = {}
    for config_file in parsed.files:
        for error in config_file.errors:
            key = (error.file, 0 if error.stops_reading else error.line)
            met.setdefault(key, error)
    first: list[ConfigError] = []

    def splice(tree: tuple[Directive, ...], reading: tuple[str, ...]) -> tuple[Directive, ...]:
        out: list[Directive] = []
        for directive in tree:
            if directive.block:
                directive = dataclasses.replace(directive, block=splice(directive.block, reading))
            out.append(directive)
            if first:
                break
            if directive.name == "include" and stop_at_error:
                error = met.get((directive.file, directive.end_line))
                if error is not None:
                    first.append(error)
                    break
            for target in (names[i] for i in directive.includes):
                if target in reading:
                    continue
                out.extend(splice(trees[target], (*reading, target)))
                if first:
                    break
            if first:
                break
        if stop_at_error and not first and (reading[-1], 0) in met and tree is trees[reading[-1]]:
            first.append(met[(reading[-1], 0)])
        return tuple(out)

    main = names[0]
    result = splice(trees[main], (main,))
    return result, (first[0] if first else None)
