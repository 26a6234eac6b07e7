    ;; flood: host log(2, "flood") 200,000 times, then {"done":true}.
    ;; huge: one host log(2, <10,000 bytes of 'A'>), then {"done":true}.
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"flood\",\"description\":\"Logs 200,000 lines\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},{\"name\":\"huge\",\"description\":\"Logs one 10000-byte message\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "flood"))
        (then (return (call $flood))))
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "huge"))
        (then (return (call $huge))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $flood (result i32)
      (local $i i32)
      (loop $more
        (call $host_log (i32.const 2) (@str "flood"))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 200000))))
      (call $ret_ok (@str "{\"done\":true}")))

    (func $huge (result i32)
      (local $p i32)
      (local.set $p (call $alloc (i32.const 10000)))
      (memory.fill (local.get $p) (i32.const 0x41) (i32.const 10000))
      (call $host_log (i32.const 2) (local.get $p) (i32.const 10000))
      (call $ret_ok (@str "{\"done\":true}")))
