    ;; grow: memory.grow 1 page at a time until it fails, then {"pages": <memory.size>}.
    ;; grow-and-abort: the same loop, but traps (unreachable) when growing fails, like an
    ;; allocator aborting on out-of-memory.
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"grow\",\"description\":\"Grows memory one page at a time until refused; returns the page count\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},{\"name\":\"grow-and-abort\",\"description\":\"Grows memory until refused, then traps\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "grow"))
        (then (return (call $grow (i32.const 0)))))
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "grow-and-abort"))
        (then (return (call $grow (i32.const 1)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $grow (param $abort i32) (result i32)
      (block $refused
        (loop $more
          (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
          (br $more)))
      (if (local.get $abort) (then unreachable))
      (call $sb_start)
      (call $sb_push (@str "{\"pages\":"))
      (call $sb_push_u32 (memory.size))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))
