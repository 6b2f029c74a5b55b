;; title: render-farm
;; summary: A trustless market for Blender render jobs paid in STX.
;; description:
;;   Requesters escrow each chunk's reward when they create it and name the provider that renders it.
;;   Providers register with their public key, resources, price and a bond. Every step has a deadline
;;   measured in `stacks-block-time` seconds; anyone may expire a job whose deadline passed, which
;;   refunds the requester and pays part of the provider's bond to them. The provider is paid only by
;;   revealing the secret `r` whose hash it committed with the result, and `r` is what the requester
;;   needs to decrypt the frames: payment and delivery happen in the same transaction (see
;;   docs/contract.md). Nobody administers this contract: there is no owner and no fee.
;;
;;   Conservation (checked by the property tests): the contract's STX balance always equals
;;   escrow-total + earnings-total + bond-total (see `get-totals`).

;; ---------------------------------------------------------------------------------------------
;; Constants
;; ---------------------------------------------------------------------------------------------

;; Reputation: every provider starts at 100, gains 10 per completed job, loses on failures, and
;; always stays within [MIN_REPUTATION, MAX_REPUTATION].
(define-constant INITIAL_REPUTATION u100)
(define-constant MIN_REPUTATION u0)
(define-constant MAX_REPUTATION u1000)
(define-constant SUCCESS_REPUTATION_GAIN u10)
(define-constant REJECTION_REPUTATION_LOSS u20)
(define-constant EXPIRY_REPUTATION_LOSS u50)

;; Bond: micro-STX a provider locks to register (10 STX). While a job is assigned, COMPENSATION_PERCENT
;; of its reward is reserved out of the bond and paid to the requester if the provider lets it expire.
(define-constant MIN_BOND u10000000)
(define-constant COMPENSATION_PERCENT u20)

;; Resource bounds checked at registration and update.
(define-constant MAX_GPU_COUNT u64)

;; Deadlines, in seconds of `stacks-block-time`.
(define-constant ACCEPT_WINDOW u3600)      ;; an assigned job must be started within 1 hour
(define-constant RENDER_TIME_FACTOR u2)    ;; render deadline = start + 2 x estimated duration
(define-constant MIN_DURATION u60)         ;; estimated duration of a chunk: at least 1 minute
(define-constant MAX_DURATION u604800)     ;; ... and at most 7 days
(define-constant REVIEW_WINDOW u86400)     ;; the requester approves or rejects within 24 hours
(define-constant REVEAL_WINDOW u86400)     ;; the provider reveals r within 24 hours after approval

