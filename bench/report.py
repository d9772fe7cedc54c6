"""From measurements to the report: median and min-max per server, the pushproxy/reference
ratio of every run, what limited each figure, and the markdown table."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any

from measure import Record
from workloads import ORDER, Part, Workload

SIDES = ("pushproxy", "nchan")  # the order of every run: A B A B
LABELS = {"pushproxy": "pushproxy", "nchan": "nginx + nchan"}

Row = dict[str, Any]


def limit(part: Record, fixed_rate: bool) -> str:
    """What held a part's figures back, from the CPU shares of the run (100 = one core)."""
    f = part["figures"]
    if not f:
        return "not measured"
    if "server_cpu_pct" not in f:
        return "held idle (memory only)"
    server, client, other = (f[k] for k in ("server_cpu_pct", "client_cpu_pct", "other_cpu_pct"))
    if server >= 85:
        return "server CPU"
    if fixed_rate:
        return "fixed rate"
    if client >= 85:
        return "load generator CPU"
    if other >= 50:
        return "CPU taken by other processes"
    return "round trips"


def _range(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.0f}%" if round(low) == round(high) else f"{low:.0f}-{high:.0f}%"


def _shares(runs: list[Record]) -> str:
    """CPU shares over the runs, as ranges."""
    got = [r["figures"] for r in runs if "server_cpu_pct" in r["figures"]]
    if not got:
        return ""
    names = (
        ("server", "server_cpu_pct"),
        ("client", "client_cpu_pct"),
        ("upstream", "upstream_cpu_pct"),
        ("others", "other_cpu_pct"),
    )
    return ", ".join(
        f"{name} {_range([f[key] for f in got])}" for name, key in names if key in got[0]
    )


def _merge(problems: list[list[str]]) -> list[str]:
    """The problems of all runs, those that differ only in their leading count merged:
    "30, 54, 57 of 1,000 planned msgs ...", with how many runs saw them."""
    counts: dict[str, list[str]] = {}
    for run in problems:
        for text in run:
            m = re.match(r"([\d,]+) (.*)", text)
            number, rest = (m.group(1), m.group(2)) if m else ("", text)
            counts.setdefault(rest, []).append(number)
    merged = []
    for rest, numbers in counts.items():
        shown = ", ".join(n for n in numbers if n)
        text = f"{shown} {rest}" if shown else rest
        if len(numbers) < len(problems):
            text += f" (in {len(numbers)} of {len(problems)} runs)"
        merged.append(text)
    return merged


def _spread(values: list[float | None]) -> dict[str, float] | None:
    got = [v for v in values if v is not None]
    if not got:
        return None
    return {"median": statistics.median(got), "min": min(got), "max": max(got)}


def _fixed_rate(w: Workload, part: Part) -> bool:
    return bool(w.load and part.phase is not None and w.load.phases[part.phase].rate)


def summarize(workloads: tuple[Workload, ...], records: list[Record]) -> list[Row]:
    """One row per figure of every part, in the table's order."""
    rows: list[Row] = []
    for w in workloads:
        for part in w.parts:
            runs = {
                side: [
                    r["parts"][part.key]
                    for r in sorted(records, key=lambda r: r["run"])
                    if r["workload"] == w.key and r["side"] == side
                ]
                for side in SIDES
            }
            problems = {s: _merge([run["problems"] for run in runs[s]]) for s in SIDES}
            notes = {s: _merge([run.get("notes", []) for run in runs[s]]) for s in SIDES}
            limits = {s: [limit(run, _fixed_rate(w, part)) for run in runs[s]] for s in SIDES}
            shares = {s: _shares(runs[s]) for s in SIDES}
            for metric in part.metrics:
                values = {s: [run["figures"].get(metric.key) for run in runs[s]] for s in SIDES}
                bound = {
                    s: any(metric.key in run["lower_bounds"] for run in runs[s]) for s in SIDES
                }
                a, b = (values[s] for s in SIDES)
                spreads = {s: _spread(values[s]) for s in SIDES}
                sa, sb = spreads[SIDES[0]], spreads[SIDES[1]]
                rows.append(
                    {
                        "part": part.key,
                        "title": part.title,
                        "metric": metric.key,
                        "label": metric.label,
                        "higher_is_better": metric.higher_is_better,
                        "digits": metric.digits,
                        "series": part.series,
                        "subs": part.subs,
                        "values": values,
                        "lower_bound": bound,
                        "spread": spreads,
                        "ratios": [
                            x / y if x is not None and y else None
                            for x, y in zip(a, b, strict=False)
                        ],
                        "ratio_of_medians": sa["median"] / sb["median"]
                        if sa and sb and sb["median"]
                        else None,
                        "limits": limits,
                        "shares": shares,
                        "problems": problems,
                        "notes": notes,
                    }
                )
    rank = {key: i for i, key in enumerate(ORDER)}
    rows.sort(key=lambda r: rank.get(r["part"], len(rank)))  # stable: metrics keep their order
    return rows


def _num(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _cell(row: Row, side: str) -> str:
    spread, digits = row["spread"][side], row["digits"]
    if spread is None:
        return "not measured"
    at_least = "≥ " if row["lower_bound"][side] else ""
    return (
        f"{at_least}{_num(spread['median'], digits)} ({_num(spread['min'], digits)}-"
        f"{_num(spread['max'], digits)})"
    )


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _note(row: Row) -> str:
    lines = [f"- *{row['title']}*"]
    for side in SIDES:
        seen = Counter(row["limits"][side]).most_common()
        runs = len(row["limits"][side])
        limits = [k if len(seen) == 1 else f"{k} ({n} of {runs} runs)" for k, n in seen]
        text = f"  - {LABELS[side]}: {', '.join(limits) or '—'}"
        if row["shares"][side]:
            text += f"; CPU {row['shares'][side]}"
        text += "".join(f"; {note}" for note in row["notes"][side])
        if row["problems"][side]:
            text += ". **Problems: " + "; ".join(row["problems"][side]) + ".**"
        lines.append(text)
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    """The table, one line per figure, then per part what limited it and what went wrong."""
    a, b = SIDES
    lines = [
        f"| Workload | Figure | {LABELS[a]} median (min-max) | {LABELS[b]} median (min-max) "
        f"| {a}/{b} per run | ratio of medians |",
        "|---|---|---:|---:|---|---:|",
    ]
    notes, seen = [], set()
    for row in rows:
        first = row["part"] not in seen
        seen.add(row["part"])
        better = "↑" if row["higher_is_better"] else "↓"
        lines.append(
            f"| {row['title'] if first else '″'} | {row['label']} {better} | {_cell(row, a)} "
            f"| {_cell(row, b)} | {', '.join(_ratio(r) for r in row['ratios'])} "
            f"| {_ratio(row['ratio_of_medians'])} |"
        )
        if first:
            notes.append(_note(row))
    return (
        "\n".join(lines) + "\n\nWhat limited each figure (CPU in % of one core), and what "
        "went wrong:\n\n" + "\n".join(notes) + "\n"
    )
