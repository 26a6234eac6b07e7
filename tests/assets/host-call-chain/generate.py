"""host-call-chain: one function of 2,000 host calls in a row, with no loop and no call between
them: wasm code that epoch interruption never checks (it checks at function entries and loop
heads), so only the host can stop it once its time is up.

Tool chain: log(2, "link") 2,000 times, then {"links":2000}.
"""

from __future__ import annotations

LINKS = 2000


def generate() -> str:
    """Guest core-module text (spliced into the SDK skeleton by build.py)."""
    describe = (
        '[{"name":"chain","description":"Makes 2,000 host calls in a row",'
        '"input_schema":{"type":"object","properties":{}}}]'
    ).replace('"', '\\"')
    calls = "\n".join('      (call $host_log (i32.const 2) (@str "link"))' for _ in range(LINKS))
    return f"""
    (func $describe (result i32)
      (call $ret_str (@str "{describe}")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "chain"))
        (then (return (call $chain))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $chain (result i32)
{calls}
      (call $ret_ok (@str "{{\\"links\\":{LINKS}}}")))
"""