;; Most chunks one `create-jobs` call takes (the list type's bound).
(define-constant MAX_BATCH u100)

;; Job status codes.
(define-constant STATUS_PENDING u0)      ;; assigned, waiting for the provider to start
(define-constant STATUS_IN_PROGRESS u1)  ;; the provider is rendering
(define-constant STATUS_SUBMITTED u2)    ;; result and commitment submitted, under review
(define-constant STATUS_APPROVED u3)     ;; the requester approved, waiting for the reveal
(define-constant STATUS_COMPLETED u4)    ;; r revealed, reward credited to the provider (final)
(define-constant STATUS_REJECTED u5)     ;; the requester rejected: reassign or cancel
(define-constant STATUS_DECLINED u6)     ;; the provider declined before starting: reassign or cancel
(define-constant STATUS_EXPIRED u7)      ;; a deadline passed: refunded and compensated (final)
(define-constant STATUS_CANCELLED u8)    ;; the requester cancelled before start: refunded (final)

;; How a provider's part in a job ended (drives its reputation and counters).
(define-constant OUTCOME_RELEASED u0)    ;; cancelled or declined: no effect on the record
(define-constant OUTCOME_SUCCESS u1)
(define-constant OUTCOME_REJECTED u2)
(define-constant OUTCOME_EXPIRED u3)

;; Offsets 0..49 used to page through job-id lists; also the most providers `get-providers` reads.
(define-constant PAGE_SIZE u50)
(define-constant PAGE (list u0 u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 u11 u12 u13 u14 u15 u16 u17 u18 u19
  u20 u21 u22 u23 u24 u25 u26 u27 u28 u29 u30 u31 u32 u33 u34 u35 u36 u37 u38 u39
  u40 u41 u42 u43 u44 u45 u46 u47 u48 u49))

;; ---------------------------------------------------------------------------------------------
;; Errors
;; ---------------------------------------------------------------------------------------------

;; Providers
(define-constant ERR_ALREADY_REGISTERED (err u100))   ;; the caller is already a registered provider
(define-constant ERR_NOT_REGISTERED (err u101))       ;; the caller is not a registered provider
(define-constant ERR_INVALID_PUBLIC_KEY (err u102))   ;; the buffer is not a valid compressed secp256k1 key
(define-constant ERR_PUBLIC_KEY_MISMATCH (err u103))  ;; the public key is not the caller's
(define-constant ERR_INVALID_GPU_COUNT (err u104))    ;; gpu-count must be 1..64
(define-constant ERR_INVALID_GPU_MEMORY (err u105))   ;; gpu-memory (MiB) must be > 0
(define-constant ERR_INVALID_BENCHMARK (err u106))    ;; benchmark-score must be > 0
(define-constant ERR_BOND_TOO_LOW (err u107))         ;; the bond must be at least MIN_BOND
(define-constant ERR_BOND_LOCKED (err u108))          ;; the withdrawal would leave less than max(MIN_BOND, reserved)
(define-constant ERR_HAS_OPEN_JOBS (err u109))        ;; deregistering needs every assigned job settled
(define-constant ERR_INVALID_AMOUNT (err u110))       ;; the amount must be > 0

;; Assignment and job creation
(define-constant ERR_PROVIDER_NOT_FOUND (err u120))   ;; the named provider is not registered
(define-constant ERR_PROVIDER_UNAVAILABLE (err u121)) ;; the named provider switched availability off
(define-constant ERR_REPUTATION_TOO_LOW (err u122))   ;; the provider's reputation is below the job's minimum
(define-constant ERR_PROVIDER_AT_CAPACITY (err u123)) ;; the provider already holds gpu-count unfinished jobs
(define-constant ERR_INSUFFICIENT_BOND (err u124))    ;; the provider's free bond cannot cover the compensation
(define-constant ERR_SELF_ASSIGNMENT (err u125))      ;; a requester cannot assign a job to itself
(define-constant ERR_INVALID_REWARD (err u126))       ;; the reward must be > 0
(define-constant ERR_REWARD_BELOW_PRICE (err u127))   ;; reward < complexity x the provider's price per unit
(define-constant ERR_INVALID_COMPLEXITY (err u128))   ;; complexity must be > 0
(define-constant ERR_INVALID_DURATION (err u129))     ;; estimated duration outside [MIN_DURATION, MAX_DURATION]
(define-constant ERR_INVALID_MIN_REPUTATION (err u130)) ;; min-reputation above MAX_REPUTATION
(define-constant ERR_INVALID_FRAME_RANGE (err u131))  ;; frame-start must be <= frame-end
(define-constant ERR_EMPTY_BATCH (err u132))          ;; create-jobs needs at least one chunk
(define-constant ERR_INSUFFICIENT_FUNDS (err u133))   ;; the requester's balance cannot cover the rewards

;; Job lifecycle
(define-constant ERR_JOB_NOT_FOUND (err u140))        ;; no job with this id
(define-constant ERR_NOT_REQUESTER (err u141))        ;; only the job's requester may do this
(define-constant ERR_NOT_PROVIDER (err u142))         ;; only the job's assigned provider may do this
(define-constant ERR_NOT_PENDING (err u143))          ;; start/decline need a job waiting to be started
(define-constant ERR_NOT_IN_PROGRESS (err u144))      ;; submit needs a job being rendered
(define-constant ERR_NOT_SUBMITTED (err u145))        ;; approve/reject need a submitted result
(define-constant ERR_NOT_CLAIMABLE (err u146))        ;; claim needs an approved (or silently approved) result
(define-constant ERR_NOT_CANCELLABLE (err u147))      ;; only pending, rejected or declined jobs can be cancelled
(define-constant ERR_NOT_REASSIGNABLE (err u148))     ;; only rejected, declined or no-show jobs can be reassigned
(define-constant ERR_NOT_EXPIRABLE (err u149))        ;; the job is in a state without a deadline
(define-constant ERR_DEADLINE_NOT_REACHED (err u150)) ;; expire called before the job's deadline
(define-constant ERR_ACCEPT_WINDOW_CLOSED (err u151)) ;; start/decline after accept-by
(define-constant ERR_ACCEPT_WINDOW_OPEN (err u152))   ;; reassigning a pending job before accept-by
(define-constant ERR_RENDER_DEADLINE_PASSED (err u153)) ;; submit after render-by
(define-constant ERR_REVIEW_WINDOW_CLOSED (err u154)) ;; approve/reject after review-by
(define-constant ERR_REVIEW_WINDOW_OPEN (err u155))   ;; claim of an unapproved result before review-by
(define-constant ERR_REVEAL_WINDOW_CLOSED (err u156)) ;; claim after reveal-by
(define-constant ERR_SECRET_MISMATCH (err u157))      ;; sha256(secret) differs from the commitment

;; Earnings and transfers
(define-constant ERR_INSUFFICIENT_EARNINGS (err u170)) ;; withdrawal larger than the caller's earnings
(define-constant ERR_TRANSFER_FAILED (err u171))      ;; STX into the contract failed (caller must be tx-sender)
(define-constant ERR_PAYOUT_FAILED (err u172))        ;; STX out of the contract failed (never expected)

;; ---------------------------------------------------------------------------------------------
;; Data
;; ---------------------------------------------------------------------------------------------

;; Running totals of what the contract owes; their sum equals its STX balance.
(define-data-var escrow-total uint u0)    ;; rewards of jobs not yet completed, cancelled or expired
(define-data-var earnings-total uint u0)  ;; credited earnings not yet withdrawn
(define-data-var bond-total uint u0)      ;; bonds of all providers

;; Platform statistics.
(define-data-var next-job-id uint u1)
(define-data-var next-batch-id uint u1)
(define-data-var provider-count uint u0)  ;; currently registered providers
(define-data-var provider-index-count uint u0)  ;; principals that ever registered: provider-by-index's length
(define-data-var jobs-created uint u0)
(define-data-var jobs-completed uint u0)
(define-data-var jobs-rejected uint u0)
(define-data-var jobs-expired uint u0)
(define-data-var jobs-cancelled uint u0)
(define-data-var jobs-declined uint u0)
(define-data-var total-volume uint u0)    ;; rewards paid to providers for completed jobs

;; A provider's record survives deregistration so reputation cannot be reset by re-registering.
(define-map providers principal {
  public-key: (buff 33),
  gpu-count: uint,
  gpu-memory: uint,          ;; MiB per GPU
  benchmark-score: uint,     ;; reference-seconds of work per second (higher is faster)
  price-per-unit: uint,      ;; micro-STX per complexity unit
  reputation: uint,
  available: bool,
  registered: bool,
  bond: uint,
  bond-reserved: uint,       ;; compensation reserved for unfinished jobs
  active-jobs: uint,         ;; pending or rendering (bounded by gpu-count)
  open-jobs: uint,           ;; assigned and not yet settled (includes submitted/approved)
  total-jobs: uint,          ;; settled jobs: completed + rejected + expired
  successful-jobs: uint,
  rejected-jobs: uint,
  expired-jobs: uint,
  total-earned: uint,
  registered-at: uint,
})

;; Every principal that ever registered, at 0..provider-index-count-1 in order of first registration,
;; so clients can list the market without an indexer. Appended once per principal: re-registering
;; after deregistering keeps the old index (the record it points to says whether it is registered).
(define-map provider-by-index uint principal)

;; Earnings ledger: credited by `claim`, paid out by `withdraw`.
(define-map earnings principal uint)

;; One `create-jobs` call (or `create-job`) is a batch sharing a requester and a relay.
(define-map batches uint {
  requester: principal,
  relay-url: (string-ascii 256),
  first-job-id: uint,
  job-count: uint,
  created-at: uint,
})

(define-map jobs uint {
  requester: principal,
  provider: principal,
  batch-id: uint,
  status: uint,
  reward: uint,               ;; micro-STX held in escrow
  complexity: uint,           ;; complexity units (reference-seconds)
  estimated-duration: uint,   ;; seconds
  min-reputation: uint,
  scene-hash: (buff 32),      ;; sha256 of the encrypted scene manifest for this provider
  frame-start: uint,
  frame-end: uint,
  compensation: uint,         ;; reserved from the provider's bond while assigned
  attempts: uint,             ;; number of providers assigned so far
  created-at: uint,
  assigned-at: uint,
  accept-by: uint,
  started-at: uint,
  render-by: uint,
  submitted-at: uint,
  review-by: uint,
  reveal-by: uint,
  finished-at: uint,
  result-hash: (optional (buff 32)),
  commitment: (optional (buff 32)),  ;; sha256(r)
  secret: (optional (buff 32)),      ;; r, revealed by claim
})

;; Public per-requester record so providers can avoid abusive requesters.
(define-map requesters principal {
  jobs: uint,
  completed: uint,
  rejections: uint,
  cancellations: uint,
  expirations: uint,
  paid: uint,
})

;; Job-id lists, paged: index 0..count-1 per provider (every assignment) and per requester.
(define-map provider-job-count principal uint)
(define-map provider-jobs { provider: principal, index: uint } uint)
(define-map requester-job-count principal uint)
(define-map requester-jobs { requester: principal, index: uint } uint)

;; ---------------------------------------------------------------------------------------------
;; Public functions: providers
;; ---------------------------------------------------------------------------------------------

;; Register (or re-register after deregistering, keeping the old reputation) and lock a bond.
(define-public (register-provider (public-key (buff 33)) (gpu-count uint) (gpu-memory uint)
    (benchmark-score uint) (price-per-unit uint) (bond uint))
  (let (
      (caller contract-caller)
      (previous (map-get? providers caller))
    )
    ;; principal-of? aborts the transaction on a buffer shorter than 33 bytes: check the length first
    (asserts! (is-eq (len public-key) u33) ERR_INVALID_PUBLIC_KEY)
    (let ((key-owner (unwrap! (principal-of? public-key) ERR_INVALID_PUBLIC_KEY)))
    (asserts! (is-eq key-owner caller) ERR_PUBLIC_KEY_MISMATCH)
    (asserts! (not (default-to false (get registered previous))) ERR_ALREADY_REGISTERED)
    (try! (check-resources gpu-count gpu-memory benchmark-score))
    (asserts! (>= bond MIN_BOND) ERR_BOND_TOO_LOW)
    (asserts! (>= (stx-get-balance caller) bond) ERR_INSUFFICIENT_FUNDS)
    (map-set providers caller (merge
      (default-to {
          reputation: INITIAL_REPUTATION, bond-reserved: u0, active-jobs: u0, open-jobs: u0,
          total-jobs: u0, successful-jobs: u0, rejected-jobs: u0, expired-jobs: u0, total-earned: u0,
        }
        (match previous old (some {
            reputation: (get reputation old), bond-reserved: u0, active-jobs: u0, open-jobs: u0,
            total-jobs: (get total-jobs old), successful-jobs: (get successful-jobs old),
            rejected-jobs: (get rejected-jobs old), expired-jobs: (get expired-jobs old),
            total-earned: (get total-earned old),
          }) none))
      {
        public-key: public-key, gpu-count: gpu-count, gpu-memory: gpu-memory,
        benchmark-score: benchmark-score, price-per-unit: price-per-unit, available: true,
        registered: true, bond: bond, registered-at: stacks-block-time,
      }))
    (if (is-none previous) (index-provider caller) true)
    (var-set provider-count (+ (var-get provider-count) u1))
    (var-set bond-total (+ (var-get bond-total) bond))
    (print { event: "provider-registered", provider: caller, public-key: public-key,
             gpu-count: gpu-count, gpu-memory: gpu-memory, benchmark-score: benchmark-score,
             price-per-unit: price-per-unit, bond: bond, returning: (is-some previous) })
    (try! (pay-in bond caller))
    (ok true))))

;; Change the advertised resources and price (applies to future assignments).
(define-public (update-resources (gpu-count uint) (gpu-memory uint) (benchmark-score uint)
    (price-per-unit uint))
  (let ((provider (try! (get-registered contract-caller))))
    (try! (check-resources gpu-count gpu-memory benchmark-score))
    (map-set providers contract-caller (merge provider {
      gpu-count: gpu-count, gpu-memory: gpu-memory, benchmark-score: benchmark-score,
      price-per-unit: price-per-unit,
    }))
    (print { event: "provider-updated", provider: contract-caller, gpu-count: gpu-count,
             gpu-memory: gpu-memory, benchmark-score: benchmark-score, price-per-unit: price-per-unit })
    (ok true)))

;; Accept new assignments or not (jobs already assigned are unaffected).
(define-public (set-availability (available bool))
  (let ((provider (try! (get-registered contract-caller))))
    (map-set providers contract-caller (merge provider { available: available }))
    (print { event: "provider-availability", provider: contract-caller, available: available })
    (ok true)))

(define-public (add-bond (amount uint))
  (let ((provider (try! (get-registered contract-caller))))
    (asserts! (> amount u0) ERR_INVALID_AMOUNT)
    (asserts! (>= (stx-get-balance contract-caller) amount) ERR_INSUFFICIENT_FUNDS)
    (map-set providers contract-caller (merge provider { bond: (+ (get bond provider) amount) }))
    (var-set bond-total (+ (var-get bond-total) amount))
    (print { event: "bond-added", provider: contract-caller, amount: amount,
             bond: (+ (get bond provider) amount) })
    (try! (pay-in amount contract-caller))
    (ok true)))

;; Take back bond above max(MIN_BOND, what unfinished jobs reserve).
(define-public (withdraw-bond (amount uint))
  (let (
      (caller contract-caller)
      (provider (try! (get-registered caller)))
      (bond (get bond provider))
    )
    (asserts! (> amount u0) ERR_INVALID_AMOUNT)
    (asserts! (and (<= amount bond)
                   (>= (- bond amount) (max-of MIN_BOND (get bond-reserved provider))))
              ERR_BOND_LOCKED)
    (map-set providers caller (merge provider { bond: (- bond amount) }))
    (var-set bond-total (- (var-get bond-total) amount))
    (print { event: "bond-withdrawn", provider: caller, amount: amount, bond: (- bond amount) })
    (try! (pay-out amount caller))
    (ok true)))

;; Leave the market with the whole bond once no assigned job is unsettled. The record (reputation,
;; counters) stays, so registering again continues from it.
(define-public (deregister-provider)
  (let (
      (caller contract-caller)
      (provider (try! (get-registered caller)))
      (bond (get bond provider))
    )
    (asserts! (is-eq (get open-jobs provider) u0) ERR_HAS_OPEN_JOBS)
    (map-set providers caller (merge provider { registered: false, available: false, bond: u0 }))
    (var-set provider-count (- (var-get provider-count) u1))
    (var-set bond-total (- (var-get bond-total) bond))
    (print { event: "provider-deregistered", provider: caller, bond-returned: bond })
    (try! (pay-out bond caller))
    (ok true)))

;; ---------------------------------------------------------------------------------------------
;; Public functions: requesters create and steer jobs
;; ---------------------------------------------------------------------------------------------

;; One chunk, assigned to `provider`, reward escrowed. Returns the job id.
(define-public (create-job (provider principal) (reward uint) (complexity uint)
    (estimated-duration uint) (min-reputation uint) (scene-hash (buff 32)) (frame-start uint)
    (frame-end uint) (relay-url (string-ascii 256)))
  (let ((created (try! (create-jobs
          (list { provider: provider, reward: reward, complexity: complexity,
                  estimated-duration: estimated-duration, scene-hash: scene-hash,
                  frame-start: frame-start, frame-end: frame-end })
          min-reputation relay-url))))
    (ok (get first-job-id created))))

;; Many chunks in one transaction (one batch): each is validated and assigned as in create-job, and
;; the sum of rewards is escrowed with one transfer. Any failing chunk fails the whole call.
(define-public (create-jobs
    (chunks (list 100 { provider: principal, reward: uint, complexity: uint,
                       estimated-duration: uint, scene-hash: (buff 32), frame-start: uint,
                       frame-end: uint }))
    (min-reputation uint) (relay-url (string-ascii 256)))
  (let (
      (requester contract-caller)
      (batch-id (var-get next-batch-id))
      (first-job-id (var-get next-job-id))
      (count (len chunks))
      (result (try! (fold create-chunk chunks
        (ok { requester: requester, batch-id: batch-id, next-job-id: first-job-id, total: u0,
              min-reputation: min-reputation }))))
      (total (get total result))
    )
    (asserts! (> count u0) ERR_EMPTY_BATCH)
    (asserts! (<= min-reputation MAX_REPUTATION) ERR_INVALID_MIN_REPUTATION)
    (asserts! (>= (stx-get-balance requester) total) ERR_INSUFFICIENT_FUNDS)
    (map-insert batches batch-id { requester: requester, relay-url: relay-url,
      first-job-id: first-job-id, job-count: count, created-at: stacks-block-time })
    (var-set next-batch-id (+ batch-id u1))
    (var-set next-job-id (get next-job-id result))
    (var-set jobs-created (+ (var-get jobs-created) count))
    (var-set escrow-total (+ (var-get escrow-total) total))
    (update-requester requester { jobs: count, completed: u0, rejections: u0, cancellations: u0,
                                  expirations: u0, paid: u0 })
    (print { event: "batch-created", batch-id: batch-id, requester: requester,
             first-job-id: first-job-id, job-count: count, total-reward: total,
             relay-url: relay-url })
    (try! (pay-in total requester))
    (ok { batch-id: batch-id, first-job-id: first-job-id, job-count: count, total-reward: total })))

;; Cancel a job the provider has not started (or a rejected/declined one): full refund.
(define-public (cancel-job (job-id uint))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (status (get status job))
      (requester (get requester job))
      (reward (get reward job))
    )
    (asserts! (is-eq contract-caller requester) ERR_NOT_REQUESTER)
    (asserts! (or (is-eq status STATUS_PENDING) (is-eq status STATUS_REJECTED)
                  (is-eq status STATUS_DECLINED)) ERR_NOT_CANCELLABLE)
    (and (is-eq status STATUS_PENDING)
         (settle-provider (get provider job) job OUTCOME_RELEASED))
    (map-set jobs job-id (merge job { status: STATUS_CANCELLED, finished-at: stacks-block-time }))
    (var-set escrow-total (- (var-get escrow-total) reward))
    (var-set jobs-cancelled (+ (var-get jobs-cancelled) u1))
    (update-requester requester { jobs: u0, completed: u0, rejections: u0, cancellations: u1,
                                  expirations: u0, paid: u0 })
    (print { event: "job-cancelled", job-id: job-id, requester: requester,
             provider: (get provider job), refund: reward })
    (try! (pay-out reward requester))
    (ok true)))

