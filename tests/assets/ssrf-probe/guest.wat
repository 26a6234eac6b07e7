    ;; ssrf-probe: a copy of examples/plugins/fetch/guest.wat (keep the two in step).
    ;; fetch: HTTP `get` and `post` through the host (network permission "example.com").
    (func $describe (result i32)
      (call $ret_str (@str "[{\"name\":\"get\",\"description\":\"Fetches a URL with GET and returns the response body as text\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\"}},\"required\":[\"url\"]}},{\"name\":\"post\",\"description\":\"Posts a text body to a URL and returns the response body as text\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\"},\"body\":{\"type\":\"string\"}},\"required\":[\"url\",\"body\"]}}]")))

    (func $invoke (param $name i32) (param $name_len i32) (param $in i32) (param $in_len i32)
      (result i32)
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "get"))
        (then (return (call $get (local.get $in) (local.get $in_len)))))
      (if (call $mem_eq (local.get $name) (local.get $name_len) (@str "post"))
        (then (return (call $post (local.get $in) (local.get $in_len)))))
      (call $err_unknown_tool (local.get $name) (local.get $name_len)))

    ;; ok -> {"body": "<escaped body>"}; err -> the host's message unchanged.
    (func $http_reply (param $ok i32) (result i32)
      (if (i32.eqz (local.get $ok)) (then (return (call $ret_err_rt))))
      (call $sb_start)
      (call $sb_push (@str "{\"body\":"))
      (call $sb_push_json_string (global.get $rt_ptr) (global.get $rt_len))
      (call $sb_push (@str "}"))
      (call $ret_ok_sb))

    ;; get {"url"} -> http-request("GET", url, [("accept", "text/plain")], none)
    (func $get (param $in i32) (param $in_len i32) (result i32)
      (if (i32.eqz (call $json_get_str (local.get $in) (local.get $in_len) (@str "url")))
        (then (return (call $ret_err (@str "get needs a string field \"url\"")))))
      (call $http_reply
        (call $http_request (@str "GET") (global.get $rt_ptr) (global.get $rt_len)
                            (call $header1 (@str "accept") (@str "text/plain")) (i32.const 1)
                            (i32.const 0) (i32.const 0) (i32.const 0))))

    ;; post {"url", "body"} -> http-request("POST", url, [("content-type", "text/plain")], some(body))
    (func $post (param $in i32) (param $in_len i32) (result i32)
      (local $url i32) (local $url_len i32)
      (if (i32.eqz (call $json_get_str (local.get $in) (local.get $in_len) (@str "url")))
        (then (return (call $ret_err (@str "post needs string fields \"url\" and \"body\"")))))
      (local.set $url (global.get $rt_ptr))
      (local.set $url_len (global.get $rt_len))
      (if (i32.eqz (call $json_get_str (local.get $in) (local.get $in_len) (@str "body")))
        (then (return (call $ret_err (@str "post needs string fields \"url\" and \"body\"")))))
      (call $http_reply
        (call $http_request (@str "POST") (local.get $url) (local.get $url_len)
                            (call $header1 (@str "content-type") (@str "text/plain")) (i32.const 1)
                            (i32.const 1) (global.get $rt_ptr) (global.get $rt_len))))
