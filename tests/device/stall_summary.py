#!/usr/bin/env python3
"""Where the warp-stall samples of an Nsight Compute source page fall.

Usage: stall_summary.py SOURCE_CSV [TOP]
SOURCE_CSV: `ncu -i REPORT --page source --csv --print-source sass`. Prints the share of stall samples per SASS
opcode and, with TOP > 0, the TOP instructions with the most samples (address and text), so a busy-wait loop or a
load that everything waits on can be found in the SASS.
"""
import collections
import csv
import sys

KEY = "Warp Stall Sampling (All Samples)"


def main(path, top):
    rows = list(csv.reader(open(path)))
    hdr, data = rows[1], rows[2:]
    ix = {h: i for i, h in enumerate(hdr)}

    def samples(r):
        try:
            return float(r[ix[KEY]].replace(',', ''))
        except (KeyError, ValueError, IndexError):
            return 0.0

    total = sum(samples(r) for r in data) or 1.0
    by_op = collections.Counter()
    for r in data:
        toks = r[ix["Source"]].split()
        if toks:
            by_op[(toks[1] if toks[0].startswith('@') else toks[0]).split('.')[0]] += samples(r)
    print(path, "stall samples by opcode:", ", ".join(f"{op} {v / total:.1%}" for op, v in by_op.most_common(14)))
    for r in sorted(data, key=lambda r: -samples(r))[:top]:
        print(f"{samples(r) / total:6.1%}  {r[ix['Address']] if 'Address' in ix else ''}  {r[ix['Source']]}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