;; Give a rejected or declined job, or one whose provider did not start it within the accept window,
;; to another provider. A no-show provider is penalised exactly as by `expire-job` (compensation to
;; the requester, reputation loss); the escrow stays in place. `scene-hash` is the manifest
;; re-encrypted for the new provider.
(define-public (reassign-job (job-id uint) (new-provider principal) (scene-hash (buff 32)))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (status (get status job))
      (requester (get requester job))
      (now stacks-block-time)
      (no-show (is-eq status STATUS_PENDING))
      (penalty (if no-show (get compensation job) u0))
    )
    (asserts! (is-eq contract-caller requester) ERR_NOT_REQUESTER)
    (asserts! (or no-show (is-eq status STATUS_REJECTED) (is-eq status STATUS_DECLINED))
              ERR_NOT_REASSIGNABLE)
    (asserts! (or (not no-show) (> now (get accept-by job))) ERR_ACCEPT_WINDOW_OPEN)
    (and no-show (record-expiry job-id job))
    (let (
        (assigned (try! (assign new-provider requester (get reward job) (get complexity job)
                                (get min-reputation job))))
      )
      (map-set jobs job-id (merge job {
        provider: new-provider, status: STATUS_PENDING, scene-hash: scene-hash,
        compensation: assigned, attempts: (+ (get attempts job) u1), assigned-at: now,
        accept-by: (+ now ACCEPT_WINDOW), started-at: u0, render-by: u0, submitted-at: u0,
        review-by: u0, reveal-by: u0, result-hash: none, commitment: none,
      }))
      (append-provider-job new-provider job-id)
      (print { event: "job-reassigned", job-id: job-id, requester: requester,
               previous-provider: (get provider job), provider: new-provider,
               previous-status: status, scene-hash: scene-hash, accept-by: (+ now ACCEPT_WINDOW),
               compensation-paid: penalty })
      (try! (pay-out penalty requester))
      (ok true))))

