;; A plain core module (not a component): the host and verifier must refuse it.
(module
  (memory (export "memory") 1)
  (func (export "describe") (result i32)
    (i32.const 42)))
