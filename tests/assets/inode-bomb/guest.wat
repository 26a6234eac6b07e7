    ;; bomb {"files": N, "dirs": M}: writes N empty files bomb/f<i>, then M empty files each in
    ;; a directory of its own, bomb/d<i>/x: entries that cost no bytes. Stops at the first
    ;; write the host refuses -> err with the host's message; else {"made": N + M}.
    ;; Defaults: N = 100,000, M = 0.
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"bomb\",\"description\":\"Makes many empty files and directories\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"files\":{\"type\":\"integer\"},\"dirs\":{\"type\":\"integer\"}}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "bomb"))
        (then (return (call $bomb (local.get $in) (local.get $in_len)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $count (param $in i32) (param $in_len i32) (param $key i32) (param $key_len i32)
      (param $default i32) (result i32)
      (if (call $json_get_uint (local.get $in) (local.get $in_len) (local.get $key) (local.get $key_len))
        (then (return (i32.wrap_i64 (global.get $rt_u64)))))
      (local.get $default))

    (func $bomb (param $in i32) (param $in_len i32) (result i32)
      (local $files i32) (local $dirs i32) (local $i i32)
      (local.set $files (call $count (local.get $in) (local.get $in_len) (@str "files") (i32.const 100000)))
      (local.set $dirs (call $count (local.get $in) (local.get $in_len) (@str "dirs") (i32.const 0)))
      (block $done
        (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $files)))
          (call $sb_start)
          (call $sb_push (@str "bomb/f"))
          (call $sb_push_u32 (local.get $i))
          (if (i32.eqz (call $write_file (global.get $sb_ptr) (global.get $sb_len) (i32.const 0) (i32.const 0)))
            (then (return (call $ret_err_rt))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
      (local.set $i (i32.const 0))
      (block $done
        (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $dirs)))
          (call $sb_start)
          (call $sb_push (@str "bomb/d"))
          (call $sb_push_u32 (local.get $i))
          (call $sb_push (@str "/x"))
          (if (i32.eqz (call $write_file (global.get $sb_ptr) (global.get $sb_len) (i32.const 0) (i32.const 0)))
            (then (return (call $ret_err_rt))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
      (call $sb_start)
      (call $sb_push (@str "{\"made\":"))
      (call $sb_push_u32 (i32.add (local.get $files) (local.get $dirs)))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))
