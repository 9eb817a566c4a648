#!/usr/bin/env python3
"""Plots convergence time against N next to the quota floor N/5 s.

Usage: bench/plot.py [RESULTS_JSON] [OUTPUT_PNG]
  defaults: target/bench/results.json, target/bench/performance-convergence.png
Needs matplotlib (`pip install matplotlib`).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "target/bench/results.json"
dst = sys.argv[2] if len(sys.argv) > 2 else "target/bench/performance-convergence.png"

with open(src) as f:
    results = json.load(f)

points = sorted(
    (c["rooms"], c["seconds"]) for c in results["convergence"] if c["seconds"] is not None
)
if not points:
    sys.exit(f"{src}: no convergence results")
ns = [n for n, _ in points]
secs = [s for _, s in points]
top = max(ns) * 1.08
settings = results.get("settings", {})

fig, (ax, rx) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120, gridspec_kw={"width_ratios": [3, 2]})
ax.plot([0, top], [0, top / 5], "--", color="grey", label="quota floor N/5 s (CreateRoom 5/s)")
ax.plot([0, top], [0, 1.1 * top / 5], ":", color="lightgrey", label="target: 1.1 x floor")
ax.plot(ns, secs, "o-", color="tab:blue", label="measured: all N Ready")
for n, s in points:
    ax.annotate(f"{s:.1f} s", (n, s), textcoords="offset points", xytext=(-10, 8), ha="right")
ax.set_xlabel("N new ChatRooms applied at once")
ax.set_ylabel("seconds until all are Ready")
ax.set_title(
    "ivschat-operator: convergence vs. quota floor\n"
    f"(emulator quotas on, {settings.get('emulator_latency_ms', '?')} ms latency, "
    f"--concurrency {settings.get('operator_concurrency', '?')})",
    fontsize=10,
)
ax.set_xlim(0, top)
ax.set_ylim(0, 1.15 * top / 5)
ax.grid(alpha=0.3)
ax.legend(loc="upper left")

# Right: the same runs as a ratio to the floor, where small differences are visible.
rx.axhline(1.0, linestyle="--", color="grey", label="quota floor")
rx.axhline(1.1, linestyle=":", color="tab:red", label="target 1.1 x")
ratios = [s / (n / 5) for n, s in points]
rx.plot(ns, ratios, "o-", color="tab:blue", label="measured / floor")
for n, r in zip(ns, ratios):
    rx.annotate(f"{r:.3f}", (n, r), textcoords="offset points", xytext=(0, 8), ha="center")
rx.set_xscale("log")
rx.set_xticks(ns)
rx.set_xticklabels([str(n) for n in ns])
rx.set_ylim(0.95, max(1.2, max(ratios) + 0.03))
rx.set_xlabel("N (log scale)")
rx.set_ylabel("time / (N/5 s)")
rx.set_title("ratio to the quota floor", fontsize=10)
rx.grid(alpha=0.3)
rx.legend(loc="upper right")
fig.tight_layout()
fig.savefig(dst)
print(f"wrote {dst}")
