"""The scaling plot: deliveries/s (fan-out as fast as possible) and p99 latency (20 msg/s)
against the number of subscribers on one channel, both servers, median with min-max bars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a bench machine

import matplotlib.pyplot as plt
from report import LABELS, SIDES, Row

COLORS = {"pushproxy": "#1f77b4", "nchan": "#d62728"}
# Log scales: the two servers can be an order of magnitude apart.
PANELS = (
    ("throughput", "deliveries_per_s", "deliveries/s (as fast as possible)"),
    ("latency", "lat_p99_ms", "publish→delivery p99, ms (20 msg/s)"),
)


def _points(
    rows: list[Row], series: str, metric: str, side: str
) -> list[tuple[int, float, float, float]]:
    points = []
    for row in rows:
        spread = row["spread"][side]
        if row["series"] == series and row["metric"] == metric and spread:
            points.append((row["subs"], spread["median"], spread["min"], spread["max"]))
    return sorted(points)


def draw(rows: list[Row], path: Path, caption: str) -> bool:
    """Writes the PNG; False when no series was measured (nothing drawn)."""
    if not any(row["series"] for row in rows):
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (series, metric, title) in zip(axes, PANELS, strict=True):
        for side in SIDES:
            pts = _points(rows, series, metric, side)
            if not pts:
                continue
            xs = [p[0] for p in pts]
            mid = [p[1] for p in pts]
            low = [p[1] - p[2] for p in pts]
            high = [p[3] - p[1] for p in pts]
            ax.errorbar(
                xs,
                mid,
                yerr=[low, high],
                marker="o",
                capsize=4,
                color=COLORS[side],
                label=LABELS[side],
            )
        ax.set_title(title)
        ax.set_xlabel("subscribers on one channel")
        ax.set_xticks([1000, 5000, 10000])
        ax.set_xticklabels(["1k", "5k", "10k"])
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
