    ;; spin: loops forever, logging "spin" on every turn: a host call costs little fuel and
    ;; real time, so the timeout (or, in the verifier, its CPU and wall-clock limits) stops the
    ;; loop long before its 10,000,000,000 units of fuel run out, however fast the machine.
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"spin\",\"description\":\"Loops forever\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "spin"))
        (then (return (call $spin))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (global $spins (mut i64) (i64.const 0))
    (func $spin (result i32)
      (loop $forever
        (global.set $spins (i64.add (global.get $spins) (i64.const 1)))
        (call $host_log (i32.const 0) (@str "spin"))
        (br $forever))
      unreachable)