;; ---------------------------------------------------------------------------------------------
;; Public functions: the assigned provider works on a job
;; ---------------------------------------------------------------------------------------------

(define-public (start-job (job-id uint))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (now stacks-block-time)
      (render-by (+ now (* RENDER_TIME_FACTOR (get estimated-duration job))))
    )
    (asserts! (is-eq contract-caller (get provider job)) ERR_NOT_PROVIDER)
    (asserts! (is-eq (get status job) STATUS_PENDING) ERR_NOT_PENDING)
    (asserts! (<= now (get accept-by job)) ERR_ACCEPT_WINDOW_CLOSED)
    (map-set jobs job-id (merge job { status: STATUS_IN_PROGRESS, started-at: now, render-by: render-by }))
    (print { event: "job-started", job-id: job-id, provider: contract-caller, started-at: now,
             estimated-duration: (get estimated-duration job), render-by: render-by })
    (ok true)))

;; Refuse an assigned job before the accept window closes, without penalty.
(define-public (decline-job (job-id uint))
  (let ((job (try! (get-job-or-fail job-id))))
    (asserts! (is-eq contract-caller (get provider job)) ERR_NOT_PROVIDER)
    (asserts! (is-eq (get status job) STATUS_PENDING) ERR_NOT_PENDING)
    (asserts! (<= stacks-block-time (get accept-by job)) ERR_ACCEPT_WINDOW_CLOSED)
    (settle-provider contract-caller job OUTCOME_RELEASED)
    (map-set jobs job-id (merge job { status: STATUS_DECLINED }))
    (var-set jobs-declined (+ (var-get jobs-declined) u1))
    (print { event: "job-declined", job-id: job-id, provider: contract-caller })
    (ok true)))

