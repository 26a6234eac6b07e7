    ;; fill: memory.fill over the whole linear memory, forever. Cranelift charges fuel per byte
    ;; filled, so a device stops it at its fuel budget; Winch (the verifier's compiler) charges
    ;; a flat cost per fill, so the verifier stops it at the timeout.
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"fill\",\"description\":\"Fills its memory forever\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "fill"))
        (then (return (call $fill))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (global $fills (mut i64) (i64.const 0))
    (func $fill (result i32)
      (loop $forever
        (memory.fill (i32.const 0) (i32.const 0) (i32.mul (memory.size) (i32.const 65536)))
        (global.set $fills (i64.add (global.get $fills) (i64.const 1)))
        (br $forever))
      unreachable)
