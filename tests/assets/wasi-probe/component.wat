;; wasi-probe: besides the host, imports WASI 0.2.0 wasi:cli/environment, wasi:io/error,
;; wasi:io/streams (output-stream.blocking-write-and-flush) and wasi:cli/stdout.
;; Tools: env -> {"count": N}; print -> writes "hello from stdout\n" to stdout, {"printed": true}.
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
  (import "wasi:cli/environment@0.2.0" (instance $wasi_environment
    (export "get-environment" (func (result (list (tuple string string)))))))
  (import "wasi:io/error@0.2.0" (instance $wasi_io_error
    (export "error" (type (sub resource)))))
  (alias export $wasi_io_error "error" (type $io_error))
  (import "wasi:io/streams@0.2.0" (instance $wasi_io_streams
    (alias outer 1 $io_error (type $outer_error))
    (export "error" (type $error (eq $outer_error)))
    (export "output-stream" (type $output_stream (sub resource)))
    (type $stream_error_v (variant (case "last-operation-failed" (own $error)) (case "closed")))
    (export "stream-error" (type $stream_error (eq $stream_error_v)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $output_stream)) (param "contents" (list u8))
            (result (result (error $stream_error)))))))
  (alias export $wasi_io_streams "output-stream" (type $output_stream))
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
  (core func $wasi_get_environment
    (canon lower (func $wasi_environment "get-environment") (memory $mem) (realloc $realloc)))
  (core func $wasi_get_stdout (canon lower (func $wasi_cli_stdout "get-stdout")))
  (core func $wasi_blocking_write_and_flush
    (canon lower (func $wasi_io_streams "[method]output-stream.blocking-write-and-flush")
      (memory $mem)))
  (core func $wasi_drop_output_stream (canon resource.drop $output_stream))
  (core func $wasi_drop_error (canon resource.drop $io_error))
  (core instance $host_core
    (export "http-request" (func $host_http_request))
    (export "read-file" (func $host_read_file))
    (export "write-file" (func $host_write_file))
    (export "get-env" (func $host_get_env))
    (export "log" (func $host_log)))
  (core instance $wasi_core
    (export "get-environment" (func $wasi_get_environment))
    (export "get-stdout" (func $wasi_get_stdout))
    (export "blocking-write-and-flush" (func $wasi_blocking_write_and_flush))
    (export "drop-output-stream" (func $wasi_drop_output_stream))
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
    ;; (result area) -> ()            area: list ptr @0, count @4 (16-byte (key, value) records)
    (import "wasi" "get-environment" (func $wasi_get_environment (param i32)))
    ;; () -> own<output-stream>
    (import "wasi" "get-stdout" (func $wasi_get_stdout (result i32)))
    ;; (borrow<output-stream>, bytes ptr, bytes len, result area) -> ()
    ;;   area: u8 tag @0 (1 = err), stream-error u8 tag @4 (0 = last-operation-failed), own<error> @8
    (import "wasi" "blocking-write-and-flush" (func $wasi_blocking_write_and_flush (param i32 i32 i32 i32)))
    (import "wasi" "drop-output-stream" (func $wasi_drop_output_stream (param i32)))
    (import "wasi" "drop-error" (func $wasi_drop_error (param i32)))

{{RUNTIME}}

    ;; env: wasi:cli/environment get-environment -> {"count": <number of entries>}
    ;; print: writes "hello from stdout\n" with wasi:cli/stdout + blocking-write-and-flush
    ;;        -> {"printed": true}, or err "stdout write failed" / "stdout closed"
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"env\",\"description\":\"Counts the WASI environment entries\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},{\"name\":\"print\",\"description\":\"Writes a line to WASI stdout\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "env"))
        (then (return (call $env))))
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "print"))
        (then (return (call $print))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    (func $env (result i32)
      (local $area i32)
      (local.set $area (call $alloc (i32.const 8)))
      (call $wasi_get_environment (local.get $area))
      (call $sb_start)
      (call $sb_push (@str "{\"count\":"))
      (call $sb_push_u32 (i32.load offset=4 (local.get $area)))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))

    (func $print (result i32)
      (local $stream i32) (local $area i32)
      (local.set $stream (call $wasi_get_stdout))
      (local.set $area (call $alloc (i32.const 12)))
      (call $wasi_blocking_write_and_flush (local.get $stream) (@str "hello from stdout\n") (local.get $area))
      (call $wasi_drop_output_stream (local.get $stream))
      (if (i32.eqz (i32.load8_u (local.get $area)))
        (then (return (call $ret_ok (@str "{\"printed\":true}")))))
      (if (i32.eqz (i32.load8_u offset=4 (local.get $area)))
        (then
          (call $wasi_drop_error (i32.load offset=8 (local.get $area)))
          (return (call $ret_err (@str "stdout write failed")))))
      (call $ret_err (@str "stdout closed")))


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