;; Commit to the result: `result-hash` identifies the encrypted frames on the relay, `commitment`
;; is sha256(r) for the secret r that `claim` will reveal. Frees the GPU slot.
(define-public (submit-result (job-id uint) (result-hash (buff 32)) (commitment (buff 32)))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (provider-principal (get provider job))
      (now stacks-block-time)
      (review-by (+ now REVIEW_WINDOW))
    )
    (asserts! (is-eq contract-caller provider-principal) ERR_NOT_PROVIDER)
    (asserts! (is-eq (get status job) STATUS_IN_PROGRESS) ERR_NOT_IN_PROGRESS)
    (asserts! (<= now (get render-by job)) ERR_RENDER_DEADLINE_PASSED)
    (map-set jobs job-id (merge job {
      status: STATUS_SUBMITTED, submitted-at: now, review-by: review-by,
      reveal-by: (+ review-by REVEAL_WINDOW), result-hash: (some result-hash),
      commitment: (some commitment),
    }))
    (let ((provider (unwrap-panic (map-get? providers provider-principal))))
      (map-set providers provider-principal
        (merge provider { active-jobs: (- (get active-jobs provider) u1) })))
    (print { event: "result-submitted", job-id: job-id, provider: provider-principal,
             result-hash: result-hash, commitment: commitment, review-by: review-by,
             reveal-by: (+ review-by REVEAL_WINDOW) })
    (ok true)))

;; ---------------------------------------------------------------------------------------------
;; Public functions: review, reveal, payment
;; ---------------------------------------------------------------------------------------------

;; The requester accepts the previews; the provider must now reveal r within REVEAL_WINDOW.
(define-public (approve-result (job-id uint))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (now stacks-block-time)
    )
    (asserts! (is-eq contract-caller (get requester job)) ERR_NOT_REQUESTER)
    (asserts! (is-eq (get status job) STATUS_SUBMITTED) ERR_NOT_SUBMITTED)
    (asserts! (<= now (get review-by job)) ERR_REVIEW_WINDOW_CLOSED)
    (map-set jobs job-id (merge job { status: STATUS_APPROVED, reveal-by: (+ now REVEAL_WINDOW) }))
    (print { event: "result-approved", job-id: job-id, requester: contract-caller,
             provider: (get provider job), reveal-by: (+ now REVEAL_WINDOW) })
    (ok true)))

;; The requester refuses the result within the review window. r is never revealed, the escrow stays
;; for a reassignment or a cancel, the provider loses reputation, the requester's record shows it.
(define-public (reject-result (job-id uint))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (requester (get requester job))
    )
    (asserts! (is-eq contract-caller requester) ERR_NOT_REQUESTER)
    (asserts! (is-eq (get status job) STATUS_SUBMITTED) ERR_NOT_SUBMITTED)
    (asserts! (<= stacks-block-time (get review-by job)) ERR_REVIEW_WINDOW_CLOSED)
    (settle-provider (get provider job) job OUTCOME_REJECTED)
    (map-set jobs job-id (merge job { status: STATUS_REJECTED }))
    (var-set jobs-rejected (+ (var-get jobs-rejected) u1))
    (update-requester requester { jobs: u0, completed: u0, rejections: u1, cancellations: u0,
                                  expirations: u0, paid: u0 })
    (print { event: "result-rejected", job-id: job-id, requester: requester,
             provider: (get provider job) })
    (ok true)))

;; The provider reveals r (approved, or review window passed in silence); the reward moves from
;; escrow to the provider's earnings and r becomes public so the requester can decrypt the frames.
(define-public (claim (job-id uint) (secret (buff 32)))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (status (get status job))
      (provider-principal (get provider job))
      (requester (get requester job))
      (reward (get reward job))
      (now stacks-block-time)
    )
    (asserts! (is-eq contract-caller provider-principal) ERR_NOT_PROVIDER)
    (asserts! (or (is-eq status STATUS_APPROVED) (is-eq status STATUS_SUBMITTED)) ERR_NOT_CLAIMABLE)
    (asserts! (or (is-eq status STATUS_APPROVED) (> now (get review-by job))) ERR_REVIEW_WINDOW_OPEN)
    (asserts! (<= now (get reveal-by job)) ERR_REVEAL_WINDOW_CLOSED)
    (asserts! (is-eq (some (sha256 secret)) (get commitment job)) ERR_SECRET_MISMATCH)
    (settle-provider provider-principal job OUTCOME_SUCCESS)
    (map-set jobs job-id (merge job { status: STATUS_COMPLETED, secret: (some secret), finished-at: now }))
    (map-set earnings provider-principal (+ (get-earnings provider-principal) reward))
    (var-set escrow-total (- (var-get escrow-total) reward))
    (var-set earnings-total (+ (var-get earnings-total) reward))
    (var-set jobs-completed (+ (var-get jobs-completed) u1))
    (var-set total-volume (+ (var-get total-volume) reward))
    (update-requester requester { jobs: u0, completed: u1, rejections: u0, cancellations: u0,
                                  expirations: u0, paid: reward })
    (print { event: "job-completed", job-id: job-id, provider: provider-principal,
             requester: requester, reward: reward, secret: secret,
             approved: (is-eq status STATUS_APPROVED) })
    (ok true)))

