"""Command line: `pushproxy parse|check ...`, and nginx's own flags (`-t -c FILE`, `-v`, ...).

Exit codes for `check`: 0 clean, 1 errors found, 2 usage or I/O problems.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from pushproxy import NGINX_VERSION, __version__, process
from pushproxy.config import report
from pushproxy.config.check import CheckResult, check_file, select
from pushproxy.config.crossplane import payload
from pushproxy.config.includes import load
from pushproxy.config.units import atoi
from pushproxy.descriptors import connections_warning
from pushproxy.logs import ErrorLog

DEFAULT_CONF = "/etc/nginx/nginx.conf"


def _parse_command(args: argparse.Namespace) -> int:
    parsed = load(args.file, prefix=args.prefix, single=args.single, comments=args.include_comments)
    # Bytes that are not UTF-8 come out as \udcXX escapes: the JSON stays valid and lossless.
    text = json.dumps(payload(parsed, single=args.single), indent=args.indent)
    sys.stdout.write(text + "\n")
    return 1 if parsed.errors else 0


def send_signal(options: process.Options, name: str) -> int:
    """`-s stop|quit|reload|reopen`: signal the running process named by the pid file."""
    signals = {
        "stop": signal.SIGTERM,
        "quit": signal.SIGQUIT,
        "reload": signal.SIGHUP,
        "reopen": signal.SIGUSR1,
    }
    if name not in signals:
        sys.stderr.write(f'pushproxy: [emerg] invalid option: "-s {name}"\n')
        return 1
    config, _ = process.read_config(options)
    path = process.pid_path(config, options.prefix)
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError as error:
        sys.stderr.write(
            f'pushproxy: [error] open() "{path}" failed ({error.errno}: {error.strerror})\n'
        )
        return 1
    pid = atoi(text)  # (isdigit() takes "²", which int() refuses)
    if pid is None:
        sys.stderr.write(f'pushproxy: [error] invalid PID number "{text}" in "{path}"\n')
        return 1
    try:
        os.kill(pid, signals[name])
    except OSError as error:
        sys.stderr.write(
            f"pushproxy: [alert] kill({text}, {int(signals[name])}) failed "
            f"({error.errno}: {error.strerror})\n"
        )
        return 1
    return 0


def _codes(value: str | None) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()] if value else []


def _check_command(args: argparse.Namespace) -> int:
    missing = [f for f in args.files if not os.path.isfile(f)]
    if missing:
        for name in missing:
            sys.stderr.write(f"pushproxy check: {name}: no such file\n")
        return 2
    results = [check_file(f, prefix=args.prefix) for f in args.files]
    if args.nginx:
        for path, result in zip(args.files, results, strict=True):
            sys.stderr.write(
                report.nginx(result.nginx_error, result.nginx_logged, os.path.abspath(path))
            )
        return 1 if any(r.nginx_error for r in results) else 0
    diagnostics = select(
        [d for r in results for d in r.diagnostics],
        only=_codes(args.select),
        ignore=_codes(args.ignore),
    )
    files = [f for r in results for f in r.files]
    if args.format == "json":
        sys.stdout.write(report.as_json(diagnostics))
    elif args.format == "github":
        sys.stdout.write(report.github(diagnostics))
    else:
        sys.stdout.write(report.text(diagnostics, files))
    return 1 if any(d.severity.value == "error" for d in diagnostics) else 0


def _subcommands() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushproxy",
        description="The nginx push stream module as a front end that reads a real nginx.conf.",
    )
    parser.add_argument("--version", action="version", version=f"pushproxy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    parse = commands.add_parser("parse", help="print a config as crossplane's JSON")
    parse.add_argument("file")
    parse.add_argument("--single", action="store_true", help="do not follow includes")
    parse.add_argument("--include-comments", action="store_true", help="list comments too")
    parse.add_argument("--indent", type=int, default=None, help="indent the JSON")
    parse.add_argument("-p", "--prefix", help="folder include paths are relative to")
    parse.set_defaults(run=_parse_command)

    check = commands.add_parser("check", help="report every problem of one or more configs")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
    check.add_argument("--nginx", action="store_true", help="print exactly what nginx -t prints")
    check.add_argument("--select", help="only these codes (comma-separated prefixes)")
    check.add_argument("--ignore", help="leave out these codes (comma-separated prefixes)")
    check.add_argument("-p", "--prefix", help="folder include paths are relative to")
    check.set_defaults(run=_check_command)

    run = commands.add_parser("run", help="serve a config (nginx's -c, in the foreground)")
    run.add_argument("-c", "--conf", default=None, help="nginx.conf (default: the bundled one)")
    run.add_argument("-p", "--prefix", help="prefix for relative paths")
    run.add_argument("--upstream", help="where requests that are not push go, e.g. http://127.0.0.1:8000")
    run.add_argument("--daemon", action="store_true", help="detach like nginx's `daemon on`")
    run.set_defaults(run=_run_command)
    return parser


def _run_command(args: argparse.Namespace) -> int:
    conf = os.path.abspath(args.conf) if args.conf else bundled_config()
    options = process.Options(
        conf=conf, prefix=args.prefix, upstream=args.upstream, daemon=args.daemon
    )
    return process.run(options)


def bundled_config() -> str:
    """The default configuration shipped with pushproxy (samples/pushproxy.conf)."""
    packaged = resources.files("pushproxy").joinpath("samples/pushproxy.conf")
    if packaged.is_file():
        return str(packaged)
    return str(Path(__file__).resolve().parents[1] / "samples" / "pushproxy.conf")


def _nginx_style(argv: Sequence[str]) -> int:
    """nginx's flags: -t/-T test, -v/-V version, -c file, -p prefix, -q quiet."""
    parser = argparse.ArgumentParser(prog="pushproxy", add_help=False)
    parser.add_argument("-t", action="store_true")
    parser.add_argument("-T", action="store_true")
    parser.add_argument("-q", action="store_true")
    parser.add_argument("-v", action="store_true")
    parser.add_argument("-V", action="store_true")
    parser.add_argument("-c")
    parser.add_argument("-p")
    parser.add_argument("-g")
    parser.add_argument("-s")
    parser.add_argument("-h", "-?", action="store_true", dest="help")
    args = parser.parse_args(argv)
    if args.help:
        sys.stderr.write(_NGINX_HELP)
        return 0
    if args.v or args.V:
        sys.stderr.write(f"pushproxy version: pushproxy/{__version__} (nginx/{NGINX_VERSION})\n")
        if args.V:
            sys.stderr.write("configure arguments: --add-module=push-stream (reimplemented)\n")
        if not (args.t or args.T):
            return 0
    prefix = args.p
    conf = args.c or DEFAULT_CONF
    if prefix and not os.path.isabs(conf):
        conf = os.path.join(prefix, conf)
    conf = os.path.abspath(conf)
    options = process.Options(conf=conf, prefix=prefix, globals=args.g)
    if args.s:
        return _guarded(lambda: send_signal(options, args.s))
    if not (args.t or args.T):
        return process.run(options)
    result = check_file(conf)  # includes start at the file's folder, whatever -p says
    late: list[str] = []  # warnings of the modules' start, after "syntax is ok"
    if result.nginx_error is None:
        # As nginx -t, which opens the error log and the pid file: a missing directory fails.
        config, _ = process.read_config(options)
        unresolved = process.unresolved_upstream(config)
        if unresolved is not None:  # as nginx -t, which looks every upstream host up
            sys.stderr.write(f"pushproxy: [emerg] {unresolved}\n")
            sys.stderr.write(f"pushproxy: configuration file {conf} test failed\n")
            return 1
        failures = process.file_failures(config, prefix, named_only=True)
        if failures:
            # As nginx: the syntax was fine; the first file that would not open fails the test.
            text = _test_text(result, conf, quiet=args.q).splitlines(True)[:-1]
            stamp = time.strftime("%Y/%m/%d %H:%M:%S")
            text.append(f"{stamp} [emerg] {os.getpid()}#0: {failures[0]}\n")
            text.append(f"pushproxy: configuration file {conf} test failed\n")
            sys.stderr.write("".join(text))
            return 1
        error_log = ErrorLog.from_config(config, prefix)
        process.note_unused_module(config, error_log)
        warning = connections_warning(config)
        if warning is not None:
            error_log.log("warn", warning)
            late = [warning]
    return _print_test(result, conf, quiet=args.q, dump=args.T, late=late)


