#!/usr/bin/env python3
"""Summarizes `ncu --csv --metrics ...` output: kernels in launch order split into the profiled phases (decode b=1,
decode b=256, prefill 2048 — each starts with embedding_gather), time summed per kernel name per phase."""
import csv
import sys
from collections import OrderedDict, defaultdict

rows = list(csv.DictReader(line for line in open(sys.argv[1]) if line.startswith('"')))
launches = OrderedDict()
for r in rows:
    key = r["ID"]
    launches.setdefault(key, {"name": r["Kernel Name"].split("(")[0]})
    launches[key][r["Metric Name"]] = r["Metric Value"].replace(",", "")
phases, current = [], None
for k in launches.values():
    if k["name"].startswith("embedding_gather"):
        current = defaultdict(lambda: [0, 0.0, [], []])
        phases.append(current)
    if current is None:
        continue
    agg = current[k["name"][:48]]
    agg[0] += 1
    agg[1] += float(k.get("gpu__time_duration.sum", 0)) / 1e3
    agg[2].append(k.get("launch__registers_per_thread", "?"))
    agg[3].append((float(k.get("dram__throughput.avg.pct_of_peak_sustained_elapsed", 0) or 0),
                   float(k.get("sm__warps_active.avg.pct_of_peak_sustained_active", 0) or 0),
                   float(k.get("sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active", 0) or 0)))
for name, phase in zip(["decode b=1", "decode b=256", "prefill 2048"], phases):
    total = sum(v[1] for v in phase.values())
    print(f"== {name}: {total:.1f} us of kernels")
    for kname, (n, us, regs, m) in sorted(phase.items(), key=lambda kv: -kv[1][1]):
        dram = sum(x[0] for x in m) / len(m)
        occ = sum(x[1] for x in m) / len(m)
        tc = sum(x[2] for x in m) / len(m)
        print(f"  {kname:48s} n={n:3d} {us:9.1f} us  {us / n:8.2f} us/launch  regs={regs[0]:>4s} dram={dram:5.1f}% occ={occ:5.1f}% tensor={tc:5.1f}%")