;; Pay `amount` of the caller's credited earnings out to it.
(define-public (withdraw (amount uint))
  (let (
      (caller contract-caller)
      (balance (get-earnings caller))
    )
    (asserts! (> amount u0) ERR_INVALID_AMOUNT)
    (asserts! (<= amount balance) ERR_INSUFFICIENT_EARNINGS)
    (map-set earnings caller (- balance amount))
    (var-set earnings-total (- (var-get earnings-total) amount))
    (print { event: "earnings-withdrawn", provider: caller, amount: amount,
             remaining: (- balance amount) })
    (try! (pay-out amount caller))
    (ok true)))

;; Anyone may expire a job past its deadline: not started by accept-by, not submitted by render-by,
;; or r not revealed by reveal-by. The requester gets the reward back plus the compensation from
;; the provider's bond; the provider loses reputation and the job counts as failed.
(define-public (expire-job (job-id uint))
  (let (
      (job (try! (get-job-or-fail job-id)))
      (status (get status job))
      (now stacks-block-time)
      (requester (get requester job))
      (refund (+ (get reward job) (get compensation job)))
      (deadline (if (is-eq status STATUS_PENDING) (get accept-by job)
                  (if (is-eq status STATUS_IN_PROGRESS) (get render-by job) (get reveal-by job))))
    )
    (asserts! (or (is-eq status STATUS_PENDING) (is-eq status STATUS_IN_PROGRESS)
                  (is-eq status STATUS_SUBMITTED) (is-eq status STATUS_APPROVED)) ERR_NOT_EXPIRABLE)
    (asserts! (> now deadline) ERR_DEADLINE_NOT_REACHED)
    (record-expiry job-id job)
    (map-set jobs job-id (merge job { status: STATUS_EXPIRED, finished-at: now }))
    (var-set escrow-total (- (var-get escrow-total) (get reward job)))
    (print { event: "job-expired", job-id: job-id, requester: requester,
             provider: (get provider job), previous-status: status, deadline: deadline,
             refund: (get reward job), compensation: (get compensation job), caller: contract-caller })
    (try! (pay-out refund requester))
    (ok true)))

;; ---------------------------------------------------------------------------------------------
;; Read-only functions
;; ---------------------------------------------------------------------------------------------

(define-read-only (get-provider (who principal))
  (map-get? providers who))

(define-read-only (get-job (job-id uint))
  (map-get? jobs job-id))

(define-read-only (get-batch (batch-id uint))
  (map-get? batches batch-id))

(define-read-only (get-earnings (who principal))
  (default-to u0 (map-get? earnings who)))

(define-read-only (get-reputation (who principal))
  (get reputation (map-get? providers who)))

;; successful / total x 100, rounded down; u0 before any settled job.
(define-read-only (get-success-rate (who principal))
  (match (map-get? providers who)
    provider (if (is-eq (get total-jobs provider) u0)
                 u0
                 (/ (* (get successful-jobs provider) u100) (get total-jobs provider)))
    u0))

(define-read-only (get-requester-stats (who principal))
  (default-to { jobs: u0, completed: u0, rejections: u0, cancellations: u0, expirations: u0, paid: u0 }
    (map-get? requesters who)))

(define-read-only (get-platform-stats)
  {
    providers: (var-get provider-count),
    jobs-created: (var-get jobs-created),
    jobs-completed: (var-get jobs-completed),
    jobs-rejected: (var-get jobs-rejected),
    jobs-expired: (var-get jobs-expired),
    jobs-cancelled: (var-get jobs-cancelled),
    jobs-declined: (var-get jobs-declined),
    total-volume: (var-get total-volume),
    next-job-id: (var-get next-job-id),
    next-batch-id: (var-get next-batch-id),
  })

;; What the contract owes, and what it holds: `balance` always equals escrow + earnings + bonds.
(define-read-only (get-totals)
  {
    escrow: (var-get escrow-total),
    earnings: (var-get earnings-total),
    bonds: (var-get bond-total),
    balance: (stx-get-balance current-contract),
  })

;; The chain's current time as the contract sees it (deadlines compare against this).
(define-read-only (get-time)
  stacks-block-time)

;; The protocol parameters clients need to plan deadlines, bonds and batch sizes.
(define-read-only (get-config)
  {
    initial-reputation: INITIAL_REPUTATION, min-reputation: MIN_REPUTATION,
    max-reputation: MAX_REPUTATION, success-gain: SUCCESS_REPUTATION_GAIN,
    rejection-loss: REJECTION_REPUTATION_LOSS, expiry-loss: EXPIRY_REPUTATION_LOSS,
    min-bond: MIN_BOND, compensation-percent: COMPENSATION_PERCENT, max-gpu-count: MAX_GPU_COUNT,
    accept-window: ACCEPT_WINDOW, render-time-factor: RENDER_TIME_FACTOR,
    min-duration: MIN_DURATION, max-duration: MAX_DURATION, review-window: REVIEW_WINDOW,
    reveal-window: REVEAL_WINDOW, max-batch: MAX_BATCH, page-size: PAGE_SIZE,
  })

;; Would `provider` accept a job with these terms right now? (ok compensation) or the error that
;; create-job would return. Lets a client rank providers without sending a failing transaction.
(define-read-only (check-assignment (provider principal) (requester principal) (reward uint)
    (complexity uint) (min-reputation uint))
  (match (map-get? providers provider)
    record (begin
      (try! (check-assignable record provider requester reward complexity min-reputation))
      (ok (compensation-for reward)))
    ERR_PROVIDER_NOT_FOUND))

(define-read-only (get-provider-job-count (who principal))
  (default-to u0 (map-get? provider-job-count who)))

(define-read-only (get-requester-job-count (who principal))
  (default-to u0 (map-get? requester-job-count who)))

;; How many principals ever registered: indices 0..count-1 of get-provider-at / get-providers.
(define-read-only (get-provider-index-count)
  (var-get provider-index-count))

;; The provider at `index` in order of first registration, with its address; none past the end.
;; Deregistered providers stay listed (registered: false) so their index never moves.
(define-read-only (get-provider-at (index uint))
  (provider-entry index))

;; Up to 50 providers by index in one call (none for an index past the end): a client lists N
;; providers in ceil(N / 50) read-only calls.
(define-read-only (get-providers (indices (list 50 uint)))
  (map provider-entry indices))

;; Up to 50 job ids assigned to `who` (oldest first), starting at list index `offset`.
(define-read-only (get-provider-job-ids (who principal) (offset uint))
  (get ids (fold collect-provider-job PAGE { who: who, offset: offset, ids: (list) })))

;; Up to 50 job ids created by `who` (oldest first), starting at list index `offset`.
(define-read-only (get-requester-job-ids (who principal) (offset uint))
  (get ids (fold collect-requester-job PAGE { who: who, offset: offset, ids: (list) })))

