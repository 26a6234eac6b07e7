;; sleeper: waits for time to pass in the host, where neither fuel nor epochs can stop it.
;; Imports WASI 0.2.0 wasi:io/poll ([method]pollable.block) and wasi:clocks/monotonic-clock
;; (subscribe-duration, subscribe-instant). Tool nap {"until": "later"} sleeps a year on a
;; duration timer, {"until": "date"} waits for an instant a year ahead; any other input (its
;; test vector's {}) returns {"slept": false} at once, so a verifier that only runs the
;; vectors would approve it.
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
    (export "log" (func (param "level" u8) (param "message" string)))
  ))

  ;; WASI 0.2.0 imports (types exactly as in the WASI 0.2.0 WIT, restricted to what is used).
  (import "wasi:io/poll@0.2.0" (instance $wasi_io_poll
    (export "pollable" (type $pollable (sub resource)))
    (export "[method]pollable.block" (func (param "self" (borrow $pollable))))))
  (alias export $wasi_io_poll "pollable" (type $pollable))
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $wasi_clock
    (alias outer 1 $pollable (type $outer_pollable))
    (export "pollable" (type $p (eq $outer_pollable)))
    (export "now" (func (result u64)))
    (export "subscribe-duration" (func (param "when" u64) (result (own $p))))
    (export "subscribe-instant" (func (param "when" u64) (result (own $p))))))

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
  (core func $wasi_block (canon lower (func $wasi_io_poll "[method]pollable.block")))
  (core func $wasi_now (canon lower (func $wasi_clock "now")))
  (core func $wasi_subscribe_duration (canon lower (func $wasi_clock "subscribe-duration")))
  (core func $wasi_subscribe_instant (canon lower (func $wasi_clock "subscribe-instant")))
  (core func $wasi_drop_pollable (canon resource.drop $pollable))
  (core instance $host_core
    (export "http-request" (func $host_http_request))
    (export "read-file" (func $host_read_file))
    (export "write-file" (func $host_write_file))
    (export "get-env" (func $host_get_env))
    (export "log" (func $host_log)))
  (core instance $wasi_core
    (export "block" (func $wasi_block))
    (export "now" (func $wasi_now))
    (export "subscribe-duration" (func $wasi_subscribe_duration))
    (export "subscribe-instant" (func $wasi_subscribe_instant))
    (export "drop-pollable" (func $wasi_drop_pollable)))

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
    (import "host" "log" (func $host_log (param i32 i32 i32)))
    (import "wasi" "block" (func $wasi_block (param i32)))
    (import "wasi" "now" (func $wasi_now (result i64)))
    (import "wasi" "subscribe-duration" (func $wasi_subscribe_duration (param i64) (result i32)))
    (import "wasi" "subscribe-instant" (func $wasi_subscribe_instant (param i64) (result i32)))
    (import "wasi" "drop-pollable" (func $wasi_drop_pollable (param i32)))

{{RUNTIME}}

    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"nap\",\"description\":\"Sleeps a year when asked to\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"until\":{\"type\":\"string\"}}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "nap"))
        (then (return (call $nap (local.get $in) (local.get $in_len)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    ;; A year, in nanoseconds.
    (global $year i64 (i64.const 31536000000000000))

    (func $nap (param $in i32) (param $in_len i32) (result i32)
      (local $pollable i32)
      (if (i32.eqz (call $json_get_str (local.get $in) (local.get $in_len) (@str "until")))
        (then (return (call $ret_ok (@str "{\"slept\":false}")))))
      (if (call $mem_eq (global.get $rt_ptr) (global.get $rt_len) (@str "later"))
        (then (local.set $pollable (call $wasi_subscribe_duration (global.get $year)))))
      (if (call $mem_eq (global.get $rt_ptr) (global.get $rt_len) (@str "date"))
        (then (local.set $pollable
          (call $wasi_subscribe_instant (i64.add (call $wasi_now) (global.get $year))))))
      (if (i32.eqz (local.get $pollable))
        (then (return (call $ret_ok (@str "{\"slept\":false}")))))
      (call $wasi_block (local.get $pollable))
      (call $wasi_drop_pollable (local.get $pollable))
      (call $ret_ok (@str "{\"slept\":true}")))


{{DATA}}

    (export "describe" (func $describe))
    (export "invoke" (func $invoke))
  )
  (core instance $plugin (instantiate $plugin_module
    (with "libc" (instance $libc))
    (with "host" (instance $host_core))
    (with "wasi" (instance $wasi_core))))
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
