;; The store gateway's per-chunk work on chunk bytes in this module's memory, many chunks per call:
;; their xxhash64 (the StoreAPI chunk hash) and the Series.chunks fields that carry them. JavaScript
;; copies the bytes in once per read (or per stretch of a read ahead of the frames being written) and
;; describes the chunks in a table, instead of several calls and a view per chunk.
;;
;; The compiled module is embedded in chunkwasm.ts; after editing this file, rebuild it with wabt:
;;   npx -p wabt@1.0.39 wat2wasm packages/storeapi/src/chunkwasm.wat -o c.wasm
;; and replace the base64 string in chunkwasm.ts with the output of `base64 -w0 c.wasm`.
(module
  (memory (export "memory") 1)

  (func $putVarint (param $p i32) (param $v i64) (result i32)
    (block $last
      (loop $byte
        (br_if $last (i64.lt_u (local.get $v) (i64.const 0x80)))
        (i64.store8 (local.get $p) (i64.or (local.get $v) (i64.const 0x80)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $v (i64.shr_u (local.get $v) (i64.const 7)))
        (br $byte)))
    (i64.store8 (local.get $p) (local.get $v))
    (i32.add (local.get $p) (i32.const 1)))

  ;; XXH64 with seed 0 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md).
  (func $xxh64 (param $p i32) (param $len i32) (result i64)
    (local $end i32) (local $limit i32) (local $h i64)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (if (i32.ge_u (local.get $len) (i32.const 32))
      (then
        (local.set $limit (i32.sub (local.get $end) (i32.const 32)))
        (local.set $v1 (i64.const 0x60EA27EEADC0B5D6)) ;; PRIME64_1 + PRIME64_2
        (local.set $v2 (i64.const 0xC2B2AE3D27D4EB4F)) ;; PRIME64_2
        (local.set $v4 (i64.const 0x61C8864E7A143579)) ;; -PRIME64_1
        (loop $stripe
          (local.set $v1 (i64.mul (i64.rotl (i64.add (local.get $v1)
            (i64.mul (i64.load (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v2 (i64.mul (i64.rotl (i64.add (local.get $v2)
            (i64.mul (i64.load offset=8 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v3 (i64.mul (i64.rotl (i64.add (local.get $v3)
            (i64.mul (i64.load offset=16 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v4 (i64.mul (i64.rotl (i64.add (local.get $v4)
            (i64.mul (i64.load offset=24 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $stripe (i32.le_u (local.get $p) (local.get $limit))))
        (local.set $h (i64.add (i64.add (i64.rotl (local.get $v1) (i64.const 1)) (i64.rotl (local.get $v2) (i64.const 7)))
          (i64.add (i64.rotl (local.get $v3) (i64.const 12)) (i64.rotl (local.get $v4) (i64.const 18)))))
        ;; The four lanes merged in (inline: a call each cost more than the merge).
        (local.set $h (i64.add (i64.mul (i64.xor (local.get $h)
          (i64.mul (i64.rotl (i64.mul (local.get $v1) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (i64.const 0x9E3779B185EBCA87)) (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $h (i64.add (i64.mul (i64.xor (local.get $h)
          (i64.mul (i64.rotl (i64.mul (local.get $v2) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (i64.const 0x9E3779B185EBCA87)) (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $h (i64.add (i64.mul (i64.xor (local.get $h)
          (i64.mul (i64.rotl (i64.mul (local.get $v3) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (i64.const 0x9E3779B185EBCA87)) (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $h (i64.add (i64.mul (i64.xor (local.get $h)
          (i64.mul (i64.rotl (i64.mul (local.get $v4) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (i64.const 0x9E3779B185EBCA87)) (i64.const 0x85EBCA77C2B2AE63))))
      (else (local.set $h (i64.const 0x27D4EB2F165667C5)))) ;; PRIME64_5
    (local.set $h (i64.add (local.get $h) (i64.extend_i32_u (local.get $len))))
    (block $words
      (loop $word
        (br_if $words (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h (i64.xor (local.get $h) (i64.mul (i64.rotl
          (i64.mul (i64.load (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 31)) (i64.const 0x9E3779B185EBCA87))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 27)) (i64.const 0x9E3779B185EBCA87)) (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $word)))
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h (i64.xor (local.get $h) (i64.mul (i64.load32_u (local.get $p)) (i64.const 0x9E3779B185EBCA87))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 23)) (i64.const 0xC2B2AE3D27D4EB4F)) (i64.const 0x165667B19E3779F9)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    (block $bytes
      (loop $byte
        (br_if $bytes (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (i64.xor (local.get $h) (i64.mul (i64.load8_u (local.get $p)) (i64.const 0x27D4EB2F165667C5))))
        (local.set $h (i64.mul (i64.rotl (local.get $h) (i64.const 11)) (i64.const 0x9E3779B185EBCA87)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (i64.const 0xC2B2AE3D27D4EB4F)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (i64.const 0x165667B19E3779F9)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))

;; Replaces each (u32 start, u32 end) pair at $desc + 8k, k < $n, by the xxhash64 of [start, end), an i64.
  (func (export "hashMany") (param $desc i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $desc) (i32.shl (local.get $n) (i32.const 3))))
    (block $done
      (loop $range
        (br_if $done (i32.ge_u (local.get $desc) (local.get $end)))
        (i64.store (local.get $desc)
          (call $xxh64 (i32.load (local.get $desc)) (i32.sub (i32.load offset=4 (local.get $desc)) (i32.load (local.get $desc)))))
        (local.set $desc (i32.add (local.get $desc) (i32.const 8)))
        (br $range))))

  ;; An int64 field (tag $tag) of the integer $v from $p on, as the codec writes it: omitted when 0,
  ;; clamped to the int64 range, negatives as 10-byte two's complement varints. Returns the end.
  (func $int64Field (param $p i32) (param $tag i32) (param $v f64) (result i32)
    (if (f64.eq (local.get $v) (f64.const 0)) (then (return (local.get $p))))
    (i32.store8 (local.get $p) (local.get $tag))
    (call $putVarint (i32.add (local.get $p) (i32.const 1)) (i64.trunc_sat_f64_s (local.get $v))))

  ;; Writes $n chunks as Series.chunks fields, AggrChunk { min_time 1, max_time 2, raw 3: Chunk { data 2,
  ;; hash 3 } } (the type, XOR = 0, and a zero hash omitted), from $out on; returns the end. Chunk k is
  ;; described by the 40 bytes at $desc + 40k: f64 min_time, f64 max_time, u32 hash low and high halves,
  ;; u32 data address and length (in this memory), u32 AggrChunk and Chunk message sizes.
  (func (export "writeChunks") (param $desc i32) (param $n i32) (param $out i32) (result i32)
    (local $end i32) (local $len i32) (local $hash i64)
    (local.set $end (i32.add (local.get $desc) (i32.mul (local.get $n) (i32.const 40))))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $desc) (local.get $end)))
        (i32.store8 (local.get $out) (i32.const 0x12))
        (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (i64.load32_u offset=32 (local.get $desc))))
        (local.set $out (call $int64Field (local.get $out) (i32.const 0x08) (f64.load (local.get $desc))))
        (local.set $out (call $int64Field (local.get $out) (i32.const 0x10) (f64.load offset=8 (local.get $desc))))
        (i32.store8 (local.get $out) (i32.const 0x1a))
        (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (i64.load32_u offset=36 (local.get $desc))))
        (local.set $len (i32.load offset=28 (local.get $desc)))
        (if (local.get $len)
          (then
            (i32.store8 (local.get $out) (i32.const 0x12))
            (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (i64.extend_i32_u (local.get $len))))
            (memory.copy (local.get $out) (i32.load offset=24 (local.get $desc)) (local.get $len))
            (local.set $out (i32.add (local.get $out) (local.get $len)))))
        (local.set $hash (i64.load offset=16 (local.get $desc)))
        (if (i64.ne (local.get $hash) (i64.const 0))
          (then
            (i32.store8 (local.get $out) (i32.const 0x18))
            (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (local.get $hash)))))
        (local.set $desc (i32.add (local.get $desc) (i32.const 40)))
        (br $chunk)))
    (local.get $out))
)