;; ---------------------------------------------------------------------------------------------
;; Private functions
;; ---------------------------------------------------------------------------------------------

(define-private (max-of (a uint) (b uint))
  (if (> a b) a b))

(define-private (compensation-for (reward uint))
  (/ (* reward COMPENSATION_PERCENT) u100))

(define-private (check-resources (gpu-count uint) (gpu-memory uint) (benchmark-score uint))
  (begin
    (asserts! (and (> gpu-count u0) (<= gpu-count MAX_GPU_COUNT)) ERR_INVALID_GPU_COUNT)
    (asserts! (> gpu-memory u0) ERR_INVALID_GPU_MEMORY)
    (asserts! (> benchmark-score u0) ERR_INVALID_BENCHMARK)
    (ok true)))

(define-private (get-registered (who principal))
  (match (map-get? providers who)
    provider (if (get registered provider) (ok provider) ERR_NOT_REGISTERED)
    ERR_NOT_REGISTERED))

(define-private (get-job-or-fail (job-id uint))
  (ok (unwrap! (map-get? jobs job-id) ERR_JOB_NOT_FOUND)))

;; The assignment rules shared by create-job(s), reassign-job and check-assignment.
(define-private (check-assignable (record { public-key: (buff 33), gpu-count: uint, gpu-memory: uint,
      benchmark-score: uint, price-per-unit: uint, reputation: uint, available: bool,
      registered: bool, bond: uint, bond-reserved: uint, active-jobs: uint, open-jobs: uint,
      total-jobs: uint, successful-jobs: uint, rejected-jobs: uint, expired-jobs: uint,
      total-earned: uint, registered-at: uint })
    (provider principal) (requester principal) (reward uint) (complexity uint) (min-reputation uint))
  (begin
    (asserts! (get registered record) ERR_PROVIDER_NOT_FOUND)
    (asserts! (not (is-eq provider requester)) ERR_SELF_ASSIGNMENT)
    (asserts! (> reward u0) ERR_INVALID_REWARD)
    (asserts! (> complexity u0) ERR_INVALID_COMPLEXITY)
    (asserts! (<= min-reputation MAX_REPUTATION) ERR_INVALID_MIN_REPUTATION)
    (asserts! (get available record) ERR_PROVIDER_UNAVAILABLE)
    (asserts! (>= (get reputation record) min-reputation) ERR_REPUTATION_TOO_LOW)
    (asserts! (< (get active-jobs record) (get gpu-count record)) ERR_PROVIDER_AT_CAPACITY)
    (asserts! (>= reward (* complexity (get price-per-unit record))) ERR_REWARD_BELOW_PRICE)
    (asserts! (>= (- (get bond record) (get bond-reserved record)) (compensation-for reward))
              ERR_INSUFFICIENT_BOND)
    (ok true)))

;; Check the rules, then take a GPU slot and reserve the compensation. Returns the compensation.
(define-private (assign (provider principal) (requester principal) (reward uint) (complexity uint)
    (min-reputation uint))
  (let (
      (record (unwrap! (map-get? providers provider) ERR_PROVIDER_NOT_FOUND))
      (compensation (compensation-for reward))
    )
    (try! (check-assignable record provider requester reward complexity min-reputation))
    (map-set providers provider (merge record {
      active-jobs: (+ (get active-jobs record) u1),
      open-jobs: (+ (get open-jobs record) u1),
      bond-reserved: (+ (get bond-reserved record) compensation),
    }))
    (ok compensation)))

;; fold step of create-jobs: validate, assign and record one chunk.
(define-private (create-chunk
    (chunk { provider: principal, reward: uint, complexity: uint, estimated-duration: uint,
             scene-hash: (buff 32), frame-start: uint, frame-end: uint })
    (acc (response { requester: principal, batch-id: uint, next-job-id: uint, total: uint,
                     min-reputation: uint } uint)))
  (let (
      (state (try! acc))
      (job-id (get next-job-id state))
      (requester (get requester state))
      (duration (get estimated-duration chunk))
      (now stacks-block-time)
    )
    (asserts! (and (>= duration MIN_DURATION) (<= duration MAX_DURATION)) ERR_INVALID_DURATION)
    (asserts! (<= (get frame-start chunk) (get frame-end chunk)) ERR_INVALID_FRAME_RANGE)
    (let ((compensation (try! (assign (get provider chunk) requester (get reward chunk)
                                      (get complexity chunk) (get min-reputation state)))))
      (map-insert jobs job-id {
        requester: requester, provider: (get provider chunk), batch-id: (get batch-id state),
        status: STATUS_PENDING, reward: (get reward chunk), complexity: (get complexity chunk),
        estimated-duration: duration, min-reputation: (get min-reputation state),
        scene-hash: (get scene-hash chunk), frame-start: (get frame-start chunk),
        frame-end: (get frame-end chunk), compensation: compensation, attempts: u1,
        created-at: now, assigned-at: now, accept-by: (+ now ACCEPT_WINDOW), started-at: u0,
        render-by: u0, submitted-at: u0, review-by: u0, reveal-by: u0, finished-at: u0,
        result-hash: none, commitment: none, secret: none,
      })
      (append-provider-job (get provider chunk) job-id)
      (append-requester-job requester job-id)
      (print { event: "job-created", job-id: job-id, batch-id: (get batch-id state),
               requester: requester, provider: (get provider chunk), reward: (get reward chunk),
               complexity: (get complexity chunk), estimated-duration: duration,
               scene-hash: (get scene-hash chunk), frame-start: (get frame-start chunk),
               frame-end: (get frame-end chunk), accept-by: (+ now ACCEPT_WINDOW) })
      (ok (merge state { next-job-id: (+ job-id u1), total: (+ (get total state) (get reward chunk)) })))))

