    ;; flush {"denied": D, "permitted": P}: D undeclared get-env calls (denied by the sandbox),
    ;; then P declared ones (permitted): enough of the latter to push the former out of a ring
    ;; of recent audit entries. Defaults: D = 3, P = 20,000. -> {"denied": D, "permitted": P}
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"flush\",\"description\":\"A few undeclared host calls, then many declared ones\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"denied\":{\"type\":\"integer\"},\"permitted\":{\"type\":\"integer\"}}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "flush"))
        (then (return (call $flush (local.get $in) (local.get $in_len)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $count (param $in i32) (param $in_len i32) (param $key i32) (param $key_len i32)
      (param $default i32) (result i32)
      (if (call $json_get_uint (local.get $in) (local.get $in_len) (local.get $key) (local.get $key_len))
        (then (return (i32.wrap_i64 (global.get $rt_u64)))))
      (local.get $default))

    (func $flush (param $in i32) (param $in_len i32) (result i32)
      (local $denied i32) (local $permitted i32) (local $i i32)
      (local.set $denied (call $count (local.get $in) (local.get $in_len) (@str "denied") (i32.const 3)))
      (local.set $permitted
        (call $count (local.get $in) (local.get $in_len) (@str "permitted") (i32.const 20000)))
      (block $done
        (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $denied)))
          (drop (call $get_env (@str "UNDECLARED_VARIABLE")))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
      (local.set $i (i32.const 0))
      (block $done
        (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $permitted)))
          (drop (call $get_env (@str "FLUSH_VAR")))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
      (call $sb_start)
      (call $sb_push (@str "{\"denied\":"))
      (call $sb_push_u32 (local.get $denied))
      (call $sb_push (@str ",\"permitted\":"))
      (call $sb_push_u32 (local.get $permitted))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))
