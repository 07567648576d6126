(ns tasklet.server
  "OTP's gen-server for tasklets (doc/reference.md §4): a tasklet that owns a state and
  serves synchronous calls, asynchronous casts and plain messages through the
  handler functions of an implementation map.

    (def counter
      {:init        (fn [n] n)
       :handle-call (fn [req from n]
                      (case req
                        :get [:reply n n]
                        :inc [:reply (inc n) (inc n)]))
       :handle-cast (fn [msg n] n)})
    (def pid (start-link counter 0 {:name :counter}))
    (call :counter :inc)   ; => 1

  Built on tasklet.core alone (and the library's internal tasklet.impl
  helpers: no Java interop), the way OTP builds gen_server on plain
  processes: a call monitors the server with an alias ({:alias :demonitor},
  EEP 53) and sends its request; the server answers through the alias. When
  the caller stops waiting (timeout, the server's death) it demonitors,
  which deactivates the alias, so a late reply is dropped by the kernel,
  locally and across nodes: no relay tasklet, no gate (see
  doc/adr/0006-process-aliases.md).

  Message shapes (internal, listed so that a trace makes sense):
  - [:tasklet/call from request]     a call; `from` is what `reply` needs
  - [:tasklet/cast message]          a cast
  - [:tasklet/system from request]   a tasklet.sys request
  - [:tasklet/reply ref value]       a reply, ref being the call's monitor/alias"
  (:refer-clojure :exclude [cast])
  (:require [tasklet.impl.call :as call]
            [tasklet.impl.error :refer [check-start-opts]]
            [tasklet.impl.server-loop :as server-loop]
            [tasklet.impl.start :as start]))

(set! *warn-on-reflection* true)

;; The contract lives here; the machinery in tasklet.impl, split as OTP
;; splits it: tasklet.impl.server-loop (gen_server's loop), tasklet.impl.call
;; (gen's call and reply, on aliases), tasklet.impl.start (proc_lib's
;; synchronous start).

;; ---------------------------------------------------------------------------
;; The server

(defn run
  "Become a server: run (:init impl) on arg in the calling tasklet, then serve
  messages until a handler stops it. This is the function a supervisor child
  names, [server/run impl arg] or [server/run impl arg {:name kw}]; the
  supervisor starts the next child only once :init has returned. `start` and
  `start-link` are spawn and spawn-link of it.

  impl is a map of functions, all optional:
  - :init        (fn [arg] state)                      default: the state is arg
  - :handle-call (fn [request from state] ...) returning one of
                   [:reply r state']        reply r, go on with state'
                   [:noreply state']        reply later with (reply from r)
                   [:stop reason r state']  :terminate, reply r, exit reason
                   [:stop reason state']    :terminate, exit reason (the caller
                                            sees the reason)
  - :handle-cast (fn [message state] state')           or (stop reason state)
  - :handle-info (fn [message state] state')           any other message;
                                                       default: dropped
  - :terminate   (fn [reason state] _)                 on the way out
  - :handle-system? true: sys requests ([:tasklet/system from request], see
                 tasklet.sys) go to :handle-info instead of being answered
                 here (a behaviour built on the server, as supervisors are,
                 that keeps invariants of its own state)

  A call or cast that finds no handler crashes the server (as in OTP). A
  handler that throws ends the server with that Throwable as its reason, after
  :terminate ran with it (and the state from before that message); a pending
  caller's call rethrows it. A :terminate that throws ends the server with
  its own exception instead. A handler that calls (tasklet.core/exit reason)
  ends the server with that reason, after :terminate ran with it (OTP's
  gen_server catches a callback's exit). An exit signal from another tasklet
  (or (exit (self) reason)) that ends the server does not run :terminate,
  unless the server traps exits and it comes from its parent (below).

  Options: {:name kw} registers the server under kw before :init runs.

  To refuse to start, :init throws: start and start-link rethrow it, and a
  supervisor reports it as the child's start failure.

  When started by start-link or by a supervisor and trapping exits (call
  (tasklet.core/trap-exit! true) in :init), the server stops with its parent's
  exit reason when its parent ends: :terminate runs, as in OTP."
  ([impl arg] (server-loop/run impl arg nil))
  ([impl arg opts] (server-loop/run impl arg opts)))

(start/acking! run)

(defn stop
  "Return this from :handle-cast or :handle-info (or :handle-call) to stop the
  server: :terminate runs with reason and state, then the server exits with
  reason. (From :handle-call the vector forms [:stop reason reply state] and
  [:stop reason state] do the same.)"
  [reason state]
  (server-loop/stop reason state))

;; ---------------------------------------------------------------------------
;; Starting

(defn start
  "Start a server (see `run` for impl) unlinked, and return its pid once
  (:init impl) has returned. Throws what :init threw (the server then never
  ran), or ex-info {:tasklet/error :badarg} for a malformed impl or options, or
  when the {:name kw} option names a name already taken.

  Options: {:name kw} registers the server as kw before :init runs."
  ([impl arg] (start impl arg nil))
  ([impl arg opts]
   (server-loop/check-impl impl)
   (check-start-opts "server" ":my-server" opts)
   (start/start-sync #'run [impl arg opts] false)))

(defn start-link
  "As `start`, and link the caller to the server (atomically, before :init
  runs). If :init throws, the server unlinks first, so the caller gets the
  exception, not an exit signal."
  ([impl arg] (start-link impl arg nil))
  ([impl arg opts]
   (server-loop/check-impl impl)
   (check-start-opts "server" ":my-server" opts)
   (start/start-sync #'run [impl arg opts] true)))

;; ---------------------------------------------------------------------------
;; Calling and replying

(defn call
  "Send request to server and wait for the reply that :handle-call gives (or
  that `reply` sends later). server is a pid, a registered name or [name node].
  timeout-ms defaults to 5000; nil or :infinity waits for ever.

    (call :counter :inc)       ; => 1
    (call :counter :slow 100)  ; throws ex-info {:tasklet/error :timeout ...};
                               ; the reply :slow sends later is dropped

  Throws:
  - ex-info {:tasklet/error :timeout} when no reply came in time. A reply that
    comes later is dropped: it never lands in the caller's mailbox.
  - ex-info {:tasklet/error :noproc} when the server is not running (or the
    name is not registered).
  - ex-info {:tasklet/error :exit, :reason r, :server dest, :request request}
    when the server ends with reason r before replying; when r is a
    Throwable (a handler crashed) it is also the ex-info's cause, so
    (ex-cause e) is the server's own exception.
  - ex-info {:tasklet/error :badarg} when a server calls itself (it would
    wait for ever).

  The caller monitors the server for the call's duration only; other messages
  in its mailbox are neither taken nor scanned."
  ([server request] (call server request 5000))
  ([server request timeout-ms] (call/call server request timeout-ms)))

(defn reply
  "Answer the call identified by `from` (the second argument of :handle-call)
  with `value`, from the server or from any other tasklet, at any later time.
  Use it after :handle-call returned [:noreply state]. `from` is a map whose
  :pid is the caller; the rest is opaque (it holds the call's alias, which
  works from any node).

  The reply goes through the call's alias (EEP 53), which the caller
  deactivates when it stops waiting (a timeout, the server's death), so a
  call gets at most one reply and never a late one. Returns true when the
  reply was delivered or sent to another node; false when the caller is on
  this node and no longer waits (the reply was dropped).

    ;; (call pid :take) waits until someone does (cast pid v)
    {:init        (fn [_] [])
     :handle-call (fn [_take from takers] [:noreply (conj takers from)])
     :handle-cast (fn [v takers] (run! #(reply % v) takers) [])}"
  [from value]
  (call/reply from value))

(defn send-request
  "Send request to server as `call` does, without waiting: returns a request
  id for `receive-response` or `check-response` (OTP's
  gen_server:send_request), so several calls can be in flight at once, to
  one server or many, local or remote. The caller monitors the server (with
  the call's alias) until the response is taken. A server that is not
  running answers :noproc through the response.

    (let [a (send-request s1 :get) b (send-request s2 :get)]
      [(receive-response a 1000) (receive-response b 1000)])"
  [server request]
  (call/send-request server request))

(defn receive-response
  "Wait up to timeout-ms (nil or :infinity: for ever) for the response to
  request id rid and return the reply; throws as `call` does. On
  {:tasklet/error :timeout} the request stays in flight: rid is still valid
  (receive-response or check-response may take its reply later), as in OTP.
  After a reply or an :exit/:noproc, rid is used up."
  [rid timeout-ms]
  (call/receive-response rid timeout-ms))

(defn check-response
  "Whether msg, a message the caller received, is the response to request id
  rid: [:reply r] when it is the reply (rid is then used up); :no-reply when
  msg is something else. A :DOWN of rid's server throws as `call` does.
  For a receive loop that serves other messages while requests are in
  flight (OTP's gen_server:check_response)."
  [msg rid]
  (call/check-response msg rid))

(defn cast
  "Send message to server asynchronously, for its :handle-cast; returns nil at
  once. As in OTP a cast never fails: a dead server, an unregistered name or an
  unreachable node drop it silently. server is a pid, a registered name or
  [name node]."
  [server message]
  (call/cast server message))