;; Release the provider's part in a job and apply the outcome to its record. The job must still
;; hold the provider's slot (pending/in progress) or be submitted/approved.
(define-private (settle-provider (who principal)
    (job { requester: principal, provider: principal, batch-id: uint, status: uint, reward: uint,
           complexity: uint, estimated-duration: uint, min-reputation: uint, scene-hash: (buff 32),
           frame-start: uint, frame-end: uint, compensation: uint, attempts: uint,
           created-at: uint, assigned-at: uint, accept-by: uint, started-at: uint, render-by: uint,
           submitted-at: uint, review-by: uint, reveal-by: uint, finished-at: uint,
           result-hash: (optional (buff 32)), commitment: (optional (buff 32)),
           secret: (optional (buff 32)) })
    (outcome uint))
  (let (
      (record (unwrap-panic (map-get? providers who)))
      (status (get status job))
      (holds-slot (or (is-eq status STATUS_PENDING) (is-eq status STATUS_IN_PROGRESS)))
      (compensation (get compensation job))
      (slashed (if (is-eq outcome OUTCOME_EXPIRED) compensation u0))
      (settled (if (is-eq outcome OUTCOME_RELEASED) u0 u1))
      (reputation (get reputation record))
    )
    (map-set providers who (merge record {
      active-jobs: (- (get active-jobs record) (if holds-slot u1 u0)),
      open-jobs: (- (get open-jobs record) u1),
      bond-reserved: (- (get bond-reserved record) compensation),
      bond: (- (get bond record) slashed),
      reputation: (if (is-eq outcome OUTCOME_SUCCESS)
                      (min-of MAX_REPUTATION (+ reputation SUCCESS_REPUTATION_GAIN))
                      (if (is-eq outcome OUTCOME_REJECTED)
                          (lower reputation REJECTION_REPUTATION_LOSS)
                          (if (is-eq outcome OUTCOME_EXPIRED)
                              (lower reputation EXPIRY_REPUTATION_LOSS)
                              reputation))),
      total-jobs: (+ (get total-jobs record) settled),
      successful-jobs: (+ (get successful-jobs record) (if (is-eq outcome OUTCOME_SUCCESS) u1 u0)),
      rejected-jobs: (+ (get rejected-jobs record) (if (is-eq outcome OUTCOME_REJECTED) u1 u0)),
      expired-jobs: (+ (get expired-jobs record) (if (is-eq outcome OUTCOME_EXPIRED) u1 u0)),
      total-earned: (+ (get total-earned record)
                       (if (is-eq outcome OUTCOME_SUCCESS) (get reward job) u0)),
    }))
    (var-set bond-total (- (var-get bond-total) slashed))
    true))

;; A provider failed a deadline: slash its reserved compensation, count it on both records.
(define-private (record-expiry (job-id uint)
    (job { requester: principal, provider: principal, batch-id: uint, status: uint, reward: uint,
           complexity: uint, estimated-duration: uint, min-reputation: uint, scene-hash: (buff 32),
           frame-start: uint, frame-end: uint, compensation: uint, attempts: uint,
           created-at: uint, assigned-at: uint, accept-by: uint, started-at: uint, render-by: uint,
           submitted-at: uint, review-by: uint, reveal-by: uint, finished-at: uint,
           result-hash: (optional (buff 32)), commitment: (optional (buff 32)),
           secret: (optional (buff 32)) }))
  (begin
    (settle-provider (get provider job) job OUTCOME_EXPIRED)
    (var-set jobs-expired (+ (var-get jobs-expired) u1))
    (update-requester (get requester job) { jobs: u0, completed: u0, rejections: u0,
                                            cancellations: u0, expirations: u1, paid: u0 })
    (print { event: "provider-penalised", job-id: job-id, provider: (get provider job),
             compensation: (get compensation job), reputation-loss: EXPIRY_REPUTATION_LOSS })
    true))

(define-private (min-of (a uint) (b uint))
  (if (< a b) a b))

;; Subtract, never below MIN_REPUTATION.
(define-private (lower (reputation uint) (loss uint))
  (if (> reputation (+ MIN_REPUTATION loss)) (- reputation loss) MIN_REPUTATION))

;; Add `delta` to each counter of the requester's public record.
(define-private (update-requester (who principal)
    (delta { jobs: uint, completed: uint, rejections: uint, cancellations: uint, expirations: uint,
             paid: uint }))
  (let ((stats (get-requester-stats who)))
    (map-set requesters who {
      jobs: (+ (get jobs stats) (get jobs delta)),
      completed: (+ (get completed stats) (get completed delta)),
      rejections: (+ (get rejections stats) (get rejections delta)),
      cancellations: (+ (get cancellations stats) (get cancellations delta)),
      expirations: (+ (get expirations stats) (get expirations delta)),
      paid: (+ (get paid stats) (get paid delta)),
    })
    true))

(define-private (append-provider-job (who principal) (job-id uint))
  (let ((count (get-provider-job-count who)))
    (map-insert provider-jobs { provider: who, index: count } job-id)
    (map-set provider-job-count who (+ count u1))))

(define-private (append-requester-job (who principal) (job-id uint))
  (let ((count (get-requester-job-count who)))
    (map-insert requester-jobs { requester: who, index: count } job-id)
    (map-set requester-job-count who (+ count u1))))

(define-private (collect-provider-job (i uint)
    (acc { who: principal, offset: uint, ids: (list 50 uint) }))
  (match (map-get? provider-jobs { provider: (get who acc), index: (+ (get offset acc) i) })
    job-id (merge acc { ids: (unwrap-panic (as-max-len? (append (get ids acc) job-id) u50)) })
    acc))

(define-private (collect-requester-job (i uint)
    (acc { who: principal, offset: uint, ids: (list 50 uint) }))
  (match (map-get? requester-jobs { requester: (get who acc), index: (+ (get offset acc) i) })
    job-id (merge acc { ids: (unwrap-panic (as-max-len? (append (get ids acc) job-id) u50)) })
    acc))

(define-private (index-provider (who principal))
  (let ((count (var-get provider-index-count)))
    (map-insert provider-by-index count who)
    (var-set provider-index-count (+ count u1))))

(define-private (provider-entry (index uint))
  (match (map-get? provider-by-index index)
    who (match (map-get? providers who)
          record (some (merge record { address: who }))
          none)
    none))

;; STX from `sender` (the caller) into the contract. stx-transfer? requires sender = tx-sender, so
;; an intermediary contract cannot spend its user's STX under its own identity.
(define-private (pay-in (amount uint) (sender principal))
  (if (is-eq amount u0)
      (ok true)
      (begin
        (unwrap! (stx-transfer? amount sender current-contract) ERR_TRANSFER_FAILED)
        (ok true))))

;; STX from the contract to `recipient`, with an allowance of exactly `amount`.
(define-private (pay-out (amount uint) (recipient principal))
  (if (is-eq amount u0)
      (ok true)
      (match (as-contract? ((with-stx amount))
               (unwrap! (stx-transfer? amount tx-sender recipient) ERR_PAYOUT_FAILED))
        transferred (ok true)
        violated-allowance ERR_PAYOUT_FAILED)))
