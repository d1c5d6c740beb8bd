"""Run the ppdesk benchmarks by hand: python3 bench/run.py ROW [ROW ...] (see bench/README.md).

Rows: p1 p2 p3 p4 p5 p6 p7 p8, or all; p1x is a diagnostic breakdown of p1; p2-sftp and p2-sftp-0ms run the P2
download over the SFTP fallback at 50 ms and on loopback. Results are printed as JSON and appended to --out (one
JSON object per line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benv  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rows", nargs="+",
                        choices=["p1", "p1x", "p2", "p2-sftp", "p2-sftp-0ms", "p3", "p4", "p5", "p6", "p7", "p8", "all"],
                        help="rows to run; p1x breaks P1 down into fetch, disk and hash costs; p2-sftp and p2-sftp-0ms "
                             "download over the SFTP fallback (not part of all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each contender (default 3)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ppdesk-bench"),
                        help="folder for the sshd, the pod files and downloads (default /tmp/ppdesk-bench)")
    parser.add_argument("--big-dir", default="/tmp/ppdesk-bench-big", help="folder for the 5 GB file of P7")
    parser.add_argument("--proxy", type=Path, default=benv.DEFAULT_PROXY,
                        help="latency_proxy.py for the 50 ms rows (default ../shared/tools/latency_proxy.py)")
    parser.add_argument("--jobs", type=int, default=8, help="ppdesk download workers in P3 (default 8)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ppdesk-bench/results.jsonl"),
                        help="file the results are appended to")
    args = parser.parse_args()
    rows = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"] if "all" in args.rows else args.rows

    print(json.dumps({"machine": benv.machine()}), flush=True)
    results = []
    for row in rows:
        print(f"== {row}", flush=True)
        results.append(run_row(row, args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as handle:
        for result in results:
            handle.write(json.dumps({"machine": benv.machine(), **result}) + "\n")
    return 0


def run_row(row: str, args: argparse.Namespace) -> dict:
    if row in ("p5", "p6", "p8"):
        import ui_bench

        return getattr(ui_bench, row)(args)
    import transfer_bench as tb

    env = benv.open_env(args.work)
    try:
        if row == "p1":
            return tb.single_file(env, args, 1024 * tb.MIB, 0, "P1", ">= 0.9 x sftp throughput")
        if row == "p1x":
            return tb.breakdown(env, args)
        if row == "p2":
            return tb.single_file(env, args, 256 * tb.MIB, 25, "P2", ">= 2.5 x sftp")
        if row in ("p2-sftp", "p2-sftp-0ms"):
            import sftp_fallback_bench

            delay_ms = 25 if row == "p2-sftp" else 0
            return sftp_fallback_bench.run(env, args, delay_ms, f"P2 SFTP fallback, {2 * delay_ms} ms round trip")
        if row == "p3":
            return tb.many_files(env, args)
        if row == "p4":
            return tb.scan(env, args)
        return tb.memory(env, args)
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
