"""Compile one component again and again with the verifier's engine configuration, from a
given moment (so that processes started together compile together), and print when the loop
began and ended (epoch seconds): the bare CPU work a verification is mostly made of, as a
measure of what the machine itself gives one process and two.

Run: ``python -m bench._compile_loop COMPONENT COUNT START_AT``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from wasmtime.component import Component

from client.host.engine import PluginEngine
from verifier.isolation.child import VERIFIER_ENGINE


def main() -> int:
    component = Path(sys.argv[1]).read_bytes()
    count, start_at = int(sys.argv[2]), float(sys.argv[3])
    engine = PluginEngine(VERIFIER_ENGINE).engine
    Component(engine, component)  # the first compile warms the process up
    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    for _ in range(count):
        Component(engine, component)
    print(began, time.time())
    return 0


if __name__ == "__main__":
    sys.exit(main())
