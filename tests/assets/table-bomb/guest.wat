    ;; grow: table.grow by 1000 until it fails, then by 1 until it fails, then
    ;; {"elements": <table.size>}. grow-and-abort: traps (unreachable) on the first failure.
    (table $bomb 1 funcref)

    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"grow\",\"description\":\"Grows a table until refused; returns its size\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},{\"name\":\"grow-and-abort\",\"description\":\"Grows a table until refused, then traps\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

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
          (br_if $refused (i32.eq (table.grow $bomb (ref.null func) (i32.const 1000)) (i32.const -1)))
          (br $more)))
      (if (local.get $abort) (then unreachable))
      (block $refused
        (loop $more
          (br_if $refused (i32.eq (table.grow $bomb (ref.null func) (i32.const 1)) (i32.const -1)))
          (br $more)))
      (call $sb_start)
      (call $sb_push (@str "{\"elements\":"))
      (call $sb_push_u32 (table.size $bomb))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))
