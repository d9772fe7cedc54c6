"""Reading speed of pushproxy's nginx.conf reader against crossplane, on the same generated file.

    python bench/bench_parse.py [--lines 10000] [--runs 9] [--seed 1]

Generates a realistic configuration of about `--lines` lines (upstreams, maps, log formats with
long quoted templates, servers with locations, if blocks and comments), then times
`pushproxy.config.includes.load(path)` and `crossplane.parse(path)` alternately, `--runs` times
each, both reading only (crossplane's directive analysis off, comments dropped). Prints a
markdown table (median and min-max per parser, ratio pushproxy/crossplane of the medians) and
writes the same figures as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _server(rng: random.Random, n: int) -> list[str]:
    host = f"site{n}.example.com"
    out = [
        f"    # virtual host {n}",
        "    server {",
        f"        listen 127.0.0.1:{18000 + n};",
        f"        server_name {host} www.{host};",
        f"        root /srv/www/{host}/public;",
        "        index index.html index.htm;",
        f"        access_log /var/log/nginx/{host}.access.log main buffer=32k;",
        '        add_header X-Frame-Options "SAMEORIGIN" always;',
        "        add_header Content-Security-Policy \"default-src 'self'; img-src 'self' data:\";",
        "",
        "        location / {",
        "            try_files $uri $uri/ @backend;",
        "        }",
        "",
        "        location @backend {",
        f"            proxy_pass http://backend{n % 40};",
        "            proxy_http_version 1.1;",
        "            proxy_set_header Host $host;",
        "            proxy_set_header X-Real-IP $remote_addr;",
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "            proxy_set_header Upgrade $http_upgrade;",
        "            proxy_set_header Connection $connection_upgrade;",
        "            proxy_read_timeout 90s;",
        "        }",
        "",
        r"        location ~* \.(?:css|js|png|jpe?g|gif|svg|woff2?)$ {",
        "            expires 30d;",
        '            add_header Cache-Control "public, max-age=2592000";',
        "            access_log off;",
        "        }",
        "",
        r'        location ~ "^/api/v(\d+)/items/(\d{1,8})$" {',
        "            if ($request_method = OPTIONS) {",
        "                return 204;",
        "            }",
        '            if ($http_authorization = "") { return 401; }',
        "            rewrite ^/api/v(\\d+)/items/(\\d+)$ /items.php?v=$1&id=$2 break;",
        "            fastcgi_pass unix:/run/php/php-fpm.sock;",
        "            include fastcgi_params;",
        "        }",
    ]
    for k in range(rng.randint(2, 5)):
        body = "lorem ipsum " * rng.randint(3, 12)
        out += [
            f"        location = /static/page-{k}.html {{",
            f"            return 200 '<html><body><h1>page {k}</h1><p>{body}</p></body></html>';",
            "        }",
        ]
    out += [
        "        error_page 500 502 503 504 /50x.html;",
        "        location = /50x.html { root /usr/share/nginx/html; }",
        "    }",
        "",
    ]
    return out


def generate_config(lines: int, seed: int = 1) -> str:
    """A realistic nginx.conf of at least `lines` lines; the same text for the same arguments."""
    rng = random.Random(seed)
    head = [
        "# generated for bench/bench_parse.py",
        "user www-data;",
        "worker_processes auto;",
        "pid /run/nginx.pid;",
        "",
        "events {",
        "    worker_connections 4096;",
        "    multi_accept on;",
        "}",
        "",
        "http {",
        "    sendfile on;",
        "    tcp_nopush on;",
        "    types_hash_max_size 2048;",
        "    default_type application/octet-stream;",
        "",
        "    log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '",
        "                    '$status $body_bytes_sent \"$http_referer\" '",
        '                    \'"$http_user_agent" "$http_x_forwarded_for"\';',
        "    log_format json escape=json '{'",
        '        \'"time":"$time_iso8601","host":"$host","status":$status,\'',
        '        \'"request":"$request","ua":"$http_user_agent","rt":$request_time\'',
        "    '}';",
        "",
        "    map $http_upgrade $connection_upgrade {",
        "        default upgrade;",
        "        ''      close;",
        "    }",
        "",
        "    map $sent_http_content_type $expires {",
        "        default                    off;",
        "        text/html                  epoch;",
        "        text/css                   max;",
        "        application/javascript     max;",
        "        ~image/                    max;",
        "    }",
        "",
    ]
    for n in range(40):
        head += [
            f"    upstream backend{n} {{",
            f"        server 10.0.{n}.1:8080 weight=3 max_fails=2 fail_timeout=10s;",
            f"        server 10.0.{n}.2:8080;",
            f"        server 10.0.{n}.3:8080 backup;",
            "        keepalive 32;",
            "    }",
            "",
        ]
    template = (
        '<!DOCTYPE html><html><head><meta charset=\\"utf-8\\"><title>~channel~</title></head>'
        '<body><script>var data = {id: ~id~, text: \\"~text~\\"}; /* ; { } # */</script>'
        + "<p>"
        + "x" * 600
        + "</p></body></html>"
    )
    out = list(head)
    n = 0
    while len(out) < lines - 2:
        if n % 25 == 0:
            out += [
                f"    # templates, group {n // 25}",
                f"    set_real_ip_from 192.168.{n % 256}.0/24;",
                f'    add_header X-Template-{n} "{template}";',
                "",
            ]
        out += _server(rng, n)
        n += 1
    out.append("}")
    return "\n".join(out) + "\n"


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
    }


def _names(statements: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """(line, name) of every statement; arguments differ where crossplane rewrites `if`."""
    out: list[tuple[int, str]] = []
    for s in statements:
        out.append((s["line"], s["directive"]))
        out.extend(_names(s.get("block", ())))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pushproxy vs crossplane: nginx.conf reading time")
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import crossplane

    from pushproxy.config.crossplane import payload
    from pushproxy.config.includes import load

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nginx.conf"
        text = generate_config(args.lines, args.seed)
        path.write_text(text, encoding="utf-8")
        n_lines = text.count("\n")

        def ours() -> object:
            return load(str(path))

        def theirs() -> object:
            return crossplane.parse(str(path), check_ctx=False, check_args=False, comments=False)

        # warm-up (imports, grammar compilation) and a check that both read the same statements
        ours_payload = payload(load(str(path)))
        theirs_payload = crossplane.parse(str(path), check_ctx=False, check_args=False)
        ours_names = _names(ours_payload["config"][0]["parsed"])
        agree = ours_names == _names(theirs_payload["config"][0]["parsed"])
        statements = len(ours_names)

        samples: dict[str, list[float]] = {"pushproxy": [], "crossplane": []}
        for _ in range(args.runs):  # interleaved, so drift affects both alike
            samples["pushproxy"].append(_time(ours))
            samples["crossplane"].append(_time(theirs))

    ours_s = _summary(samples["pushproxy"])
    theirs_s = _summary(samples["crossplane"])
    ratio = ours_s["median_s"] / theirs_s["median_s"]
    result = {
        "benchmark": "bench_parse",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "lines": n_lines,
        "bytes": len(text.encode()),
        "statements": statements,
        "same_statements": agree,
        "runs": args.runs,
        "pushproxy": ours_s,
        "crossplane": theirs_s,
        "ratio_pushproxy_over_crossplane": ratio,
        "crossplane_version": getattr(crossplane, "__version__", "?"),
    }

    print(
        f"Reading a generated nginx.conf: {n_lines} lines, {statements} statements, "
        f"{args.runs} interleaved runs each (same statements: {'yes' if agree else 'NO'})\n"
    )
    print("| parser | median (ms) | min-max (ms) |")
    print("| --- | ---: | ---: |")
    for name, s in (("pushproxy", ours_s), ("crossplane", theirs_s)):
        print(
            f"| {name} | {s['median_s'] * 1e3:.1f} | "
            f"{s['min_s'] * 1e3:.1f}-{s['max_s'] * 1e3:.1f} |"
        )
    print(f"\nratio pushproxy/crossplane (medians): {ratio:.2f}")

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench_parse-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
