;; wasi-waits: every way the allowed WASI interfaces offer to wait, none of which waits: with no
;; timer (monotonic-clock subscribe-* is refused) the only pollables are stdin's, which is empty
;; and closed, and stdout's, which is always ready. Tools: stdin (block on stdin's pollable,
;; then blocking-read it), stdout (block on stdout's pollable), poll (poll both at once).
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
    (export "[method]pollable.block" (func (param "self" (borrow $pollable))))
    (export "poll" (func (param "in" (list (borrow $pollable))) (result (list u32))))))
  (alias export $wasi_io_poll "pollable" (type $pollable))
  (import "wasi:io/error@0.2.0" (instance $wasi_io_error
    (export "error" (type (sub resource)))))
  (alias export $wasi_io_error "error" (type $io_error))
  (import "wasi:io/streams@0.2.0" (instance $wasi_io_streams
    (alias outer 1 $io_error (type $outer_error))
    (export "error" (type $error (eq $outer_error)))
    (alias outer 1 $pollable (type $outer_pollable))
    (export "pollable" (type $p (eq $outer_pollable)))
    (export "input-stream" (type $input_stream (sub resource)))
    (export "output-stream" (type $output_stream (sub resource)))
    (type $stream_error_v (variant (case "last-operation-failed" (own $error)) (case "closed")))
    (export "stream-error" (type $stream_error (eq $stream_error_v)))
    (export "[method]input-stream.blocking-read"
      (func (param "self" (borrow $input_stream)) (param "len" u64)
            (result (result (list u8) (error $stream_error)))))
    (export "[method]input-stream.subscribe"
      (func (param "self" (borrow $input_stream)) (result (own $p))))
    (export "[method]output-stream.subscribe"
      (func (param "self" (borrow $output_stream)) (result (own $p))))))
  (alias export $wasi_io_streams "input-stream" (type $input_stream))
  (alias export $wasi_io_streams "output-stream" (type $output_stream))
  (import "wasi:cli/stdin@0.2.0" (instance $wasi_cli_stdin
    (alias outer 1 $input_stream (type $outer_input_stream))
    (export "input-stream" (type $is (eq $outer_input_stream)))
    (export "get-stdin" (func (result (own $is))))))
  (import "wasi:cli/stdout@0.2.0" (instance $wasi_cli_stdout
    (alias outer 1 $output_stream (type $outer_output_stream))
    (export "output-stream" (type $os (eq $outer_output_stream)))
    (export "get-stdout" (func (result (own $os))))))

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
  (core func $wasi_poll
    (canon lower (func $wasi_io_poll "poll") (memory $mem) (realloc $realloc)))
  (core func $wasi_blocking_read
    (canon lower (func $wasi_io_streams "[method]input-stream.blocking-read")
      (memory $mem) (realloc $realloc)))
  (core func $wasi_input_subscribe
    (canon lower (func $wasi_io_streams "[method]input-stream.subscribe")))
  (core func $wasi_output_subscribe
    (canon lower (func $wasi_io_streams "[method]output-stream.subscribe")))
  (core func $wasi_get_stdin (canon lower (func $wasi_cli_stdin "get-stdin")))
  (core func $wasi_get_stdout (canon lower (func $wasi_cli_stdout "get-stdout")))
  (core func $wasi_drop_pollable (canon resource.drop $pollable))
  (core func $wasi_drop_input (canon resource.drop $input_stream))
  (core func $wasi_drop_output (canon resource.drop $output_stream))
  (core func $wasi_drop_error (canon resource.drop $io_error))
  (core instance $host_core
    (export "http-request" (func $host_http_request))
    (export "read-file" (func $host_read_file))
    (export "write-file" (func $host_write_file))
    (export "get-env" (func $host_get_env))
    (export "log" (func $host_log)))
  (core instance $wasi_core
    (export "block" (func $wasi_block))
    (export "poll" (func $wasi_poll))
    (export "blocking-read" (func $wasi_blocking_read))
    (export "input-subscribe" (func $wasi_input_subscribe))
    (export "output-subscribe" (func $wasi_output_subscribe))
    (export "get-stdin" (func $wasi_get_stdin))
    (export "get-stdout" (func $wasi_get_stdout))
    (export "drop-pollable" (func $wasi_drop_pollable))
    (export "drop-input" (func $wasi_drop_input))
    (export "drop-output" (func $wasi_drop_output))
    (export "drop-error" (func $wasi_drop_error)))

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
    ;; (list ptr, list len, result area: list ptr @0, len @4) -> ()
    (import "wasi" "poll" (func $wasi_poll (param i32 i32 i32)))
    ;; (borrow<input-stream>, len, result area) -> ()   area: u8 tag @0 (1 = err),
    ;;   ok: list ptr @4, len @8; err: stream-error u8 tag @4 (1 = closed), own<error> @8
    (import "wasi" "blocking-read" (func $wasi_blocking_read (param i32 i64 i32)))
    (import "wasi" "input-subscribe" (func $wasi_input_subscribe (param i32) (result i32)))
    (import "wasi" "output-subscribe" (func $wasi_output_subscribe (param i32) (result i32)))
    (import "wasi" "get-stdin" (func $wasi_get_stdin (result i32)))
    (import "wasi" "get-stdout" (func $wasi_get_stdout (result i32)))
    (import "wasi" "drop-pollable" (func $wasi_drop_pollable (param i32)))
    (import "wasi" "drop-input" (func $wasi_drop_input (param i32)))
    (import "wasi" "drop-output" (func $wasi_drop_output (param i32)))
    (import "wasi" "drop-error" (func $wasi_drop_error (param i32)))

