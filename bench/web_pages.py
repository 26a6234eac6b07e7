"""Benchmark: the marketplace pages against the JSON API calls that return the same data.

In one run, on 127.0.0.1: start `clawft-registry serve` (embedded default: granian, one HTTP
worker), publish the `hello` example, then load with `wrk` at concurrency 32, each for the same
duration:

* the plugin page (`/plugins/clawft/hello`) against the JSON calls a client makes for the same
  data: the plugin and its versions, the latest version, its report and the namespace (their
  combined rate: one of each per "page"), and against `…/latest` alone;
* the search page (`/search?q=hello`) against `GET /api/v1/plugins?q=hello`.

Target: each page at ≥ 0.5x the JSON API for the same data. Prints the bytes each page
transfers with its stylesheet, script and icon, uncompressed (target: under 60 KB).

Needs `apt-get install wrk`. Run: ``python bench/web_pages.py [--duration 5] [--connections 32]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_examples
from bench.registry_download import CLI, free_port, publish_latencies, running, wrk

PLUGIN = "clawft/hello"
API = f"/api/v1/plugins/{PLUGIN}"
SAME_DATA_AS_PLUGIN_PAGE = [
    API,
    f"{API}/latest",
    f"{API}/versions/0.1.0/report",
    "/api/v1/namespaces/clawft",
]


def page_weight(base: str, path: str) -> tuple[int, int]:
    """(bytes of the page, bytes of the page with every static file it links)."""
    html = httpx.get(base + path, timeout=10)
    html.raise_for_status()
    total = len(html.content)
    for link in sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html.text))):
        total += len(httpx.get(base + link, timeout=10).content)
    return len(html.content), total


def combined_rate(rates: list[float]) -> float:
    """Requests/s of doing one of each call: the harmonic combination of their rates."""
    return 1 / sum(1 / rate for rate in rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    load = {"duration": args.duration, "connections": args.connections}
    with tempfile.TemporaryDirectory(prefix="clawft-bench-web-") as tmp:
        work = Path(tmp)
        plugins = build_examples(work / "plugins")
        data = work / "registry-data"
        base = f"http://127.0.0.1:{free_port()}"
        serve = [str(CLI), "serve", "--data-dir", str(data), "--port", base.rsplit(":", 1)[1]]
        with running(serve, f"{base}/healthz", "clawft-registry serve", work / "serve.log"):
            publish_latencies(base, data, plugins["hello"], 1, work)
            for path in ["/plugins/clawft/hello", "/search?q=hello", *SAME_DATA_AS_PLUGIN_PAGE]:
                httpx.get(base + path, timeout=10).raise_for_status()  # warm the caches
            plugin_page = wrk(f"{base}/plugins/clawft/hello", **load)[0]
            json_calls = [wrk(base + path, **load)[0] for path in SAME_DATA_AS_PLUGIN_PAGE]
            search_page = wrk(f"{base}/search?q=hello", **load)[0]
            search_api = wrk(f"{base}/api/v1/plugins?q=hello", **load)[0]
            weights = {
                "home page": page_weight(base, "/"),
                "plugin page": page_weight(base, "/plugins/clawft/hello"),
                "search page": page_weight(base, "/search?q=hello"),
            }
    same_data = combined_rate(json_calls)
    print(f"requests/s at concurrency {args.connections}, {args.duration} s each (wrk):")
    print(f"  plugin page {'/plugins/clawft/hello':<48} {plugin_page:>9,.0f}")
    for path, rate in zip(SAME_DATA_AS_PLUGIN_PAGE, json_calls, strict=True):
        print(f"  JSON        {path:<48} {rate:>9,.0f}")
    print(f"  JSON, the four calls for the same data (one of each)              {same_data:>9,.0f}")
    print(f"  search page {'/search?q=hello':<48} {search_page:>9,.0f}")
    print(f"  JSON        {'/api/v1/plugins?q=hello':<48} {search_api:>9,.0f}")
    print("ratios (target >= 0.5x):")
    results = [
        ("plugin page / JSON for the same data", plugin_page / same_data),
        ("plugin page / JSON …/latest alone", plugin_page / json_calls[1]),
        ("search page / JSON search", search_page / search_api),
    ]
    for label, ratio in results:
        print(f"  {label:<40} {ratio:5.2f}x  {'ok' if ratio >= 0.5 else 'BELOW TARGET'}")
    print("transferred, uncompressed (target < 60 KB with CSS, JS and icon):")
    for label, (alone, total) in weights.items():
        verdict = "ok" if total < 60_000 else "OVER TARGET"
        print(f"  {label:<12} {alone:>7,} bytes; with static files {total:>7,} bytes  {verdict}")
    below = [ratio for label, ratio in results if "same data" in label or "search" in label]
    failed = [r for r in below if r < 0.5] + [t for _, t in weights.values() if t >= 60_000]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