def _guarded(action: Callable[[], int]) -> int:
    try:
        return action()
    except process.StartupError as error:
        for line in error.lines:
            sys.stderr.write(line + "\n")
        return 1


def _test_text(
    result: CheckResult, conf: str, *, quiet: bool, late: Sequence[str] = ()
) -> str:
    """What `-t` prints for a configuration (`-q`: only its warnings and errors); `late`:
    warnings nginx's modules give as they start, after the syntax was found ok."""
    text = report.nginx(result.nginx_error, result.nginx_logged, conf).replace(
        "nginx: ", "pushproxy: "
    )
    if late and result.nginx_error is None:
        lines = text.splitlines(True)
        lines[-1:-1] = [f"pushproxy: [warn] {warning}\n" for warning in late]
        text = "".join(lines)
    if quiet:  # (with an error: its line and the verdict)
        keep = "[" if result.nginx_error is None else "syntax is ok"
        lines = text.splitlines(True)
        text = "".join(line for line in lines if (keep in line) == (keep == "["))
    return text


def _print_test(
    result: CheckResult, conf: str, *, quiet: bool, dump: bool, late: Sequence[str] = ()
) -> int:
    sys.stderr.write(_test_text(result, conf, quiet=quiet, late=late))
    if dump and result.nginx_error is None:
        for name in result.files:
            with open(name, "rb") as handle:
                sys.stdout.write(f"# configuration file {name}:\n")
                sys.stdout.flush()
                sys.stdout.buffer.write(handle.read())
                sys.stdout.write("\n")
    return 1 if result.nginx_error else 0


_NGINX_HELP = """Usage: pushproxy [-?hvVtTq] [-s signal] [-p prefix] [-c filename] [-g directives]

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -p prefix     : set prefix path
  -s signal     : send signal to a master process: stop, quit, reopen, reload
  -c filename   : set configuration file (default: /etc/nginx/nginx.conf)
  -g directives : set global directives out of configuration file

Commands: pushproxy run|parse|check --help
"""


def main(argv: Sequence[str] | None = None) -> int:
    # A configuration's bytes that are not UTF-8 are printed back as the same bytes.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0].startswith("-") and arguments[0] not in ("--help", "--version"):
        return _nginx_style(arguments)
    args = _subcommands().parse_args(arguments)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
