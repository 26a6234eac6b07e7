    ;; recurse: a function that calls itself with no base case (the stack limit must stop it).
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"recurse\",\"description\":\"Recurses without end\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "recurse"))
        (then
          (drop (call $recurse (i64.const 1)))
          (return (call $ret_ok (@str "{\"done\":true}")))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $recurse (param $n i64) (result i64)
      (local $a i64) (local $b i64) (local $c i64) (local $d i64)
      (local.set $a (i64.mul (local.get $n) (i64.const 3)))
      (local.set $b (i64.add (local.get $a) (i64.const 7)))
      (local.set $c (i64.xor (local.get $b) (local.get $n)))
      (local.set $d (call $recurse (i64.add (local.get $n) (i64.const 1))))
      (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $d))))
