;; wrong-typed-import: hello, but its import clawft:plugin/host@0.1.0 declares
;; `log: func(message: string)` instead of `log: func(level: u8, message: string)`; linking
;; against the real host must fail.
;; Built by examples/plugins/build.py (placeholders and (@str) macros as in the SDK skeleton).
(component
  (import "clawft:plugin/host@0.1.0" (instance $host
    (export "http-request" (func (param "method" string) (param "url" string)
                                 (param "headers" (list (tuple string string)))
                                 (param "body" (option string))
                                 (result (result string (error string)))))
    (export "read-file" (func (param "path" string) (result (result string (error string)))))
    (export "write-file" (func (param "path" string) (param "content" string)
                               (result (result (error string)))))
    (export "get-env" (func (param "name" string) (result (option string))))
    ;; WRONG on purpose: the world says log: func(level: u8, message: string)
    (export "log" (func (param "message" string)))
  ))

  ;; "libc": owns the linear memory and the allocator, so that the host functions can be
  ;; lowered (they need memory + realloc) before the plugin's module is instantiated.
  (core module $libc_module
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const {{HEAP_BASE}}))

    ;; cabi_realloc(old_ptr, old_size, align, new_size) -> ptr. Bump allocator: shrinking keeps
    ;; the block, the most recent block grows in place, otherwise a new block is carved out and
    ;; the old contents copied. Grows memory as needed; traps when memory cannot grow.
    (func $realloc (export "realloc")
      (param $old i32) (param $old_size i32) (param $align i32) (param $new_size i32) (result i32)
      (local $ptr i32) (local $end i64) (local $have i64)
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.le_u (local.get $new_size) (local.get $old_size)))
        (then (return (local.get $old))))
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.eq (i32.add (local.get $old) (local.get $old_size)) (global.get $heap)))
        (then (local.set $ptr (local.get $old)))
        (else
          (if (i32.eqz (local.get $align)) (then (local.set $align (i32.const 1))))
          (local.set $ptr
            (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                     (i32.sub (i32.const 0) (local.get $align))))
          (if (i32.lt_u (local.get $ptr) (global.get $heap)) (then unreachable))))
      (local.set $end (i64.add (i64.extend_i32_u (local.get $ptr))
                               (i64.extend_i32_u (local.get $new_size))))
      (if (i64.gt_u (local.get $end) (i64.const 0xffffffff)) (then unreachable))
      (local.set $have (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
      (if (i64.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.eq
                (memory.grow
                  (i32.wrap_i64
                    (i64.shr_u (i64.add (i64.sub (local.get $end) (local.get $have))
                                        (i64.const 0xffff))
                               (i64.const 16))))
                (i32.const -1))
            (then unreachable))))
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.ne (local.get $old) (local.get $ptr)))
        (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_size))))
      (global.set $heap (i32.wrap_i64 (local.get $end)))
      (local.get $ptr))

    ;; post-return of describe/invoke: the host has copied the result out, free everything.
    (func (export "post-return") (param i32)
      (global.set $heap (i32.const {{HEAP_BASE}})))
  )
  (core instance $libc (instantiate $libc_module))
  (alias core export $libc "memory" (core memory $mem))
  (alias core export $libc "realloc" (core func $realloc))
  (alias core export $libc "post-return" (core func $post_return))

  (core func $host_http_request
    (canon lower (func $host "http-request") (memory $mem) (realloc $realloc)))
  (core func $host_read_file
    (canon lower (func $host "read-file") (memory $mem) (realloc $realloc)))
  (core func $host_write_file
    (canon lower (func $host "write-file") (memory $mem) (realloc $realloc)))
  (core func $host_get_env
    (canon lower (func $host "get-env") (memory $mem) (realloc $realloc)))
  (core func $host_log (canon lower (func $host "log") (memory $mem)))
  (core instance $host_core
    (export "http-request" (func $host_http_request))
    (export "read-file" (func $host_read_file))
    (export "write-file" (func $host_write_file))
    (export "get-env" (func $host_get_env))
    (export "log" (func $host_log)))

  (core module $plugin_module
    (import "libc" "memory" (memory 1))
    (import "libc" "realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
    ;; (method, url, headers, body option, result area) -> ()
    (import "host" "http-request"
      (func $host_http_request (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
    ;; (path, result area) -> ()      result area: u8 tag @0, ptr @4, len @8
    (import "host" "read-file" (func $host_read_file (param i32 i32 i32)))
    ;; (path, content, result area) -> ()
    (import "host" "write-file" (func $host_write_file (param i32 i32 i32 i32 i32)))
    ;; (name, option area) -> ()      option area: u8 tag @0 (1 = some), ptr @4, len @8
    (import "host" "get-env" (func $host_get_env (param i32 i32 i32)))
    ;; (level, message) -> ()
    (import "host" "log" (func $host_log_message (param i32 i32)))

{{RUNTIME}}

    ;; adapter so that the runtime and hello's guest code can log as usual
    (func $host_log (param $level i32) (param $p i32) (param $len i32)
      (call $host_log_message (local.get $p) (local.get $len)))

    ;; hello: one tool, `greet`, that logs and returns a greeting.
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"greet\",\"description\":\"Greets someone by name\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "greet"))
        (then (return (call $greet (local.get $in) (local.get $in_len)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    ;; greet {"name": string} -> {"greeting": "Hello, <name>!"}; logs "greeting <name>" at level 2.
    (func $greet (param $in i32) (param $in_len i32) (result i32)
      (local $who i32) (local $who_len i32)
      (if (i32.eqz (call $json_get_str (local.get $in) (local.get $in_len) (@str "name")))
        (then (return (call $ret_err (@str "greet needs a string field \"name\"")))))
      (local.set $who (global.get $rt_ptr))
      (local.set $who_len (global.get $rt_len))
      (call $sb_start)
      (call $sb_push (@str "greeting "))
      (call $sb_push (local.get $who) (local.get $who_len))
      (call $host_log (i32.const 2) (global.get $sb_ptr) (global.get $sb_len))
      (call $sb_start)
      (call $sb_push (@str "{\"greeting\":\"Hello, "))
      (call $sb_push_json (local.get $who) (local.get $who_len))
      (call $sb_push (@str "!\"}"))
      (call $ret_ok_sb))


{{DATA}}

    (export "describe" (func $describe))
    (export "invoke" (func $invoke))
  )
  (core instance $plugin (instantiate $plugin_module
    (with "libc" (instance $libc))
    (with "host" (instance $host_core))))
  (alias core export $plugin "describe" (core func $describe_core))
  (alias core export $plugin "invoke" (core func $invoke_core))

  (func $describe (result string)
    (canon lift (core func $describe_core) (memory $mem) (realloc $realloc)
      (post-return $post_return)))
  (func $invoke (param "name" string) (param "input" string) (result (result string (error string)))
    (canon lift (core func $invoke_core) (memory $mem) (realloc $realloc)
      (post-return $post_return)))
  (instance $tool
    (export "describe" (func $describe))
    (export "invoke" (func $invoke)))
  (export "clawft:plugin/tool@0.1.0" (instance $tool))
)
