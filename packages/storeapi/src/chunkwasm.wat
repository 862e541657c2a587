;; The per-chunk work of the store gateway and of the sidecar on chunk bytes in this module's memory,
;; many chunks per call, with one xxhash64 (the StoreAPI chunk hash) for both.
;;
;; Store gateway (hashMany, writeChunks): the xxhash64 of chunks read from the bucket and the
;; Series.chunks fields that carry them. JavaScript copies the bytes in once per read (or per stretch of
;; a read ahead of the frames being written) and describes the chunks in a table, instead of several
;; calls and a view per chunk.
;;
;; Sidecar (transcode): remote-read chunks to StoreAPI chunks, in one pass per series (every chunk of
;; every query goes through it). JavaScript copies a ChunkedReadResponse payload into `memory` and calls
;; `transcode` per ChunkedSeries; for each prompb.Chunk { min_time_ms 1, max_time_ms 2, type 3, data 4 }
;; it writes a Series.chunks field: AggrChunk { min_time 1, max_time 2, raw 3: Chunk { type 1, data 2,
;; hash 3 } }, the times copied as they are (both protos carry them as int64 fields 1 and 2), the type
;; renumbered (StoreAPI XOR = 0, remote read XOR = 1) and the hash = xxhash64 (seed 0) of the data, as
;; Thanos' sidecar sends it.
;;
;; The compiled module is embedded in chunkwasm.ts; after editing this file, rebuild it with wabt:
;;   npx -p wabt@1.0.39 wat2wasm packages/storeapi/src/chunkwasm.wat -o c.wasm
;; and replace the base64 string in chunkwasm.ts with the output of `base64 -w0 c.wasm`.
(module
  (memory (export "memory") 1)


  ;; Where the last $varint stopped, -1 when it failed (truncated, or longer than 10 bytes).
  (global $next (mut i32) (i32.const 0))
  ;; The chunk encoding of the last -3 result.
  (global $badType (mut i32) (i32.const 0))
  (func (export "badType") (result i32) (global.get $badType))
  ;; Where the last field other than a chunk began in the last transcode call, 0 if there was none: the
  ;; caller, which reads a series' labels up to its first chunk, reads further only where this is later.
  (global $lastOther (mut i32) (i32.const 0))
  (func (export "lastOther") (result i32) (global.get $lastOther))

  (func $varint (param $p i32) (param $end i32) (result i64)
    (local $v i64) (local $shift i64) (local $b i32)
    (loop $byte
      (if (i32.or (i32.ge_u (local.get $p) (local.get $end)) (i64.ge_u (local.get $shift) (i64.const 70)))
        (then (global.set $next (i32.const -1)) (return (i64.const 0))))
      (local.set $b (i32.load8_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $v (i64.or (local.get $v)
        (i64.shl (i64.extend_i32_u (i32.and (local.get $b) (i32.const 0x7f))) (local.get $shift))))
      (local.set $shift (i64.add (local.get $shift) (i64.const 7)))
      (br_if $byte (i32.ge_u (local.get $b) (i32.const 0x80))))
    (global.set $next (local.get $p))
    (local.get $v))

  ;; The position after a field value of wire type $wt starting at $p, or -1.
  (func $skip (param $wt i32) (param $p i32) (param $end i32) (result i32)
    (local $n i64)
    (block $sized
      (if (i32.eqz (local.get $wt)) (then
        (drop (call $varint (local.get $p) (local.get $end)))
        (return (global.get $next))))
      (if (i32.eq (local.get $wt) (i32.const 1)) (then (local.set $n (i64.const 8)) (br $sized)))
      (if (i32.eq (local.get $wt) (i32.const 5)) (then (local.set $n (i64.const 4)) (br $sized)))
      (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const -1))))
      (local.set $n (call $varint (local.get $p) (local.get $end)))
      (local.set $p (global.get $next))
      (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1)))))
    (if (i64.gt_u (local.get $n) (i64.extend_i32_u (i32.sub (local.get $end) (local.get $p))))
      (then (return (i32.const -1))))
    (i32.add (local.get $p) (i32.wrap_i64 (local.get $n))))

  ;; Bytes of $v as a varint: ceil(significant bits / 7), at least 1; x / 7 as (x * 37) >> 8 (exact for x ≤ 70).
  (func $varintSize (param $v i64) (result i32)
    (i32.shr_u
      (i32.mul (i32.sub (i32.const 70) (i32.wrap_i64 (i64.clz (i64.or (local.get $v) (i64.const 1))))) (i32.const 37))
      (i32.const 8)))

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

  ;; Writes the chunks (field 2) of the ChunkedSeries content at [$p, $end) as Series.chunks fields from
  ;; $out on, without passing $limit; other fields (the labels) are skipped. Returns where the output
  ;; ends, -1 for malformed input, -2 when the output does not fit, -3 for an encoding the StoreAPI
  ;; cannot carry (badType()).
  (func (export "transcode") (param $p i32) (param $end i32) (param $out i32) (param $limit i32) (result i32)
    (local $tag i32) (local $field i32) (local $n i64) (local $chunkEnd i32)
    (local $minStart i32) (local $minEnd i32) (local $maxStart i32) (local $maxEnd i32)
    (local $type i32) (local $dataStart i32) (local $dataLen i32)
    (local $hash i64) (local $raw i32) (local $aggr i32) (local $c i32) (local $shift i32)
    (global.set $lastOther (i32.const 0))
    (block $done
      (loop $fields
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $field (local.get $p))
        (local.set $tag (i32.wrap_i64 (call $varint (local.get $p) (local.get $end))))
        (local.set $p (global.get $next))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))
        (if (i32.ne (local.get $tag) (i32.const 0x12))
          (then
            (global.set $lastOther (local.get $field))
            (local.set $p (call $skip (i32.and (local.get $tag) (i32.const 7)) (local.get $p) (local.get $end)))
            (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))
            (br $fields)))
        (local.set $n (call $varint (local.get $p) (local.get $end)))
        (local.set $p (global.get $next))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))
        (if (i64.gt_u (local.get $n) (i64.extend_i32_u (i32.sub (local.get $end) (local.get $p))))
          (then (return (i32.const -1))))
        (local.set $chunkEnd (i32.add (local.get $p) (i32.wrap_i64 (local.get $n))))
        (local.set $minStart (i32.const 0))
        (local.set $minEnd (i32.const 0))
        (local.set $maxStart (i32.const 0))
        (local.set $maxEnd (i32.const 0))
        (local.set $type (i32.const 0))
        (local.set $dataStart (i32.const 0))
        (local.set $dataLen (i32.const 0))
        ;; One-byte tags, times and data lengths (below 2^28: frames are at most 50 MB) are read inline (a
        ;; call per field cost about half as much as hashing the chunk); anything else goes through $varint
        ;; and $skip.
        (block $chunkDone
          (loop $chunkFields
            (br_if $chunkDone (i32.ge_u (local.get $p) (local.get $chunkEnd)))
            (local.set $field (local.get $p))
            (local.set $tag (i32.load8_u (local.get $p)))
            (if (i32.lt_u (local.get $tag) (i32.const 0x80))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $tag (i32.wrap_i64 (call $varint (local.get $p) (local.get $chunkEnd))))
                (local.set $p (global.get $next))
                (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))))
            (block $read
              (if (i32.or (i32.eq (local.get $tag) (i32.const 0x08)) (i32.eq (local.get $tag) (i32.const 0x10))) (then
                (loop $byte
                  (if (i32.ge_u (local.get $p) (local.get $chunkEnd)) (then (return (i32.const -1))))
                  (local.set $c (i32.load8_u (local.get $p)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br_if $byte (i32.ge_u (local.get $c) (i32.const 0x80))))
                (if (i32.gt_u (i32.sub (local.get $p) (local.get $field)) (i32.const 11)) (then (return (i32.const -1))))
                (if (i32.eq (local.get $tag) (i32.const 0x08))
                  (then (local.set $minStart (local.get $field)) (local.set $minEnd (local.get $p)))
                  (else (local.set $maxStart (local.get $field)) (local.set $maxEnd (local.get $p))))
                (br $read)))
              (if (i32.eq (local.get $tag) (i32.const 0x18)) (then
                (local.set $n (call $varint (local.get $p) (local.get $chunkEnd)))
                (local.set $p (global.get $next))
                (local.set $type (select (i32.wrap_i64 (local.get $n)) (i32.const -1) (i64.lt_u (local.get $n) (i64.const 0x80000000))))
                (br $read)))
              (if (i32.eq (local.get $tag) (i32.const 0x22)) (then
                (local.set $dataLen (i32.const 0))
                (local.set $shift (i32.const 0))
                (loop $byte
                  (if (i32.or (i32.ge_u (local.get $p) (local.get $chunkEnd)) (i32.gt_u (local.get $shift) (i32.const 21)))
                    (then (return (i32.const -1))))
                  (local.set $c (i32.load8_u (local.get $p)))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (local.set $dataLen (i32.or (local.get $dataLen)
                    (i32.shl (i32.and (local.get $c) (i32.const 0x7f)) (local.get $shift))))
                  (local.set $shift (i32.add (local.get $shift) (i32.const 7)))
                  (br_if $byte (i32.ge_u (local.get $c) (i32.const 0x80))))
                (if (i32.gt_u (local.get $dataLen) (i32.sub (local.get $chunkEnd) (local.get $p)))
                  (then (return (i32.const -1))))
                (local.set $dataStart (local.get $p))
                (local.set $p (i32.add (local.get $p) (local.get $dataLen)))
                (br $read)))
              (local.set $p (call $skip (i32.and (local.get $tag) (i32.const 7)) (local.get $p) (local.get $chunkEnd))))
            (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))
            (br $chunkFields)))
        ;; XOR 1, Histogram 2, FloatHistogram 3: the encodings both protos share.
        (if (i32.gt_u (i32.sub (local.get $type) (i32.const 1)) (i32.const 2))
          (then (global.set $badType (local.get $type)) (return (i32.const -3))))
        (local.set $hash (call $xxh64 (local.get $dataStart) (local.get $dataLen)))
        (local.set $raw (i32.add
          (select (i32.const 0) (i32.const 2) (i32.eq (local.get $type) (i32.const 1)))
          (select
            (i32.add (i32.add (i32.const 1) (call $varintSize (i64.extend_i32_u (local.get $dataLen)))) (local.get $dataLen))
            (i32.const 0)
            (local.get $dataLen))))
        (if (i64.ne (local.get $hash) (i64.const 0))
          (then (local.set $raw (i32.add (local.get $raw) (i32.add (i32.const 1) (call $varintSize (local.get $hash)))))))
        (local.set $aggr (i32.add
          (i32.add (i32.sub (local.get $minEnd) (local.get $minStart)) (i32.sub (local.get $maxEnd) (local.get $maxStart)))
          (i32.add (i32.add (i32.const 1) (call $varintSize (i64.extend_i32_u (local.get $raw)))) (local.get $raw))))
        ;; 16 bytes of slack for the copies of the times and the data below, which write past their end.
        (if (i32.gt_u
              (i32.add (i32.add (i32.const 17) (call $varintSize (i64.extend_i32_u (local.get $aggr)))) (local.get $aggr))
              (i32.sub (local.get $limit) (local.get $out)))
          (then (return (i32.const -2))))
        (i32.store8 (local.get $out) (i32.const 0x12))
        (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (i64.extend_i32_u (local.get $aggr))))
        ;; Times are at most 11 bytes: two 8-byte copies each (not a memory.copy, a call per field), the
        ;; excess overwritten by what follows (the payload's room has slack for reading past its end).
        (i64.store (local.get $out) (i64.load (local.get $minStart)))
        (i64.store offset=8 (local.get $out) (i64.load offset=8 (local.get $minStart)))
        (local.set $out (i32.add (local.get $out) (i32.sub (local.get $minEnd) (local.get $minStart))))
        (i64.store (local.get $out) (i64.load (local.get $maxStart)))
        (i64.store offset=8 (local.get $out) (i64.load offset=8 (local.get $maxStart)))
        (local.set $out (i32.add (local.get $out) (i32.sub (local.get $maxEnd) (local.get $maxStart))))
        (i32.store8 (local.get $out) (i32.const 0x1a))
        (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (i64.extend_i32_u (local.get $raw))))
        (if (i32.ne (local.get $type) (i32.const 1))
          (then
            (i32.store8 (local.get $out) (i32.const 0x08))
            (i32.store8 offset=1 (local.get $out) (i32.sub (local.get $type) (i32.const 1)))
            (local.set $out (i32.add (local.get $out) (i32.const 2)))))
        (if (local.get $dataLen)
          (then
            (i32.store8 (local.get $out) (i32.const 0x12))
            (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (i64.extend_i32_u (local.get $dataLen))))
            ;; 16 bytes at a time (memory.copy is a call out of the module per chunk); the excess past the
            ;; data is overwritten by what follows, and the payload's room has slack for reading past its end.
            (local.set $c (i32.const 0))
            (loop $copy
              (v128.store (i32.add (local.get $out) (local.get $c)) (v128.load (i32.add (local.get $dataStart) (local.get $c))))
              (local.set $c (i32.add (local.get $c) (i32.const 16)))
              (br_if $copy (i32.lt_u (local.get $c) (local.get $dataLen))))
            (local.set $out (i32.add (local.get $out) (local.get $dataLen)))))
        (if (i64.ne (local.get $hash) (i64.const 0))
          (then
            (i32.store8 (local.get $out) (i32.const 0x18))
            (local.set $out (call $putVarint (i32.add (local.get $out) (i32.const 1)) (local.get $hash)))))
        (br $fields)))
    (local.get $out))
)
