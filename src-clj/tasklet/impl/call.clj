(ns ^:no-doc tasklet.impl.call
  "Call and reply (OTP's gen module under gen_server and gen_statem): the
  machinery behind tasklet.server's call, cast, reply, send-request,
  receive-response and check-response, which hold the contract and
  delegate here, and behind tasklet.sys's requests.

  A call monitors the server with an alias ({:alias :demonitor}, EEP 53;
  see doc/adr/0006-process-aliases.md) and sends [tag from request]-shaped
  messages whose `from` is {:pid caller :tag mref :alias mref}; the server
  answers [:tasklet/reply mref value] through the alias. When the caller
  stops waiting (timeout, the server's death) it demonitors, which
  deactivates the alias, so a late reply is dropped by the kernel, locally
  and across nodes. Internal, stable for the library's own behaviours."
  (:refer-clojure :exclude [cast])
  (:require [tasklet.core :as t :refer [! self]]
            [tasklet.impl.error :refer [error exit-error]]
            [tasklet.impl.process :as process])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Replies

(defn reply
  "tasklet.server/reply: answer the call identified by from with value;
  true when delivered or sent on, false when dropped here."
  [from value]
  (let [a (:alias from)]
    (if (process/ref? a)
      (process/send-alias a [:tasklet/reply (:tag from) value])
      ;; a from made by other call code (no alias): the earlier protocol, a
      ;; [tag value] message, at most once when it carries a :gate
      (let [gate (:gate from)]
        (if (or (nil? gate) (process/claim! gate))
          (do (! (or (:via from) (:pid from)) [(:tag from) value])
              true)
          false)))))

;; ---------------------------------------------------------------------------
;; Where a call goes

(defn- node-name ^String [n]
  (if (keyword? n) (name n) (str n)))

(defn- resolve-server
  "A local pid, or a remote pid or [name node] (left to distribution)."
  [server]
  (cond
    (t/pid? server) server
    (keyword? server)
    (or (t/whereis server)
        (throw (error :noproc (str "no server is registered as " server
                                   "; check the name, or start the server first")
                      {:server server})))
    (and (vector? server) (= 2 (count server)) (keyword? (nth server 0)))
    (if (= (node-name (nth server 1)) (process/node-name))
      (resolve-server (nth server 0))
      server)
    :else
    (throw (error :badarg (str "a server is a pid, a registered keyword or [name node], not "
                               (pr-str server))
                  {:server server}))))

(defn- resolve-server*
  "As resolve-server, but an unregistered name is left for the monitor to
  answer with :noproc."
  [server]
  (if (and (keyword? server) (nil? (t/whereis server)))
    server
    (resolve-server server)))

;; ---------------------------------------------------------------------------
;; Waiting for the reply

(defn- reply-or-down [mref]
  (fn [m]
    (when (and (vector? m) (= mref (nth m 1 nil)))
      (let [k (nth m 0 nil)]
        (cond
          (and (== 3 (count m)) (identical? :tasklet/reply k)) m
          (and (identical? :DOWN k) (== 5 (count m))) m)))))

(defn- reply-only [mref]
  (fn [m]
    (when (and (vector? m) (== 3 (count m)) (identical? :tasklet/reply (nth m 0)) (= mref (nth m 1)))
      m)))

(defn- timeout-error [server request timeout-ms]
  (error :timeout (str "call to " (pr-str server) " got no reply within " timeout-ms
                       " ms; raise the timeout, or check that the server replies to "
                       (pr-str request))
         {:server server :request request :timeout timeout-ms}))

(defn- check-timeout [timeout-ms]
  (when-not (or (nil? timeout-ms) (= :infinity timeout-ms)
                (and (number? timeout-ms) (not (neg? (double timeout-ms)))))
    (throw (error :badarg (str "a call timeout is milliseconds (a non-negative number), nil or"
                               " :infinity, got " (pr-str timeout-ms))
                  {:timeout timeout-ms}))))

(defn- give-up
  "The caller stops waiting for the reply through mref: the monitor and its
  alias go (so a reply sent from now on is dropped by the kernel), then a
  reply that made it in before that is taken. Returns [:tasklet/reply mref
  v]'s v wrapped as [v], or nil when none came."
  [mref]
  (t/demonitor mref {:flush true})
  (when-let [m (t/receive-fn (reply-only mref) 0 nil)]
    [(nth m 2 nil)]))

(defn- outcome
  "What the call returns (or throws) given m, the reply or :DOWN that
  receive-fn took, or timeout-marker."
  [m dest request timeout-ms mref]
  (cond
    (identical? t/timeout-marker m)
    (if-let [[v] (give-up mref)]
      v
      (throw (timeout-error dest request timeout-ms)))

    (identical? :DOWN (nth m 0))
    (do (t/unalias mref)
        (throw (exit-error (nth m 4) dest request)))

    :else
    (do (t/demonitor mref {:flush true})
        (nth m 2))))

(defn- send-call!
  "Monitor dest with an alias and send it (make-msg from), from being what
  `reply` needs; returns the monitor ref (also the alias and the reply tag).
  A send that throws (an unregistered name) is rethrown after the monitor
  is gone; with quiet?, it is left to the :DOWN :noproc instead."
  [dest make-msg quiet?]
  (let [mref (t/monitor dest {:alias :demonitor})
        from {:pid (self) :tag mref :alias mref}]
    (try
      (! dest (make-msg from))
      (catch Throwable e
        (when-not (and quiet? (= :noproc (:tasklet/error (ex-data e))))
          (t/demonitor mref {:flush true})
          (throw e))))
    mref))

;; ---------------------------------------------------------------------------
;; Calls

(defn call-with
  "Send dest (make-msg from) and wait for the `reply` to from, with call's
  timeouts and errors; `request` is what error messages and ex-data name.
  The mailbox is marked first, so the wait scans only what came after."
  [dest make-msg request timeout-ms]
  (check-timeout timeout-ms)
  (t/mark-mailbox!)
  (let [mref (try (send-call! dest make-msg false)
                  (catch Throwable e (process/unmark-mailbox!) (throw e)))
        m (t/receive-fn (reply-or-down mref) timeout-ms t/timeout-marker true)]
    (outcome m dest request timeout-ms mref)))

(defn- call-to
  "Resolve server, refuse a request to oneself (it would wait for ever) with
  the message (refusal server), and run call-with."
  [server make-msg request timeout-ms refusal]
  (let [dest (resolve-server server)]
    (when (= dest (self))
      (throw (error :badarg (refusal server) {:server server :request request})))
    (call-with dest make-msg request timeout-ms)))

(defn call
  "tasklet.server/call."
  [server request timeout-ms]
  (call-to server (fn [from] [:tasklet/call from request]) request timeout-ms
           #(str "a server cannot call itself (" (pr-str %) "); handle the request directly")))

(defn system-call
  "tasklet.sys's request: send [:tasklet/system from request] to server with
  call's machinery (timeouts, errors) and return the reply value, [:ok v] or
  [:error throwable]."
  [server request timeout-ms]
  (call-to server (fn [from] [:tasklet/system from request]) request timeout-ms
           #(str "a process cannot send system requests to itself (" (pr-str %) ")")))

;; ---------------------------------------------------------------------------
;; Requests in flight (OTP's send_request, receive_response, check_response)

(defn send-request
  "tasklet.server/send-request."
  [server request]
  (let [dest (resolve-server* server)]
    {:tasklet/request-id (send-call! dest (fn [from] [:tasklet/call from request]) true)
     :server dest
     :request request}))

(defn- check-request-id [rid]
  (let [r (:tasklet/request-id rid)]
    (when-not (process/ref? r)
      (throw (error :badarg (str "not a request id from send-request: " (pr-str rid)) {:request-id rid})))
    r))

(defn receive-response
  "tasklet.server/receive-response."
  [rid timeout-ms]
  (check-timeout timeout-ms)
  (let [mref (check-request-id rid)
        m (t/receive-fn (reply-or-down mref) timeout-ms t/timeout-marker)]
    (if (identical? t/timeout-marker m)
      (throw (timeout-error (:server rid) (:request rid) timeout-ms))
      (outcome m (:server rid) (:request rid) timeout-ms mref))))

(defn check-response
  "tasklet.server/check-response."
  [msg rid]
  (let [mref (check-request-id rid)]
    (if-let [m ((reply-or-down mref) msg)]
      [:reply (outcome m (:server rid) (:request rid) nil mref)]
      :no-reply)))

;; ---------------------------------------------------------------------------
;; Casts

(defn cast
  "tasklet.server/cast."
  [server message]
  (try
    (! server [:tasklet/cast message])
    (catch ExceptionInfo e
      (when-not (#{:noproc :not-connected} (:tasklet/error (ex-data e)))
        (throw e))))
  nil)
