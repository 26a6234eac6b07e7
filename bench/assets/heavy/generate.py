"""heavy: a code-heavy clawft component near the size budget, for the host's benchmarks.

About 2,600 small functions ``$fN: i32 -> i32`` (a few dozen instructions each: arithmetic
with constants of their own, a load, rotations), all in one table; the tool ``mix`` runs
``ROUNDS`` of them, each chosen by the value so far through ``call_indirect``. The component is
about 225 KiB raw and 34 KiB gzipped (the budget: 300 KiB and 120 KiB), so a host compiling,
caching and loading it handles a plugin of real size rather than a few KB of WAT.

Deterministic: the constants and operators come from a PRNG with a fixed seed.
"""

from __future__ import annotations

import random

FUNCTIONS = 2600
ROUNDS = 48
SEED = "bench/heavy"


def _i32(value: int) -> int:
    """``value`` (0 <= value < 2**32) as the signed literal WAT prints."""
    return value - (1 << 32) if value >= 1 << 31 else value


def _step(index: int, rng: random.Random, multipliers: list[int]) -> str:
    first = rng.choice(("i32.add", "i32.sub", "i32.xor"))
    rotate = rng.choice(("i32.rotl", "i32.rotr"))
    return f"""    (func $f{index} (type $step) (param i32) (result i32) (local i32)
      (local.set 1 ({first} (local.get 0) (i32.const {0x10000 + index})))
      (local.set 1 (i32.mul (local.get 1) (i32.const {_i32(rng.choice(multipliers))})))
      (local.set 1 (i32.add (local.get 1)
        (i32.load offset={0x2000 + 4 * (index % 64)} (i32.and (local.get 1) (i32.const 0xffc)))))
      (local.set 1 ({rotate} (local.get 1) (i32.const {rng.randrange(1, 32)})))
      (local.set 1 (i32.xor (local.get 1) (i32.shr_u (local.get 1) (i32.const 15))))
      (local.set 1 (i32.mul (local.get 1) (i32.const -2048144789)))
      (i32.xor (local.get 1) (i32.shr_u (local.get 1) (i32.const 13))))"""


def generate() -> str:
    """Guest core-module text (spliced into the SDK skeleton by build.py)."""
    rng = random.Random(SEED)  # noqa: S311 - benchmark code, not crypto
    multipliers = [rng.getrandbits(32) | 1 for _ in range(8)]
    steps = "\n".join(_step(index, rng, multipliers) for index in range(FUNCTIONS))
    table = " ".join(f"$f{index}" for index in range(FUNCTIONS))
    describe = (
        '[{"name":"mix","description":"Mixes a seed through '
        f'{ROUNDS} of {FUNCTIONS} generated functions",'
        '"input_schema":{"type":"object","properties":{"seed":{"type":"integer","minimum":0}},'
        '"required":["seed"]}}]'
    ).replace('"', '\\"')
    return f"""
    (type $step (func (param i32) (result i32)))
{steps}

    (table $steps {FUNCTIONS} {FUNCTIONS} funcref)
    (elem (table $steps) (i32.const 0) func {table})

    (func $describe (result i32)
      (call $ret_str (@str "{describe}")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "mix"))
        (then (return (call $mix (local.get $in) (local.get $in_len)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    ;; mix {{"seed": u64}} -> {{"mix": u32}}: {ROUNDS} steps, each chosen by the value so far.
    (func $mix (param $in i32) (param $in_len i32) (result i32)
      (local $x i32) (local $round i32)
      (if (i32.eqz (call $json_get_uint (local.get $in) (local.get $in_len) (@str "seed")))
        (then (return (call $ret_err (@str "mix needs an unsigned integer field \\"seed\\"")))))
      (local.set $x (i32.wrap_i64 (global.get $rt_u64)))
      (loop $next
        (local.set $x
          (call_indirect $steps (type $step)
            (local.get $x) (i32.rem_u (local.get $x) (i32.const {FUNCTIONS}))))
        (local.set $round (i32.add (local.get $round) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $round) (i32.const {ROUNDS}))))
      (call $sb_start)
      (call $sb_push (@str "{{\\"mix\\":"))
      (call $sb_push_u32 (local.get $x))
      (call $sb_push (@str "}}"))
      (call $ret_ok_sb))
"""
