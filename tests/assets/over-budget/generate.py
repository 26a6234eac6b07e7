"""over-budget: a valid clawft component of about 360 KB (over the 300 KB budget).

The component is valid and works (tool `size`); its bulk is a passive data segment of
deterministic pseudo-random (incompressible) bytes, seeded so the build is reproducible.
"""

from __future__ import annotations

import random

BLOB_BYTES = 358400
SEED = "over-budget"


def _wat_bytes(data: bytes) -> str:
    return "".join(f"\\{byte:02x}" for byte in data)


def generate() -> str:
    """Guest core-module text (spliced into the SDK skeleton by build.py)."""
    blob = random.Random(SEED).randbytes(BLOB_BYTES)  # noqa: S311 - test data, not crypto
    describe = (
        '[{"name":"size","description":"Reports the size of the embedded blob",'
        '"input_schema":{"type":"object","properties":{}}}]'
    ).replace('"', '\\"')
    return f"""
    (data $blob "{_wat_bytes(blob)}")

    (func $describe (result i32)
      (call $ret_str (@str "{describe}")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "size"))
        (then
          (call $sb_start)
          (call $sb_push (@str "{{\\"bytes\\":"))
          (call $sb_push_u32 (i32.const {BLOB_BYTES}))
          (call $sb_push (@str "}}"))
          (return (call $ret_ok_sb))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))
"""
