    ;; ---------------------------------------------------------------------------------------
    ;; clawft plugin runtime: spliced into every plugin's core module by build.py.
    ;;
    ;; (@str STRING) is a build.py macro: it becomes `(i32.const ptr) (i32.const len)` of the
    ;; UTF-8 bytes of the WAT string literal STRING, placed in the static data area.
    ;;
    ;; Conventions: a string is a (ptr, len) pair of i32. Helpers that produce a string or a
    ;; status put the string in the globals $rt_ptr / $rt_len; $sb_* is a single growable
    ;; string builder; $ret_* build the return areas that describe/invoke hand to canon lift.
    ;; ---------------------------------------------------------------------------------------
    (global $rt_ptr (mut i32) (i32.const 0))
    (global $rt_len (mut i32) (i32.const 0))
    (global $rt_u64 (mut i64) (i64.const 0))
    (global $sb_ptr (mut i32) (i32.const 0))
    (global $sb_len (mut i32) (i32.const 0))
    (global $sb_cap (mut i32) (i32.const 0))

    ;; ---- memory ---------------------------------------------------------------------------
    (func $alloc (param $size i32) (result i32)
      (call $realloc (i32.const 0) (i32.const 0) (i32.const 8) (local.get $size)))

    (func $memcpy (param $dst i32) (param $src i32) (param $len i32)
      (memory.copy (local.get $dst) (local.get $src) (local.get $len)))

    ;; 1 if the byte strings (a, alen) and (b, blen) are equal.
    (func $mem_eq (param $a i32) (param $alen i32) (param $b i32) (param $blen i32) (result i32)
      (local $i i32)
      (if (i32.ne (local.get $alen) (local.get $blen)) (then (return (i32.const 0))))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $alen)))
          (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                      (i32.load8_u (i32.add (local.get $b) (local.get $i))))
            (then (return (i32.const 0))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (i32.const 1))

    ;; Copy of (p, len) on the heap; returns the new pointer.
    (func $str_dup (param $p i32) (param $len i32) (result i32)
      (local $q i32)
      (local.set $q (call $alloc (local.get $len)))
      (memory.copy (local.get $q) (local.get $p) (local.get $len))
      (local.get $q))

    ;; ---- string builder -------------------------------------------------------------------
    (func $sb_start
      (global.set $sb_ptr (i32.const 0))
      (global.set $sb_len (i32.const 0))
      (global.set $sb_cap (i32.const 0)))

    (func $sb_reserve (param $extra i32)
      (local $need i32) (local $cap i32)
      (local.set $need (i32.add (global.get $sb_len) (local.get $extra)))
      (if (i32.lt_u (local.get $need) (global.get $sb_len)) (then unreachable))
      (if (i32.gt_u (local.get $need) (global.get $sb_cap))
        (then
          (local.set $cap (i32.shl (global.get $sb_cap) (i32.const 1)))
          (if (i32.lt_u (local.get $cap) (local.get $need)) (then (local.set $cap (local.get $need))))
          (if (i32.lt_u (local.get $cap) (i32.const 64)) (then (local.set $cap (i32.const 64))))
          (global.set $sb_ptr (call $realloc (global.get $sb_ptr) (global.get $sb_cap)
                                             (i32.const 1) (local.get $cap)))
          (global.set $sb_cap (local.get $cap)))))

    (func $sb_push (param $p i32) (param $len i32)
      (call $sb_reserve (local.get $len))
      (memory.copy (i32.add (global.get $sb_ptr) (global.get $sb_len)) (local.get $p) (local.get $len))
      (global.set $sb_len (i32.add (global.get $sb_len) (local.get $len))))

    (func $sb_push_byte (param $b i32)
      (call $sb_reserve (i32.const 1))
      (i32.store8 (i32.add (global.get $sb_ptr) (global.get $sb_len)) (local.get $b))
      (global.set $sb_len (i32.add (global.get $sb_len) (i32.const 1))))

    ;; Decimal digits of an unsigned 64-bit integer.
    (func $sb_push_u64 (param $v i64)
      (local $digits i32) (local $t i64) (local $p i32)
      (local.set $digits (i32.const 1))
      (local.set $t (local.get $v))
      (block $done
        (loop $count
          (br_if $done (i64.lt_u (local.get $t) (i64.const 10)))
          (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
          (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
          (br $count)))
      (call $sb_reserve (local.get $digits))
      (global.set $sb_len (i32.add (global.get $sb_len) (local.get $digits)))
      (local.set $p (i32.add (global.get $sb_ptr) (global.get $sb_len)))
      (loop $emit
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p)
          (i32.add (i32.const 0x30) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
        (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
        (br_if $emit (i64.ne (local.get $v) (i64.const 0)))))

    (func $sb_push_u32 (param $v i32)
      (call $sb_push_u64 (i64.extend_i32_u (local.get $v))))

    (func $sb_push_hex_digit (param $d i32)
      (call $sb_push_byte
        (i32.add (local.get $d)
                 (select (i32.const 0x30) (i32.const 0x57) (i32.lt_u (local.get $d) (i32.const 10))))))

    ;; (p, len) escaped for the inside of a JSON string: " \ and control characters.
    (func $sb_push_json (param $p i32) (param $len i32)
      (local $end i32) (local $c i32)
      (local.set $end (i32.add (local.get $p) (local.get $len)))
      (call $sb_reserve (local.get $len))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $c (i32.load8_u (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (block $plain
            (block $escape
              (br_if $escape (i32.eq (local.get $c) (i32.const 0x22)))
              (br_if $escape (i32.eq (local.get $c) (i32.const 0x5c)))
              (br_if $plain (i32.ge_u (local.get $c) (i32.const 0x20)))
              ;; control character
              (call $sb_push_byte (i32.const 0x5c))
              (if (i32.eq (local.get $c) (i32.const 0x0a))
                (then (call $sb_push_byte (i32.const 0x6e)) (br $next)))
              (if (i32.eq (local.get $c) (i32.const 0x0d))
                (then (call $sb_push_byte (i32.const 0x72)) (br $next)))
              (if (i32.eq (local.get $c) (i32.const 0x09))
                (then (call $sb_push_byte (i32.const 0x74)) (br $next)))
              (if (i32.eq (local.get $c) (i32.const 0x08))
                (then (call $sb_push_byte (i32.const 0x62)) (br $next)))
              (if (i32.eq (local.get $c) (i32.const 0x0c))
                (then (call $sb_push_byte (i32.const 0x66)) (br $next)))
              (call $sb_push (@str "u00"))
              (call $sb_push_hex_digit (i32.shr_u (local.get $c) (i32.const 4)))
              (call $sb_push_hex_digit (i32.and (local.get $c) (i32.const 15)))
              (br $next))
            ;; " or \ : backslash then the character itself
            (call $sb_push_byte (i32.const 0x5c)))
          (call $sb_push_byte (local.get $c))
          (br $next))))

    ;; "(p, len)" as a JSON string literal, quotes included.
    (func $sb_push_json_string (param $p i32) (param $len i32)
      (call $sb_push_byte (i32.const 0x22))
      (call $sb_push_json (local.get $p) (local.get $len))
      (call $sb_push_byte (i32.const 0x22)))

    ;; ---- return areas for canon lift ------------------------------------------------------
    ;; describe: -> pointer to (ptr, len)
    (func $ret_str (param $p i32) (param $len i32) (result i32)
      (local $r i32)
      (local.set $r (call $alloc (i32.const 8)))
      (i32.store (local.get $r) (local.get $p))
      (i32.store offset=4 (local.get $r) (local.get $len))
      (local.get $r))
    ;; invoke: -> pointer to (u8 tag: 0 ok / 1 err, ptr @4, len @8)
    (func $ret_result (param $tag i32) (param $p i32) (param $len i32) (result i32)
      (local $r i32)
      (local.set $r (call $alloc (i32.const 12)))
      (i32.store (local.get $r) (local.get $tag))
      (i32.store offset=4 (local.get $r) (local.get $p))
      (i32.store offset=8 (local.get $r) (local.get $len))
      (local.get $r))
    (func $ret_ok (param $p i32) (param $len i32) (result i32)
      (call $ret_result (i32.const 0) (local.get $p) (local.get $len)))
    (func $ret_err (param $p i32) (param $len i32) (result i32)
      (call $ret_result (i32.const 1) (local.get $p) (local.get $len)))
    (func $ret_str_sb (result i32)
      (call $ret_str (global.get $sb_ptr) (global.get $sb_len)))
    (func $ret_ok_sb (result i32)
      (call $ret_ok (global.get $sb_ptr) (global.get $sb_len)))
    (func $ret_err_sb (result i32)
      (call $ret_err (global.get $sb_ptr) (global.get $sb_len)))
    ;; err with the message in $rt_ptr/$rt_len (e.g. a host error, passed through unchanged)
    (func $ret_err_rt (result i32)
      (call $ret_err (global.get $rt_ptr) (global.get $rt_len)))
    (func $err_unknown_tool (param $name i32) (param $len i32) (result i32)
      (call $sb_start)
      (call $sb_push (@str "unknown tool: "))
      (call $sb_push (local.get $name) (local.get $len))
      (call $ret_err_sb))

    ;; ---- host calls -----------------------------------------------------------------------
    ;; Each returns 1 for ok/some, 0 for err/none; the string (payload or error message) is
    ;; left in $rt_ptr/$rt_len (length 0 when there is none).
    (func $take_result (param $area i32) (param $ok_tag i32) (result i32)
      (global.set $rt_ptr (i32.load offset=4 (local.get $area)))
      (global.set $rt_len (i32.load offset=8 (local.get $area)))
      (i32.eq (i32.load8_u (local.get $area)) (local.get $ok_tag)))

    (func $read_file (param $path i32) (param $path_len i32) (result i32)
      (local $area i32)
      (local.set $area (call $alloc (i32.const 12)))
      (call $host_read_file (local.get $path) (local.get $path_len) (local.get $area))
      (call $take_result (local.get $area) (i32.const 0)))

    (func $write_file (param $path i32) (param $path_len i32) (param $text i32) (param $text_len i32)
      (result i32)
      (local $area i32)
      (local.set $area (call $alloc (i32.const 12)))
      (call $host_write_file (local.get $path) (local.get $path_len)
                             (local.get $text) (local.get $text_len) (local.get $area))
      (if (i32.eqz (i32.load8_u (local.get $area)))
        (then
          (global.set $rt_ptr (i32.const 0))
          (global.set $rt_len (i32.const 0))
          (return (i32.const 1))))
      (call $take_result (local.get $area) (i32.const 0)))

    (func $get_env (param $name i32) (param $name_len i32) (result i32)
      (local $area i32)
      (local.set $area (call $alloc (i32.const 12)))
      (call $host_get_env (local.get $name) (local.get $name_len) (local.get $area))
      (if (i32.eqz (i32.load8_u (local.get $area)))
        (then
          (global.set $rt_ptr (i32.const 0))
          (global.set $rt_len (i32.const 0))
          (return (i32.const 0))))
      (call $take_result (local.get $area) (i32.const 1)))

    ;; headers: pointer to $count (key ptr, key len, value ptr, value len) records of 16 bytes.
    (func $http_request (param $method i32) (param $method_len i32) (param $url i32) (param $url_len i32)
      (param $headers i32) (param $count i32)
      (param $has_body i32) (param $body i32) (param $body_len i32) (result i32)
      (local $area i32)
      (local.set $area (call $alloc (i32.const 12)))
      (call $host_http_request (local.get $method) (local.get $method_len)
                               (local.get $url) (local.get $url_len)
                               (local.get $headers) (local.get $count)
                               (local.get $has_body) (local.get $body) (local.get $body_len)
                               (local.get $area))
      (call $take_result (local.get $area) (i32.const 0)))

    ;; A one-element header list (key, value); returns its pointer (count 1).
    (func $header1 (param $k i32) (param $klen i32) (param $v i32) (param $vlen i32) (result i32)
      (local $h i32)
      (local.set $h (call $alloc (i32.const 16)))
      (i32.store (local.get $h) (local.get $k))
      (i32.store offset=4 (local.get $h) (local.get $klen))
      (i32.store offset=8 (local.get $h) (local.get $v))
      (i32.store offset=12 (local.get $h) (local.get $vlen))
      (local.get $h))

    ;; ---- minimal JSON reading -------------------------------------------------------------
    ;; Positions are addresses; -1 means malformed input.
    (func $json_ws (param $p i32) (param $end i32) (result i32)
      (local $c i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $c (i32.load8_u (local.get $p)))
          (br_if $done
            (i32.eqz (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x20))
                                     (i32.eq (local.get $c) (i32.const 0x09)))
                             (i32.or (i32.eq (local.get $c) (i32.const 0x0a))
                                     (i32.eq (local.get $c) (i32.const 0x0d))))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next)))
      (local.get $p))

    ;; $p at an opening quote; returns the position after the closing quote.
    (func $json_skip_str (param $p i32) (param $end i32) (result i32)
      (local $c i32)
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (loop $next
        (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.eq (local.get $c) (i32.const 0x22))
          (then (return (i32.add (local.get $p) (i32.const 1)))))
        (if (i32.lt_u (local.get $c) (i32.const 0x20)) (then (return (i32.const -1))))
        (if (i32.eq (local.get $c) (i32.const 0x5c))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next))
      unreachable)

    (func $json_is_delim (param $c i32) (result i32)
      (i32.or
        (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x2c)) (i32.eq (local.get $c) (i32.const 0x7d)))
                (i32.or (i32.eq (local.get $c) (i32.const 0x5d)) (i32.eq (local.get $c) (i32.const 0x20))))
        (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x09)) (i32.eq (local.get $c) (i32.const 0x0a)))
                (i32.eq (local.get $c) (i32.const 0x0d)))))

    ;; $p at the first character of a value; returns the position after it.
    (func $json_skip_value (param $p i32) (param $end i32) (result i32)
      (local $c i32) (local $depth i32) (local $start i32)
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x22))
        (then (return (call $json_skip_str (local.get $p) (local.get $end)))))
      (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
        (then
          (loop $next
            (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
            (local.set $c (i32.load8_u (local.get $p)))
            (if (i32.eq (local.get $c) (i32.const 0x22))
              (then
                (local.set $p (call $json_skip_str (local.get $p) (local.get $end)))
                (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const -1))))
                (br $next)))
            (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
              (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
            (if (i32.or (i32.eq (local.get $c) (i32.const 0x7d)) (i32.eq (local.get $c) (i32.const 0x5d)))
              (then
                (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
                (if (i32.eqz (local.get $depth))
                  (then (return (i32.add (local.get $p) (i32.const 1)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $next))
          unreachable))
      ;; a scalar: number, true, false, null
      (local.set $start (local.get $p))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
          (br_if $done (call $json_is_delim (i32.load8_u (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next)))
      (if (i32.eq (local.get $p) (local.get $start)) (then (return (i32.const -1))))
      (local.get $p))

    (func $hex_val (param $c i32) (result i32)
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 0x30)) (i32.le_u (local.get $c) (i32.const 0x39)))
        (then (return (i32.sub (local.get $c) (i32.const 0x30)))))
      (local.set $c (i32.or (local.get $c) (i32.const 0x20)))
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 0x61)) (i32.le_u (local.get $c) (i32.const 0x66)))
        (then (return (i32.sub (local.get $c) (i32.const 0x57)))))
      (i32.const -1))

    ;; Four hex digits at $p (needs $p + 4 <= $end); their value, or -1.
    (func $hex4 (param $p i32) (param $end i32) (result i32)
      (local $i i32) (local $v i32) (local $d i32)
      (if (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
        (then (return (i32.const -1))))
      (if (i32.lt_u (i32.add (local.get $p) (i32.const 4)) (local.get $p))
        (then (return (i32.const -1))))
      (loop $next
        (local.set $d (call $hex_val (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
        (if (i32.lt_s (local.get $d) (i32.const 0)) (then (return (i32.const -1))))
        (local.set $v (i32.or (i32.shl (local.get $v) (i32.const 4)) (local.get $d)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 4))))
      (local.get $v))

    ;; UTF-8 encoding of code point $u at $o; returns the position after it.
    (func $utf8_put (param $o i32) (param $u i32) (result i32)
      (if (i32.lt_u (local.get $u) (i32.const 0x80))
        (then
          (i32.store8 (local.get $o) (local.get $u))
          (return (i32.add (local.get $o) (i32.const 1)))))
      (if (i32.lt_u (local.get $u) (i32.const 0x800))
        (then
          (i32.store8 (local.get $o) (i32.or (i32.const 0xc0) (i32.shr_u (local.get $u) (i32.const 6))))
          (i32.store8 offset=1 (local.get $o)
            (i32.or (i32.const 0x80) (i32.and (local.get $u) (i32.const 0x3f))))
          (return (i32.add (local.get $o) (i32.const 2)))))
      (if (i32.lt_u (local.get $u) (i32.const 0x10000))
        (then
          (i32.store8 (local.get $o) (i32.or (i32.const 0xe0) (i32.shr_u (local.get $u) (i32.const 12))))
          (i32.store8 offset=1 (local.get $o)
            (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $u) (i32.const 6)) (i32.const 0x3f))))
          (i32.store8 offset=2 (local.get $o)
            (i32.or (i32.const 0x80) (i32.and (local.get $u) (i32.const 0x3f))))
          (return (i32.add (local.get $o) (i32.const 3)))))
      (i32.store8 (local.get $o) (i32.or (i32.const 0xf0) (i32.shr_u (local.get $u) (i32.const 18))))
      (i32.store8 offset=1 (local.get $o)
        (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $u) (i32.const 12)) (i32.const 0x3f))))
      (i32.store8 offset=2 (local.get $o)
        (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $u) (i32.const 6)) (i32.const 0x3f))))
      (i32.store8 offset=3 (local.get $o)
        (i32.or (i32.const 0x80) (i32.and (local.get $u) (i32.const 0x3f))))
      (i32.add (local.get $o) (i32.const 4)))

    ;; Decode the JSON string literal whose opening quote is at $p into a new heap string
    ;; ($rt_ptr/$rt_len). Handles \" \\ \/ \b \f \n \r \t \uXXXX (surrogate pairs combined);
    ;; returns 0 for malformed input (bad escape, lone surrogate, raw control character).
    (func $json_decode_str (param $p i32) (param $end i32) (result i32)
      (local $out i32) (local $o i32) (local $c i32) (local $u i32) (local $lo i32)
      (local.set $out (call $alloc (i32.sub (local.get $end) (local.get $p))))
      (local.set $o (local.get $out))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (block $fail
        (loop $next
          (br_if $fail (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $c (i32.load8_u (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (if (i32.eq (local.get $c) (i32.const 0x22))
            (then
              (global.set $rt_ptr (local.get $out))
              (global.set $rt_len (i32.sub (local.get $o) (local.get $out)))
              (return (i32.const 1))))
          (br_if $fail (i32.lt_u (local.get $c) (i32.const 0x20)))
          (if (i32.ne (local.get $c) (i32.const 0x5c))
            (then
              (i32.store8 (local.get $o) (local.get $c))
              (local.set $o (i32.add (local.get $o) (i32.const 1)))
              (br $next)))
          ;; an escape sequence
          (br_if $fail (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $c (i32.load8_u (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (if (i32.eq (local.get $c) (i32.const 0x75))
            (then
              (local.set $u (call $hex4 (local.get $p) (local.get $end)))
              (br_if $fail (i32.lt_s (local.get $u) (i32.const 0)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (if (i32.and (i32.ge_u (local.get $u) (i32.const 0xd800))
                           (i32.le_u (local.get $u) (i32.const 0xdbff)))
                (then
                  (br_if $fail (i32.ge_u (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
                  (br_if $fail (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x5c)))
                  (br_if $fail (i32.ne (i32.load8_u offset=1 (local.get $p)) (i32.const 0x75)))
                  (local.set $lo (call $hex4 (i32.add (local.get $p) (i32.const 2)) (local.get $end)))
                  (br_if $fail (i32.or (i32.lt_u (local.get $lo) (i32.const 0xdc00))
                                       (i32.gt_u (local.get $lo) (i32.const 0xdfff))))
                  (local.set $p (i32.add (local.get $p) (i32.const 6)))
                  (local.set $u
                    (i32.add (i32.const 0x10000)
                             (i32.or (i32.shl (i32.sub (local.get $u) (i32.const 0xd800)) (i32.const 10))
                                     (i32.sub (local.get $lo) (i32.const 0xdc00)))))))
              (br_if $fail (i32.and (i32.ge_u (local.get $u) (i32.const 0xdc00))
                                    (i32.le_u (local.get $u) (i32.const 0xdfff))))
              (local.set $o (call $utf8_put (local.get $o) (local.get $u)))
              (br $next)))
          (block $simple
            (br_if $simple (i32.eq (local.get $c) (i32.const 0x22)))
            (br_if $simple (i32.eq (local.get $c) (i32.const 0x5c)))
            (br_if $simple (i32.eq (local.get $c) (i32.const 0x2f)))
            (if (i32.eq (local.get $c) (i32.const 0x62))
              (then (local.set $c (i32.const 0x08)) (br $simple)))
            (if (i32.eq (local.get $c) (i32.const 0x66))
              (then (local.set $c (i32.const 0x0c)) (br $simple)))
            (if (i32.eq (local.get $c) (i32.const 0x6e))
              (then (local.set $c (i32.const 0x0a)) (br $simple)))
            (if (i32.eq (local.get $c) (i32.const 0x72))
              (then (local.set $c (i32.const 0x0d)) (br $simple)))
            (if (i32.eq (local.get $c) (i32.const 0x74))
              (then (local.set $c (i32.const 0x09)) (br $simple)))
            (br $fail))
          (i32.store8 (local.get $o) (local.get $c))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $next)))
      (i32.const 0))

    ;; Does the raw key literal [$ks, $ke) (quotes included) decode to (key, key_len)?
    (func $json_key_eq (param $ks i32) (param $ke i32) (param $key i32) (param $key_len i32) (result i32)
      (local $p i32)
      ;; fast path: no backslash inside
      (local.set $p (i32.add (local.get $ks) (i32.const 1)))
      (block $escaped
        (loop $next
          (if (i32.ge_u (local.get $p) (i32.sub (local.get $ke) (i32.const 1)))
            (then
              (return (call $mem_eq (i32.add (local.get $ks) (i32.const 1))
                                    (i32.sub (i32.sub (local.get $ke) (local.get $ks)) (i32.const 2))
                                    (local.get $key) (local.get $key_len)))))
          (br_if $escaped (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5c)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next)))
      (if (i32.eqz (call $json_decode_str (local.get $ks) (local.get $ke)))
        (then (return (i32.const 0))))
      (call $mem_eq (global.get $rt_ptr) (global.get $rt_len) (local.get $key) (local.get $key_len)))

    ;; Position of the value of top-level member `key` in the JSON object (json, len); the last
    ;; one wins if the key is repeated. -1 if the key is absent or the input is not an object.
    (func $json_find (param $json i32) (param $len i32) (param $key i32) (param $key_len i32)
      (result i32)
      (local $p i32) (local $end i32) (local $found i32) (local $ks i32) (local $v i32) (local $c i32)
      (local.set $end (i32.add (local.get $json) (local.get $len)))
      (local.set $found (i32.const -1))
      (local.set $p (call $json_ws (local.get $json) (local.get $end)))
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x7b)) (then (return (i32.const -1))))
      (local.set $p (call $json_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (block $close
        (br_if $close (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x7d)))
        (loop $member
          (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
          (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x22)) (then (return (i32.const -1))))
          (local.set $ks (local.get $p))
          (local.set $p (call $json_skip_str (local.get $p) (local.get $end)))
          (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const -1))))
          (local.set $c (call $json_key_eq (local.get $ks) (local.get $p) (local.get $key) (local.get $key_len)))
          (local.set $ks (local.get $p))
          (local.set $p (call $json_ws (local.get $p) (local.get $end)))
          (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
          (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x3a)) (then (return (i32.const -1))))
          (local.set $p (call $json_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
          (local.set $v (local.get $p))
          (local.set $p (call $json_skip_value (local.get $p) (local.get $end)))
          (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const -1))))
          (if (local.get $c) (then (local.set $found (local.get $v))))
          (local.set $p (call $json_ws (local.get $p) (local.get $end)))
          (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
          (local.set $c (i32.load8_u (local.get $p)))
          (if (i32.eq (local.get $c) (i32.const 0x2c))
            (then
              (local.set $p (call $json_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
              (br $member)))
          (if (i32.ne (local.get $c) (i32.const 0x7d)) (then (return (i32.const -1))))))
      ;; $p at the closing brace: only whitespace may follow
      (if (i32.ne (call $json_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)) (local.get $end))
        (then (return (i32.const -1))))
      (local.get $found))

    ;; Top-level string member `key` of the JSON object (json, len), decoded into a new heap
    ;; string ($rt_ptr/$rt_len). 1 if present and a string, else 0.
    (func $json_get_str (param $json i32) (param $len i32) (param $key i32) (param $key_len i32)
      (result i32)
      (local $v i32)
      (local.set $v (call $json_find (local.get $json) (local.get $len) (local.get $key) (local.get $key_len)))
      (if (i32.eq (local.get $v) (i32.const -1)) (then (return (i32.const 0))))
      (if (i32.ne (i32.load8_u (local.get $v)) (i32.const 0x22)) (then (return (i32.const 0))))
      (call $json_decode_str (local.get $v) (i32.add (local.get $json) (local.get $len))))

    ;; Top-level unsigned integer member `key` (digits only, fits in u64) into $rt_u64.
    ;; 1 if present and such an integer, else 0.
    (func $json_get_uint (param $json i32) (param $len i32) (param $key i32) (param $key_len i32)
      (result i32)
      (local $p i32) (local $end i32) (local $d i32) (local $v i64) (local $start i32)
      (local.set $p (call $json_find (local.get $json) (local.get $len) (local.get $key) (local.get $key_len)))
      (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const 0))))
      (local.set $end (i32.add (local.get $json) (local.get $len)))
      (local.set $start (local.get $p))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $d (i32.sub (i32.load8_u (local.get $p)) (i32.const 0x30)))
          (br_if $done (i32.gt_u (local.get $d) (i32.const 9)))
          ;; v * 10 + d must not overflow u64 (max 18446744073709551615)
          (if (i64.gt_u (local.get $v) (i64.const 1844674407370955161)) (then (return (i32.const 0))))
          (if (i32.and (i64.eq (local.get $v) (i64.const 1844674407370955161))
                       (i32.gt_u (local.get $d) (i32.const 5)))
            (then (return (i32.const 0))))
          (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $d))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next)))
      (if (i32.eq (local.get $p) (local.get $start)) (then (return (i32.const 0))))
      (if (i32.lt_u (local.get $p) (local.get $end))
        (then
          (if (i32.eqz (call $json_is_delim (i32.load8_u (local.get $p)))) (then (return (i32.const 0))))))
      (global.set $rt_u64 (local.get $v))
      (i32.const 1))
    ;; ---- end of runtime -------------------------------------------------------------------
