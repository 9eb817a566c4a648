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

fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
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
fig.tight_layout()
fig.savefig(dst)
print(f"wrote {dst}")
