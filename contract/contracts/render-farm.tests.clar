;; Rendezvous property tests and invariants for render-farm.clar.
;;
;; Rendezvous appends this file to render-farm.clar and deploys the result, so everything here can
;; read the contract's maps and variables and call its functions directly (a direct call keeps
;; contract-caller, and a public function returning err rolls back its own writes).
;;   invariant mode: rendezvous calls random public functions (the contract's own and the fuzz-*
;;                   drivers below, which pick meaningful job ids and keys) from the Devnet accounts,
;;                   mines random burn blocks (time passes), and checks every invariant-* function.
;;   test mode:      rendezvous calls the test-* functions; each performs one action and checks
;;                   what it must have changed. (ok false) discards a run whose preconditions did
;;                   not hold; (err uN) reports a violated property.
;; Run: python -m pytest tests/test_contract_rendezvous.py  (or: node contract/fuzz/run-rendezvous.mjs)

;; ---------------------------------------------------------------------------------------------
;; Fixtures
;; ---------------------------------------------------------------------------------------------

;; The accounts rendezvous calls from (settings/Devnet.toml, faucet excluded). Only they can be
;; providers or requesters, so sums over them are sums over the whole contract.
(define-constant FUZZ_ACCOUNTS (list
  'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM
  'ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5
  'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG
  'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC
  'ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND
  'ST2REHHS5J3CERCRBEPMGH7921Q6PYKAADT7JP2VB))

;; Their compressed public keys (register-provider checks the key against the caller).
(define-map fuzz-keys principal (buff 33))
(map-insert fuzz-keys 'ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM 0x0390a5cac7c33fda49f70bc1b0866fa0ba7a9440d9de647fecb8132ceb76a94dfa)
(map-insert fuzz-keys 'ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5 0x03cd2cfdbd2ad9332828a7a13ef62cb999e063421c708e863a7ffed71fb61c88c9)
(map-insert fuzz-keys 'ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG 0x021843d01fa0bb9a3495fd2caf92505a81055dbe1fd545880fd40c3a1c7fd9c40a)
(map-insert fuzz-keys 'ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC 0x02c4b5eacb71a27be633ed970dcbc41c00440364bc04ba38ae4683ac24e708bf33)
(map-insert fuzz-keys 'ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND 0x03b3e0a76b292b2c83fc0ac14ae6160d0438ebe94e14bbb5b7755153628886e08e)
(map-insert fuzz-keys 'ST2REHHS5J3CERCRBEPMGH7921Q6PYKAADT7JP2VB 0x039fa3c9b2c98acc46563707702ee633141b2c125b85649e11548a30233f97ed9f)

;; Job ids the job-level invariants scan; past this many jobs those checks only cover the first ones.
(define-constant JOB_SCAN (list
  u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 u11 u12 u13 u14 u15 u16 u17 u18 u19 u20 u21 u22 u23 u24 u25 u26
  u27 u28 u29 u30 u31 u32 u33 u34 u35 u36 u37 u38 u39 u40 u41 u42 u43 u44 u45 u46 u47 u48 u49 u50
  u51 u52 u53 u54 u55 u56 u57 u58 u59 u60 u61 u62 u63 u64 u65 u66 u67 u68 u69 u70 u71 u72 u73 u74
  u75 u76 u77 u78 u79 u80 u81 u82 u83 u84 u85 u86 u87 u88 u89 u90 u91 u92 u93 u94 u95 u96 u97 u98
  u99 u100 u101 u102 u103 u104 u105 u106 u107 u108 u109 u110 u111 u112 u113 u114 u115 u116 u117
  u118 u119 u120 u121 u122 u123 u124 u125 u126 u127 u128 u129 u130 u131 u132 u133 u134 u135 u136
  u137 u138 u139 u140 u141 u142 u143 u144 u145 u146 u147 u148 u149 u150 u151 u152 u153 u154 u155
  u156 u157 u158 u159 u160 u161 u162 u163 u164 u165 u166 u167 u168 u169 u170 u171 u172 u173 u174
  u175 u176 u177 u178 u179 u180 u181 u182 u183 u184 u185 u186 u187 u188 u189 u190 u191 u192 u193
  u194 u195 u196 u197 u198 u199 u200))
(define-constant JOB_SCAN_LIMIT u200)

;; Property failure codes (what a failing test returns).
(define-constant FAIL_BALANCE (err u9001))      ;; the contract's STX moved by the wrong amount
(define-constant FAIL_TOTALS (err u9002))       ;; a running total moved by the wrong amount
(define-constant FAIL_STATUS (err u9003))       ;; the job ended in the wrong status
(define-constant FAIL_REPUTATION (err u9004))   ;; reputation changed wrongly or left its bounds
(define-constant FAIL_PROVIDER (err u9005))     ;; the provider's counters are wrong
(define-constant FAIL_PAYMENT (err u9006))      ;; a party received the wrong amount
(define-constant FAIL_AUTHORIZATION (err u9007)) ;; a stranger changed a job
(define-constant FAIL_SECRET (err u9008))       ;; a wrong secret was accepted

;; ---------------------------------------------------------------------------------------------
;; Drivers: turn random numbers into meaningful calls (used by both modes)
;; ---------------------------------------------------------------------------------------------

(define-private (fuzz-account (index uint))
  (unwrap-panic (element-at? FUZZ_ACCOUNTS (mod index u6))))

;; The secret a fuzzed provider commits to for a job, recomputable at claim time.
(define-read-only (fuzz-secret (job-id uint))
  (sha256 (unwrap-panic (to-consensus-buff? job-id))))

;; The most recent of the last 16 jobs assigned to (or created by) `who` whose status is in `mask`
;; (bit n set = status n) and, when `live`, whose current deadline has not passed yet, so drivers
;; act on jobs they can still move rather than long-settled ones.
(define-constant SCAN_BACK (list u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 u11 u12 u13 u14 u15 u16))
(define-constant MASK_PENDING u1)
(define-constant MASK_IN_PROGRESS u2)
(define-constant MASK_SUBMITTED u4)
(define-constant MASK_APPROVED u8)
(define-constant MASK_CLAIMABLE u12)        ;; submitted or approved
(define-constant MASK_CANCELLABLE u97)      ;; pending, rejected, declined
(define-constant MASK_REASSIGNABLE u97)
(define-constant MASK_SETTLED_BY_REQUESTER u96) ;; rejected, declined

(define-private (latest-job (who principal) (as-provider bool) (mask uint) (live bool))
  (get found (fold scan-job SCAN_BACK { who: who, as-provider: as-provider, mask: mask, live: live,
    count: (if as-provider (get-provider-job-count who) (get-requester-job-count who)), found: none })))

(define-private (current-deadline (job { status: uint, accept-by: uint, render-by: uint,
    review-by: uint, reveal-by: uint }))
  (let ((status (get status job)))
    (if (is-eq status STATUS_PENDING) (get accept-by job)
      (if (is-eq status STATUS_IN_PROGRESS) (get render-by job)
        (if (is-eq status STATUS_SUBMITTED) (get review-by job)
          (if (is-eq status STATUS_APPROVED) (get reveal-by job) u0))))))

(define-private (scan-job (back uint) (acc { who: principal, as-provider: bool, mask: uint, live: bool,
    count: uint, found: (optional uint) }))
  (if (or (is-some (get found acc)) (> back (get count acc)))
      acc
      (let (
          (index (- (get count acc) back))
          (job-id (unwrap-panic (if (get as-provider acc)
            (map-get? provider-jobs { provider: (get who acc), index: index })
            (map-get? requester-jobs { requester: (get who acc), index: index }))))
          (job (unwrap-panic (map-get? jobs job-id)))
        )
        (if (and (> (bit-and (get mask acc) (pow u2 (get status job))) u0)
                 (or (not (get as-provider acc)) (is-eq (get provider job) (get who acc)))
                 (or (not (get live acc))
                     (<= stacks-block-time (current-deadline {
                       status: (get status job), accept-by: (get accept-by job),
                       render-by: (get render-by job), review-by: (get review-by job),
                       reveal-by: (get reveal-by job) }))))
            (merge acc { found: (some job-id) })
            acc))))

(define-private (some-job (n uint))
  (let ((last (- (var-get next-job-id) u1)))
    (if (is-eq last u0) none (some (+ u1 (mod n last))))))

(define-public (fuzz-register (gpus uint) (bond-extra uint))
  (register-provider (unwrap! (map-get? fuzz-keys contract-caller) (err u9999))
    (+ u1 (mod gpus u4)) u8192 u1000 u1 (+ MIN_BOND (mod bond-extra u100000000))))

;; The first account, in rotation from `start`, that would accept a job of `complexity` units paying
;; its price plus `extra`: { provider, reward } or none.
(define-private (pick-provider (start uint) (complexity uint) (extra uint))
  (get found (fold try-candidate (list u0 u1 u2 u3 u4 u5)
    { start: start, complexity: complexity, extra: extra, found: none })))

(define-private (try-candidate (i uint) (acc { start: uint, complexity: uint, extra: uint,
    found: (optional { provider: principal, reward: uint }) }))
  (if (is-some (get found acc))
      acc
      (let (
          (candidate (fuzz-account (+ (get start acc) i)))
          (price (default-to u0 (get price-per-unit (map-get? providers candidate))))
          (reward (+ (* (get complexity acc) price) (get extra acc)))
        )
        (if (is-ok (check-assignment candidate contract-caller reward (get complexity acc) u0))
            (merge acc { found: (some { provider: candidate, reward: reward }) })
            acc))))

(define-public (fuzz-create-job (provider-index uint) (reward uint) (duration uint))
  (let ((pick (unwrap! (pick-provider provider-index u100 (+ u1 (mod reward u10000000))) (err u9999))))
    (create-job (get provider pick) (get reward pick) u100 (+ u86400 (mod duration u518400)) u0
      (sha256 reward) u1 u24 "http://127.0.0.1:8700")))

(define-private (fuzz-chunk (i uint) (acc { provider: principal, reward: uint, chunks: (list 50 {
      provider: principal, reward: uint, complexity: uint, estimated-duration: uint,
      scene-hash: (buff 32), frame-start: uint, frame-end: uint }) }))
  (merge acc { chunks: (unwrap-panic (as-max-len? (append (get chunks acc) {
    provider: (get provider acc), reward: (get reward acc), complexity: u100,
    estimated-duration: u86400, scene-hash: (sha256 i), frame-start: (* i u10), frame-end: (+ (* i u10) u9),
  }) u50)) }))

;; 1..4 chunks (at most the free GPU slots) for one provider picked as in fuzz-create-job.
(define-public (fuzz-create-jobs (provider-index uint) (count uint) (reward uint))
  (let (
      (pick (unwrap! (pick-provider provider-index u100 (+ u1 (mod reward u10000000))) (err u9999)))
      (p (unwrap-panic (map-get? providers (get provider pick))))
      (free (- (get gpu-count p) (get active-jobs p)))
      (n (+ u1 (mod count (if (< free u4) free u4))))
    )
    (create-jobs
      (get chunks (fold fuzz-chunk (unwrap-panic (slice? (list u0 u1 u2 u3) u0 n))
        { provider: (get provider pick), reward: (get reward pick), chunks: (list) }))
      u0 "http://127.0.0.1:8700")))

;; Each driver acts on the caller's latest job in the right status and returns its id.
(define-public (fuzz-start)
  (let ((job-id (unwrap! (latest-job contract-caller true MASK_PENDING true) (err u9999))))
    (try! (start-job job-id))
    (ok job-id)))

(define-public (fuzz-decline)
  (let ((job-id (unwrap! (latest-job contract-caller true MASK_PENDING true) (err u9999))))
    (try! (decline-job job-id))
    (ok job-id)))

(define-public (fuzz-submit)
  (let ((job-id (unwrap! (latest-job contract-caller true MASK_IN_PROGRESS true) (err u9999))))
    (try! (submit-result job-id (sha256 job-id) (sha256 (fuzz-secret job-id))))
    (ok job-id)))

(define-public (fuzz-claim)
  (let ((job-id (unwrap! (latest-job contract-caller true MASK_CLAIMABLE false) (err u9999))))
    (try! (claim job-id (fuzz-secret job-id)))
    (ok job-id)))

(define-public (fuzz-approve)
  (let ((job-id (unwrap! (latest-job contract-caller false MASK_SUBMITTED true) (err u9999))))
    (try! (approve-result job-id))
    (ok job-id)))

(define-public (fuzz-reject)
  (let ((job-id (unwrap! (latest-job contract-caller false MASK_SUBMITTED true) (err u9999))))
    (try! (reject-result job-id))
    (ok job-id)))

;; Pending jobs only one time in four, so most jobs get a chance to run.
(define-public (fuzz-cancel (choice uint))
  (let ((job-id (unwrap! (latest-job contract-caller false
                   (if (is-eq (mod choice u4) u0) MASK_CANCELLABLE MASK_SETTLED_BY_REQUESTER) false)
                 (err u9999))))
    (try! (cancel-job job-id))
    (ok job-id)))

(define-public (fuzz-reassign (provider-index uint))
  (let ((job-id (unwrap! (latest-job contract-caller false MASK_REASSIGNABLE false) (err u9999))))
    (try! (reassign-job job-id (fuzz-account provider-index) (sha256 provider-index)))
    (ok job-id)))

;; Move the caller's most recent live job one step, whichever side of it the caller is on:
;; approve (or, one time in four, reject) a submitted result, claim an approved one, submit a
;; rendering one, start a pending one.
(define-public (fuzz-progress (choice uint))
  (let ((me contract-caller))
    (match (latest-job me false MASK_SUBMITTED true)
      job-id (begin
        (try! (if (is-eq (mod choice u4) u0) (reject-result job-id) (approve-result job-id)))
        (ok job-id))
      (match (latest-job me true MASK_APPROVED true)
        job-id (begin (try! (claim job-id (fuzz-secret job-id))) (ok job-id))
        (match (latest-job me true MASK_IN_PROGRESS true)
          job-id (begin
            (try! (submit-result job-id (sha256 job-id) (sha256 (fuzz-secret job-id))))
            (ok job-id))
          (match (latest-job me true MASK_PENDING true)
            job-id (begin (try! (start-job job-id)) (ok job-id))
            (err u9999)))))))

(define-public (fuzz-expire (n uint))
  (expire-job (unwrap! (some-job n) (err u9999))))

(define-public (fuzz-withdraw-all)
  (withdraw (get-earnings contract-caller)))

;; ---------------------------------------------------------------------------------------------
;; Invariants
;; ---------------------------------------------------------------------------------------------

;; The contract holds exactly what it owes.
(define-read-only (invariant-conservation)
  (let ((totals (get-totals)))
    (is-eq (get balance totals) (+ (get escrow totals) (get earnings totals) (get bonds totals)))))

;; Every reputation stays within [MIN_REPUTATION, MAX_REPUTATION], every success rate within 0..100.
(define-read-only (invariant-reputation-bounds)
  (fold check-reputation FUZZ_ACCOUNTS true))

(define-private (check-reputation (who principal) (ok-so-far bool))
  (and ok-so-far
       (match (map-get? providers who)
         p (and (>= (get reputation p) MIN_REPUTATION) (<= (get reputation p) MAX_REPUTATION))
         true)
       (<= (get-success-rate who) u100)))

;; Each provider record is self-consistent.
(define-read-only (invariant-provider-records)
  (fold check-provider FUZZ_ACCOUNTS true))

(define-private (check-provider (who principal) (ok-so-far bool))
  (and ok-so-far
       (match (map-get? providers who)
         p (and (<= (get bond-reserved p) (get bond p))
                (<= (get active-jobs p) (get open-jobs p))
                (is-eq (get total-jobs p)
                       (+ (get successful-jobs p) (get rejected-jobs p) (get expired-jobs p)))
                (or (get registered p)
                    (and (is-eq (get bond p) u0) (is-eq (get open-jobs p) u0)
                         (not (get available p)))))
         true)))

;; The running totals equal the sums they summarise: bonds and earnings over all accounts, the
;; registered-provider count, and (while at most JOB_SCAN_LIMIT jobs exist) escrow, open jobs,
;; busy GPU slots and reserved compensation over all jobs.
(define-read-only (invariant-totals-match-records)
  (let (
      (accounts (fold sum-account FUZZ_ACCOUNTS
        { bonds: u0, earnings: u0, registered: u0, reserved: u0, open: u0, active: u0 }))
      (scanned (fold sum-job JOB_SCAN { escrow: u0, reserved: u0, open: u0, active: u0 }))
    )
    (and (is-eq (get bonds accounts) (var-get bond-total))
         (is-eq (get earnings accounts) (var-get earnings-total))
         (is-eq (get registered accounts) (var-get provider-count))
         (or (> (var-get next-job-id) (+ JOB_SCAN_LIMIT u1))
             (and (is-eq (get escrow scanned) (var-get escrow-total))
                  (is-eq (get reserved scanned) (get reserved accounts))
                  (is-eq (get open scanned) (get open accounts))
                  (is-eq (get active scanned) (get active accounts)))))))

(define-private (sum-account (who principal)
    (acc { bonds: uint, earnings: uint, registered: uint, reserved: uint, open: uint, active: uint }))
  (let ((p (map-get? providers who)))
    {
      bonds: (+ (get bonds acc) (default-to u0 (get bond p))),
      earnings: (+ (get earnings acc) (get-earnings who)),
      registered: (+ (get registered acc) (if (default-to false (get registered p)) u1 u0)),
      reserved: (+ (get reserved acc) (default-to u0 (get bond-reserved p))),
      open: (+ (get open acc) (default-to u0 (get open-jobs p))),
      active: (+ (get active acc) (default-to u0 (get active-jobs p))),
    }))

(define-private (sum-job (job-id uint) (acc { escrow: uint, reserved: uint, open: uint, active: uint }))
  (match (map-get? jobs job-id)
    job (let (
        (status (get status job))
        (holds-escrow (< status STATUS_EXPIRED))           ;; not expired/cancelled/completed
        (assigned (<= status STATUS_APPROVED))            ;; pending .. approved
        (busy (<= status STATUS_IN_PROGRESS))             ;; pending or in progress
      )
      {
        escrow: (+ (get escrow acc) (if (and holds-escrow (not (is-eq status STATUS_COMPLETED)))
                                        (get reward job) u0)),
        reserved: (+ (get reserved acc) (if assigned (get compensation job) u0)),
        open: (+ (get open acc) (if assigned u1 u0)),
        active: (+ (get active acc) (if busy u1 u0)),
      })
    acc))

;; The provider index holds exactly the accounts that have a record, each once, at indices
;; 0..provider-index-count-1 (FUZZ_ACCOUNTS are six, so the first six offsets of PAGE cover it).
(define-read-only (invariant-provider-index)
  (let ((recorded (fold count-recorded FUZZ_ACCOUNTS u0)))
    (and (is-eq (var-get provider-index-count) recorded)
         (>= recorded (var-get provider-count))
         (is-none (map-get? provider-by-index recorded))
         (get ok (fold check-index-entry PAGE { ok: true, seen: (list) })))))

(define-private (count-recorded (who principal) (n uint))
  (if (is-some (map-get? providers who)) (+ n u1) n))

(define-private (check-index-entry (i uint) (acc { ok: bool, seen: (list 6 principal) }))
  (if (>= i (var-get provider-index-count))
      acc
      (match (map-get? provider-by-index i)
        who (if (or (is-some (index-of? (get seen acc) who)) (is-none (map-get? providers who)))
                { ok: false, seen: (get seen acc) }
                { ok: (get ok acc),
                  seen: (default-to (get seen acc) (as-max-len? (append (get seen acc) who) u6)) })
        { ok: false, seen: (get seen acc) })))

;; Jobs only finish once: completed + cancelled never exceed created.
(define-read-only (invariant-job-counters)
  (<= (+ (var-get jobs-completed) (var-get jobs-cancelled)) (var-get jobs-created)))

;; ---------------------------------------------------------------------------------------------
;; Property tests
;; ---------------------------------------------------------------------------------------------

(define-private (balance-of (who principal)) (stx-get-balance who))
(define-private (contract-balance) (stx-get-balance current-contract))

;; Registering locks exactly the bond and starts (or keeps) a bounded reputation.
(define-public (test-register-provider (gpus uint) (bond-extra uint))
  (let (
      (before (contract-balance))
      (bonds-before (var-get bond-total))
      (previous (map-get? providers contract-caller))
    )
    (match (fuzz-register gpus bond-extra)
      done (let ((p (unwrap-panic (map-get? providers contract-caller))))
        (asserts! (is-eq (- (contract-balance) before) (get bond p)) FAIL_BALANCE)
        (asserts! (is-eq (- (var-get bond-total) bonds-before) (get bond p)) FAIL_TOTALS)
        (asserts! (is-eq (get reputation p)
                         (match previous old (get reputation old) INITIAL_REPUTATION)) FAIL_REPUTATION)
        (asserts! (and (get registered p) (is-eq (get open-jobs p) u0)) FAIL_PROVIDER)
        (ok true))
      failed (ok false))))

;; Creating a job escrows exactly its reward and reserves the provider's compensation.
(define-public (test-create-job-escrows (provider-index uint) (reward uint) (duration uint))
  (let (
      ;; the same pick fuzz-create-job will make, to snapshot that provider first
      (provider (get provider (unwrap! (pick-provider provider-index u100 (+ u1 (mod reward u10000000)))
                                       (ok false))))
      (before (contract-balance))
      (escrow-before (var-get escrow-total))
      (p-before (map-get? providers provider))
    )
    (match (fuzz-create-job provider-index reward duration)
      job-id (let (
          (job (unwrap-panic (map-get? jobs job-id)))
          (p (unwrap-panic (map-get? providers provider)))
          (old (unwrap-panic p-before))
        )
        (asserts! (is-eq (- (contract-balance) before) (get reward job)) FAIL_BALANCE)
        (asserts! (is-eq (- (var-get escrow-total) escrow-before) (get reward job)) FAIL_TOTALS)
        (asserts! (and (is-eq (get status job) STATUS_PENDING) (is-eq (get provider job) provider)
                       (is-eq (get accept-by job) (+ (get created-at job) ACCEPT_WINDOW))) FAIL_STATUS)
        (asserts! (and (is-eq (get active-jobs p) (+ (get active-jobs old) u1))
                       (<= (get active-jobs p) (get gpu-count p))
                       (is-eq (get bond-reserved p) (+ (get bond-reserved old) (get compensation job)))
                       (>= (get reputation p) (get min-reputation job))) FAIL_PROVIDER)
        (ok true))
      failed (ok false))))

;; A batch escrows the sum of its rewards and creates consecutive job ids.
(define-public (test-create-jobs-batch (provider-index uint) (count uint) (reward uint))
  (let (
      (before (contract-balance))
      (first (var-get next-job-id))
    )
    (match (fuzz-create-jobs provider-index count reward)
      batch (begin
        (asserts! (is-eq (- (contract-balance) before) (get total-reward batch)) FAIL_BALANCE)
        (asserts! (and (is-eq (get first-job-id batch) first)
                       (is-eq (var-get next-job-id) (+ first (get job-count batch)))) FAIL_TOTALS)
        (ok true))
      failed (ok false))))

;; Starting moves no money and sets a render deadline of twice the estimate.
(define-public (test-start-job)
  (let ((before (contract-balance)))
    (match (fuzz-start)
      job-id (let ((job (unwrap-panic (map-get? jobs job-id))))
        (asserts! (is-eq (contract-balance) before) FAIL_BALANCE)
        (asserts! (and (is-eq (get status job) STATUS_IN_PROGRESS)
                       (is-eq (get render-by job)
                              (+ (get started-at job) (* RENDER_TIME_FACTOR (get estimated-duration job)))))
                  FAIL_STATUS)
        (ok true))
      failed (ok false))))

;; Submitting frees the GPU slot, keeps the job open and opens the review window.
(define-public (test-submit-result)
  (let (
      (who contract-caller)
      (before (unwrap! (map-get? providers who) (ok false)))
    )
    (match (fuzz-submit)
      job-id (let (
          (job (unwrap-panic (map-get? jobs job-id)))
          (after (unwrap-panic (map-get? providers who)))
        )
        (asserts! (and (is-eq (get active-jobs after) (- (get active-jobs before) u1))
                       (is-eq (get open-jobs after) (get open-jobs before))) FAIL_PROVIDER)
        (asserts! (and (is-eq (get status job) STATUS_SUBMITTED)
                       (is-eq (get review-by job) (+ (get submitted-at job) REVIEW_WINDOW))
                       (is-eq (get reveal-by job) (+ (get review-by job) REVEAL_WINDOW))) FAIL_STATUS)
        (ok true))
      failed (ok false))))

;; A claim with any secret other than the committed one fails and changes nothing.
(define-public (test-claim-wrong-secret (secret (buff 32)))
  (match (latest-job contract-caller true MASK_CLAIMABLE false)
    job-id (let ((job (unwrap-panic (map-get? jobs job-id))))
      (if (is-eq (some (sha256 secret)) (get commitment job))
          (ok false)
          (let (
              (result (claim job-id secret))
              (in-window (and (or (is-eq (get status job) STATUS_APPROVED)
                                  (> stacks-block-time (get review-by job)))
                              (<= stacks-block-time (get reveal-by job))))
            )
            (asserts! (is-err result) FAIL_SECRET)
            (asserts! (or (not in-window) (is-eq result ERR_SECRET_MISMATCH)) FAIL_SECRET)
            (asserts! (is-eq (map-get? jobs job-id) (some job)) FAIL_STATUS)
            (ok true))))
    (ok false)))

;; The right secret credits exactly the reward, moves no STX, raises reputation by 10 (capped),
;; and publishes the secret.
(define-public (test-claim-credits-reward)
  (let (
      (who contract-caller)
      (before (contract-balance))
      (earned-before (get-earnings who))
      (escrow-before (var-get escrow-total))
      (rep-before (default-to u0 (get-reputation who)))
    )
    (match (fuzz-claim)
      job-id (let ((job (unwrap-panic (map-get? jobs job-id))))
        (asserts! (is-eq (contract-balance) before) FAIL_BALANCE)
        (asserts! (is-eq (get-earnings who) (+ earned-before (get reward job))) FAIL_PAYMENT)
        (asserts! (is-eq (var-get escrow-total) (- escrow-before (get reward job))) FAIL_TOTALS)
        (asserts! (is-eq (default-to u0 (get-reputation who))
                         (min-of MAX_REPUTATION (+ rep-before SUCCESS_REPUTATION_GAIN))) FAIL_REPUTATION)
        (asserts! (and (is-eq (get status job) STATUS_COMPLETED)
                       (is-eq (get secret job) (some (fuzz-secret job-id)))) FAIL_STATUS)
        (ok true))
      failed (ok false))))

;; Withdrawing pays the caller exactly the amount out of its earnings.
(define-public (test-withdraw (amount uint))
  (let (
      (who contract-caller)
      (available (get-earnings who))
      (wanted (if (is-eq available u0) u0 (+ u1 (mod amount available))))
      (before (contract-balance))
      (mine-before (balance-of who))
    )
    (if (is-eq wanted u0)
        (ok false)
        (begin
          (try! (withdraw wanted))
          (asserts! (is-eq (- before (contract-balance)) wanted) FAIL_BALANCE)
          (asserts! (is-eq (- (balance-of who) mine-before) wanted) FAIL_PAYMENT)
          (asserts! (is-eq (get-earnings who) (- available wanted)) FAIL_TOTALS)
          (ok true)))))

;; Expiry refunds the requester reward + compensation and lowers the provider's reputation.
(define-public (test-expire-refunds (n uint))
  (match (some-job n)
    job-id (let (
        (job (unwrap-panic (map-get? jobs job-id)))
        (requester (get requester job))
        (provider (get provider job))
        (requester-before (balance-of requester))
        (rep-before (default-to u0 (get-reputation provider)))
        (bond-before (default-to u0 (get bond (map-get? providers provider))))
      )
      (match (expire-job job-id)
        done (begin
          (asserts! (is-eq (- (balance-of requester) requester-before)
                           (+ (get reward job) (get compensation job))) FAIL_PAYMENT)
          (asserts! (is-eq (default-to u0 (get-reputation provider))
                           (lower rep-before EXPIRY_REPUTATION_LOSS)) FAIL_REPUTATION)
          (asserts! (is-eq (default-to u0 (get bond (map-get? providers provider)))
                           (- bond-before (get compensation job))) FAIL_PROVIDER)
          (asserts! (is-eq (get status (unwrap-panic (map-get? jobs job-id))) STATUS_EXPIRED) FAIL_STATUS)
          (ok true))
        failed (ok false)))
    (ok false)))

;; Cancelling refunds exactly the reward to the requester.
(define-public (test-cancel-refunds (choice uint))
  (let ((who contract-caller) (mine-before (balance-of contract-caller)))
    (match (fuzz-cancel choice)
      job-id (begin
        (asserts! (is-eq (- (balance-of who) mine-before)
                         (get reward (unwrap-panic (map-get? jobs job-id)))) FAIL_PAYMENT)
        (asserts! (is-eq (get status (unwrap-panic (map-get? jobs job-id))) STATUS_CANCELLED) FAIL_STATUS)
        (ok true))
      failed (ok false))))

;; Rejecting costs the provider 20 reputation and counts on the requester; the escrow stays.
(define-public (test-reject-result)
  (let ((who contract-caller))
    (match (latest-job who false MASK_SUBMITTED true)
      job-id (let (
          (provider (get provider (unwrap-panic (map-get? jobs job-id))))
          (rep-before (default-to u0 (get-reputation provider)))
          (rejections-before (get rejections (get-requester-stats who)))
          (escrow-before (var-get escrow-total))
        )
        (match (reject-result job-id)
          done (begin
            (asserts! (is-eq (default-to u0 (get-reputation provider))
                             (lower rep-before REJECTION_REPUTATION_LOSS)) FAIL_REPUTATION)
            (asserts! (is-eq (get rejections (get-requester-stats who)) (+ rejections-before u1)) FAIL_TOTALS)
            (asserts! (is-eq (var-get escrow-total) escrow-before) FAIL_TOTALS)
            (asserts! (is-eq (get status (unwrap-panic (map-get? jobs job-id))) STATUS_REJECTED) FAIL_STATUS)
            (ok true))
          failed (ok false)))
      (ok false))))

;; Reassigning keeps the escrow and moves the job to the new provider's list as pending.
(define-public (test-reassign (provider-index uint))
  (let ((escrow-before (var-get escrow-total)))
    (match (fuzz-reassign provider-index)
      job-id (let ((job (unwrap-panic (map-get? jobs job-id))))
        (asserts! (is-eq (var-get escrow-total) escrow-before) FAIL_TOTALS)
        (asserts! (and (is-eq (get status job) STATUS_PENDING) (is-none (get commitment job))
                       (is-eq (get provider job) (fuzz-account provider-index))) FAIL_STATUS)
        (ok true))
      failed (ok false))))

;; Someone who is neither the requester nor the provider can change nothing about a job.
(define-public (test-strangers-cannot-act (n uint) (secret (buff 32)))
  (match (some-job n)
    job-id (let ((job (unwrap-panic (map-get? jobs job-id))))
      (if (or (is-eq contract-caller (get requester job)) (is-eq contract-caller (get provider job)))
          (ok false)
          (begin
            (asserts! (and (is-err (start-job job-id)) (is-err (decline-job job-id))
                           (is-err (submit-result job-id secret secret))
                           (is-err (approve-result job-id)) (is-err (reject-result job-id))
                           (is-err (claim job-id secret)) (is-err (cancel-job job-id))
                           (is-err (reassign-job job-id contract-caller secret)))
                      FAIL_AUTHORIZATION)
            (asserts! (is-eq (map-get? jobs job-id) (some job)) FAIL_AUTHORIZATION)
            (ok true))))
    (ok false)))

;; Approval and declines in test mode; both keep the books balanced.
(define-public (test-approve-or-decline (approve bool))
  (let ((result (if approve (fuzz-approve) (fuzz-decline))))
    (asserts! (invariant-conservation) FAIL_BALANCE)
    (ok (is-ok result))))