{{RUNTIME}}

    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"stdin\",\"description\":\"Waits for stdin, then reads it\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},{\"name\":\"stdout\",\"description\":\"Waits until stdout is writable\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},{\"name\":\"poll\",\"description\":\"Polls stdin and stdout at once\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "stdin"))
        (then (return (call $stdin))))
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "stdout"))
        (then (return (call $stdout))))
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "poll"))
        (then (return (call $poll))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    ;; stdin: block on its pollable, then blocking-read up to 1 MiB -> {"read": N} or
    ;; {"read": "closed"}
    (func $stdin (result i32)
      (local $stream i32) (local $pollable i32) (local $area i32) (local $result i32)
      (local.set $stream (call $wasi_get_stdin))
      (local.set $pollable (call $wasi_input_subscribe (local.get $stream)))
      (call $wasi_block (local.get $pollable))
      (call $wasi_drop_pollable (local.get $pollable))
      (local.set $area (call $alloc (i32.const 12)))
      (call $wasi_blocking_read (local.get $stream) (i64.const 1048576) (local.get $area))
      (if (i32.eqz (i32.load8_u (local.get $area)))
        (then
          (call $sb_start)
          (call $sb_push (@str "{\"read\":"))
          (call $sb_push_u32 (i32.load offset=8 (local.get $area)))
          (call $sb_push (@str "}"))
          (local.set $result (call $ret_ok_sb)))
        (else
          (if (i32.eqz (i32.load8_u offset=4 (local.get $area)))
            (then (call $wasi_drop_error (i32.load offset=8 (local.get $area)))))
          (local.set $result (call $ret_ok (@str "{\"read\":\"closed\"}")))))
      (call $wasi_drop_input (local.get $stream))
      (local.get $result))

    ;; stdout: block until it is writable -> {"writable": true}
    (func $stdout (result i32)
      (local $stream i32) (local $pollable i32)
      (local.set $stream (call $wasi_get_stdout))
      (local.set $pollable (call $wasi_output_subscribe (local.get $stream)))
      (call $wasi_block (local.get $pollable))
      (call $wasi_drop_pollable (local.get $pollable))
      (call $wasi_drop_output (local.get $stream))
      (call $ret_ok (@str "{\"writable\":true}")))

    ;; poll: poll([stdin, stdout]) -> {"ready": N}
    (func $poll (result i32)
      (local $in i32) (local $out i32) (local $list i32) (local $area i32)
      (local.set $in (call $wasi_get_stdin))
      (local.set $out (call $wasi_get_stdout))
      (local.set $list (call $alloc (i32.const 8)))
      (i32.store (local.get $list) (call $wasi_input_subscribe (local.get $in)))
      (i32.store offset=4 (local.get $list) (call $wasi_output_subscribe (local.get $out)))
      (local.set $area (call $alloc (i32.const 8)))
      (call $wasi_poll (local.get $list) (i32.const 2) (local.get $area))
      (call $wasi_drop_pollable (i32.load (local.get $list)))
      (call $wasi_drop_pollable (i32.load offset=4 (local.get $list)))
      (call $wasi_drop_input (local.get $in))
      (call $wasi_drop_output (local.get $out))
      (call $sb_start)
      (call $sb_push (@str "{\"ready\":"))
      (call $sb_push_u32 (i32.load offset=4 (local.get $area)))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))


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
