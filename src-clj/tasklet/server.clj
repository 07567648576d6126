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

  Built on tasklet.core alone, the way OTP builds gen_server on plain
  processes: a call monitors the server with an alias ({:alias :demonitor},
  EEP 53) and sends its request; the server answers through the alias. When
  the caller stops waiting (timeout, the server's death) it demonitors,
  which deactivates the alias, so a late reply is dropped by the kernel,
  locally and across nodes: no relay tasklet, no gate.

  Message shapes (internal, listed so that a trace makes sense):
  - [:tasklet/call from request]     a call; `from` is what `reply` needs
  - [:tasklet/cast message]          a cast
  - [:tasklet/system from request]   a tasklet.sys request
  - [:tasklet/reply ref value]       a reply, ref being the call's monitor/alias"
  (:refer-clojure :exclude [cast])
  (:require [tasklet.core :as t :refer [! self receive]]
            [tasklet.impl.error :refer [error check-start-opts]])
  (:import [clojure.lang ExceptionInfo MultiFn]
           [java.util.concurrent.atomic AtomicBoolean]
           [tasklet.kernel Aliases Mailbox Node NodeTable Pid Ref TaskletExit]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Errors

(defn- reason-text [reason]
  (if (instance? Throwable reason)
    (str (.getName (class reason)) ": " (.getMessage ^Throwable reason))
    (pr-str reason)))

(defn- exit-error
  "What a caller throws when `server` ended with `reason` before answering
  `request` (OTP's exit({Reason, {gen_server, call, ...}})): ex-info
  {:tasklet/error :noproc | :noconnection | :exit, :reason reason, :server
  server, :request request}, with a Throwable reason (a handler crashed) as
  its cause, so (ex-cause e) is the server's own exception."
  [reason server request]
  (cond
    (instance? TaskletExit reason) (exit-error (.-reason ^TaskletExit reason) server request)
    (= :noproc reason)
    (error :noproc (str "no server " (pr-str server) " is running; start it first, or check the name")
           {:server server :reason reason :request request})
    (= :noconnection reason)
    (error :noconnection (str "lost the connection to the node of server " (pr-str server))
           {:server server :reason reason :request request})
    :else
    (ex-info (str "server " (pr-str server) " exited with reason " (reason-text reason)
                  " before it replied to " (pr-str request)
                  (when (instance? Throwable reason) "; its exception is this one's cause"))
             {:tasklet/error :exit :server server :reason reason :request request}
             (when (instance? Throwable reason) reason))))

(defn- function? [f]
  (or (fn? f) (var? f) (instance? MultiFn f)))

;; ---------------------------------------------------------------------------
;; Monitors: forget one without leaving a stray [:DOWN ...] behind

(defn- await-down [mref]
  (receive [:DOWN mref :process _ _] nil))

(defn- forget-monitor
  "Remove monitor `mref` on `target` and make sure its [:DOWN ...] never
  lands in the caller's mailbox, without scanning the mailbox in the common
  case (a live target). A target seen dead before the demonitor has already
  committed to sending the :DOWN, so it is awaited. One window stays open in
  the kernel: a target that dies during the demonitor itself may still
  deliver its :DOWN after the flush."
  [mref target]
  (if (and (instance? Pid target) (NodeTable/isLocal target))
    (if (t/alive? target)
      (do (t/demonitor mref)
          (when-not (t/alive? target) (t/demonitor mref {:flush true})))
      (await-down mref))
    (t/demonitor mref {:flush true})))

;; ---------------------------------------------------------------------------
;; The start handshake (OTP's proc_lib init_ack)

(def ^:dynamic ^:no-doc *starter*
  "While a synchronous start spawns: [starter-pid tag linked? claimed]. The
  new tasklet gets it with the caller's other bindings; `run` claims it once
  (claimed is an AtomicBoolean), so the tasklets that the server spawns later,
  which inherit the binding, never answer the starter."
  nil)

(defn- claim-starter
  "The starter waiting for this tasklet's start, claimed, or nil. A claim
  rather than a (binding [*starter* nil] ...) around the server's life: a
  binding held across receive does not yet reliably follow a tasklet between
  workers on the continuation strand."
  []
  (let [s *starter*]
    (when (and s (.compareAndSet ^AtomicBoolean (nth s 3) false true))
      s)))

(def ^:private acking-fns
  "The start functions that perform the start handshake (by identity)."
  (atom #{}))

(defn ^:no-doc acking!
  "Declare that start function f performs the start handshake (it reaches
  `run`, which answers the waiting starter); returns f."
  [f]
  (swap! acking-fns conj f)
  f)

(defn ^:no-doc acks-start?
  "True when start function f (a fn or a var) performs the start handshake, as
  `run` and tasklet.supervisor/run do: a supervisor waits for such a child's
  :init before it starts the next one."
  [f]
  (contains? @acking-fns (if (var? f) @f f)))

(defn ^:no-doc start-sync
  "Spawn (apply f args), linked when link?, and wait until it has acknowledged
  its start. Returns the pid; throws what its init threw, or its exit reason if
  it ended before acknowledging. f must perform the handshake (`acks-start?`)."
  [f args link?]
  (let [tag (t/make-ref)
        [pid mref] (binding [*starter* [(self) tag link? (AtomicBoolean.)]]
                     (t/spawn-fn f args {:link link? :monitor true}))]
    (receive
      [tag :ok] (do (forget-monitor mref pid) pid)
      [tag [:error e]] (do (await-down mref) (throw e))
      [:DOWN mref :process _ reason] (throw (exit-error reason pid nil)))))

(defn- ack! [starter msg]
  (when starter
    (! (nth starter 0) [(nth starter 1) msg])))

(defn- fail-start!
  "init threw e: free the name, unlink the starter (start throws instead of
  killing it) and tell it, then end with e: by exit when a starter was told
  (its rethrow is the crash's one report), else by a throw (a crash report)."
  [starter name e]
  (when (and name (= (self) (t/whereis name)))
    (t/unregister name))
  (when (nth starter 2 false)
    (t/unlink (nth starter 0)))
  (ack! starter [:error (if (instance? TaskletExit e) (exit-error e (self) nil) e)])
  (if (or (nil? starter) (instance? TaskletExit e))
    (throw e)
    (t/exit e)))

;; ---------------------------------------------------------------------------
;; Replies

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
  (let [a (:alias from)]
    (if (instance? Ref a)
      (Aliases/send a [:tasklet/reply (:tag from) value])
      ;; a from made by other call code (no alias): the earlier protocol, a
      ;; [tag value] message, at most once when it carries a :gate
      (let [gate ^AtomicBoolean (:gate from)]
        (if (or (nil? gate) (.compareAndSet gate false true))
          (do (! (or (:via from) (:pid from)) [(:tag from) value])
              true)
          false)))))

;; ---------------------------------------------------------------------------
;; The server loop

(deftype ^:no-doc Stop [reason state from reply])

(defn stop
  "Return this from :handle-cast or :handle-info (or :handle-call) to stop the
  server: :terminate runs with reason and state, then the server exits with
  reason. (From :handle-call the vector forms [:stop reason reply state] and
  [:stop reason state] do the same.)"
  [reason state]
  (Stop. reason state nil nil))

(def ^:private no-message (Object.))

(defn- any-message
  "Matcher for receive-fn that takes any message (a nil message is boxed,
  since nil means no match)."
  [m]
  (if (nil? m) no-message m))

(defn- tagged? [m tag n]
  (and (vector? m) (== n (count m)) (identical? tag (nth m 0))))

(defn- bad-return [handler value expected]
  (error :bad-return (str handler " must return " expected ", got " (pr-str value))
         {:handler handler :value value}))

(defn- missing-handler [k message]
  (error :badarg (str "this server's implementation has no " k " to handle " (pr-str message)
                      "; add one to the map given to start")
         {:handler k :message message}))

(def ^:private call-returns
  "[:reply r state], [:noreply state], [:stop reason r state] or [:stop reason state]")

(defn- call-result
  "Act on what :handle-call returned: the new state, or a Stop."
  [r from]
  (cond
    (instance? Stop r) r
    (vector? r)
    (let [n (count r)]
      (case (nth r 0 nil)
        :reply (if (== 3 n)
                 (do (reply from (nth r 1)) (nth r 2))
                 (throw (bad-return :handle-call r call-returns)))
        :noreply (if (== 2 n) (nth r 1) (throw (bad-return :handle-call r call-returns)))
        :stop (case n
                4 (Stop. (nth r 1) (nth r 3) from (nth r 2))
                3 (Stop. (nth r 1) (nth r 2) nil nil)
                (throw (bad-return :handle-call r call-returns)))
        (throw (bad-return :handle-call r call-returns))))
    :else (throw (bad-return :handle-call r call-returns))))

(defn- handle
  "Run the handler for message m; returns the new state or a Stop."
  [impl parent state m]
  (cond
    (tagged? m :tasklet/call 3)
    (let [f (or (:handle-call impl) (throw (missing-handler :handle-call (nth m 2))))]
      (call-result (f (nth m 2) (nth m 1) state) (nth m 1)))

    (tagged? m :tasklet/cast 2)
    ((or (:handle-cast impl) (throw (missing-handler :handle-cast (nth m 1)))) (nth m 1) state)

    (and parent (tagged? m :EXIT 3) (= parent (nth m 1)))
    (Stop. (nth m 2) state nil nil)

    :else
    (if-let [f (:handle-info impl)]
      (f (if (identical? no-message m) nil m) state)
      state)))

(defn ^:no-doc truncated
  "x printed for a crash report: at most 10 items per collection, 4 levels
  deep and 2000 characters (proc_lib's reports are truncated too)."
  ^String [x]
  (let [s (binding [*print-length* 10 *print-level* 4]
            (try (pr-str x) (catch Throwable _ (str "#<unprintable " (class x) ">"))))]
    (if (> (count s) 2000) (str (subs s 0 2000) "...") s)))

(defn- crash-context!
  "Tell the kernel what this server's crash report should carry: the last
  message and the state, truncated."
  [last-message state]
  (.setCrashContext (Node/currentTasklet)
                    {:last-message (truncated (if (identical? no-message last-message) nil last-message))
                     :state (truncated state)}))

(defn- finish
  "Stop the server: :terminate, then the pending reply (if any, even when
  :terminate threw), then exit with the reason. m is the last message."
  [impl ^Stop s m]
  (when (instance? Throwable (.-reason s)) (crash-context! m (.-state s)))
  (try
    (when-let [f (:terminate impl)]
      (f (.-reason s) (.-state s)))
    (catch Throwable e
      (crash-context! m (.-state s))
      (throw e))
    (finally
      (when-let [from (.-from s)]
        (reply from (.-reply s)))))
  (let [reason (.-reason s)]
    (if (instance? Throwable reason)
      (throw ^Throwable reason)
      (t/exit reason))))

;; ---------------------------------------------------------------------------
;; System messages (tasklet.sys): [:tasklet/system from request], answered
;; with (reply from [:ok v]) or (reply from [:error throwable]).

(defn ^:no-doc system-message?
  "True for [:tasklet/system from request]."
  [m]
  (tagged? m :tasklet/system 3))

(defn- suspended-matcher
  "While suspended: only system messages, and the parent's exit signal."
  [parent]
  (fn [m]
    (when (or (system-message? m) (and parent (tagged? m :EXIT 3) (= parent (nth m 1))))
      m)))

(defn- system-reply
  "Answer system request req (see tasklet.sys) given the server's state,
  count of handled messages and start time; returns [state' suspended?]."
  [from req state suspended? handled start-ms]
  (let [ok (fn [v] (reply from [:ok v]))]
    (cond
      (= :get-state req) (do (ok state) [state suspended?])
      (and (vector? req) (= 2 (count req)) (= :replace-state (nth req 0)))
      (let [r (try [:ok ((nth req 1) state)]
                   (catch TaskletExit e (throw e))
                   (catch Throwable e [:error e]))]
        (reply from r)
        [(if (= :ok (nth r 0)) (nth r 1) state) suspended?])
      (= :suspend req) (do (ok :ok) [state true])
      (= :resume req) (do (ok :ok) [state false])
      (= :statistics req) (do (ok {:start-ms start-ms :now-ms (t/monotonic-ms) :messages-in handled})
                              [state suspended?])
      :else (do (reply from [:error (error :badarg (str "unknown system request " (pr-str req)
                                                        "; see tasklet.sys")
                                           {:request req})])
                [state suspended?]))))

(defn- serve [impl parent state start-ms]
  (loop [state state handled 0 suspended? false]
    (let [m (if suspended?
              (t/receive-fn (suspended-matcher parent))
              (t/receive-fn any-message))]
      (if (and (system-message? m) (not (:handle-system? impl)))
        (let [[state' suspended'] (system-reply (nth m 1) (nth m 2) state suspended? handled start-ms)]
          (recur state' handled suspended'))
        (let [r (try
                  (handle impl parent state m)
                  (catch TaskletExit e
                    ;; an exit signal ends the server at once (as in OTP); the
                    ;; handler's own (exit reason) goes through :terminate
                    (if (.exitSignalled (Node/currentTasklet))
                      (throw e)
                      (Stop. (.-reason e) state nil nil)))
                  (catch Throwable e (Stop. e state nil nil)))]
          (if (instance? Stop r)
            (finish impl r m)
            (recur r (inc handled) suspended?)))))))

(defn- init-state [impl arg opts starter]
  (let [name (:name opts)]
    (try
      (when name (t/register name (self)))
      (if-let [f (:init impl)] (f arg) arg)
      (catch Throwable e (fail-start! starter name e)))))

(defn- run* [impl arg opts]
  (let [start-ms (t/monotonic-ms)   ; before :init, so before start returns (sys/statistics)
        starter (claim-starter)
        parent (when (nth starter 2 false) (nth starter 0))
        state (init-state impl arg opts starter)]
    (ack! starter :ok)
    (serve impl parent state start-ms)))

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
  ([impl arg] (run* impl arg nil))
  ([impl arg opts] (run* impl arg opts)))

(acking! run)

;; ---------------------------------------------------------------------------
;; Starting

(defn- check-impl [impl]
  (when-not (map? impl)
    (throw (error :badarg (str "a server implementation is a map of handler functions, got "
                               (pr-str impl))
                  {:impl impl})))
  (doseq [k [:init :handle-call :handle-cast :handle-info :terminate]]
    (when-let [f (get impl k)]
      (when-not (function? f)
        (throw (error :badarg (str "server implementation key " k " must be a function, got "
                                   (pr-str f))
                      {:key k :value f}))))))

(defn start
  "Start a server (see `run` for impl) unlinked, and return its pid once
  (:init impl) has returned. Throws what :init threw (the server then never
  ran), or ex-info {:tasklet/error :badarg} for a malformed impl or options, or
  when the {:name kw} option names a name already taken.

  Options: {:name kw} registers the server as kw before :init runs."
  (^Pid [impl arg] (start impl arg nil))
  (^Pid [impl arg opts]
   (check-impl impl)
   (check-start-opts "server" ":my-server" opts)
   (start-sync #'run [impl arg opts] false)))

(defn start-link
  "As `start`, and link the caller to the server (atomically, before :init
  runs). If :init throws, the server unlinks first, so the caller gets the
  exception, not an exit signal."
  (^Pid [impl arg] (start-link impl arg nil))
  (^Pid [impl arg opts]
   (check-impl impl)
   (check-start-opts "server" ":my-server" opts)
   (start-sync #'run [impl arg opts] true)))

;; ---------------------------------------------------------------------------
;; Calling

(defn- node-name ^String [n]
  (if (keyword? n) (name n) (str n)))

(defn- resolve-server
  "A local pid, or a remote pid or [name node] (left to distribution)."
  [server]
  (cond
    (instance? Pid server) server
    (keyword? server)
    (or (t/whereis server)
        (throw (error :noproc (str "no server is registered as " server
                                   "; check the name, or start the server first")
                      {:server server})))
    (and (vector? server) (= 2 (count server)) (keyword? (nth server 0)))
    (if (= (node-name (nth server 1)) (.-name (Node/current)))
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

(defn- mark-mailbox!
  "Mark the caller's mailbox (tasklet.core/mark-mailbox!) before the monitor
  and the request, so the reply scan skips any backlog; returns the mailbox so
  an error before the receive can drop the mark with .endScan."
  ^Mailbox []
  (t/mark-mailbox!)
  (.mailbox (Node/currentTasklet)))

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

(defn ^:no-doc call-with
  "The call machinery behind `call` (and tasklet.sys): send dest (make-msg
  from) and wait for the `reply` to from, with call's timeouts and errors;
  `request` is what error messages and ex-data name."
  [dest make-msg request timeout-ms]
  (check-timeout timeout-ms)
  (let [mb (mark-mailbox!)
        mref (try (send-call! dest make-msg false)
                  (catch Throwable e (.endScan mb) (throw e)))
        m (t/receive-fn (reply-or-down mref) timeout-ms t/timeout-marker true)]
    (outcome m dest request timeout-ms mref)))

(defn- call* [dest request timeout-ms]
  (call-with dest (fn [from] [:tasklet/call from request]) request timeout-ms))

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
  ([server request timeout-ms]
   (let [dest (resolve-server server)]
     (when (= dest (self))
       (throw (error :badarg (str "a server cannot call itself (" (pr-str server)
                                  "); handle the request directly")
                     {:server server :request request})))
     (call* dest request timeout-ms))))

(defn ^:no-doc system-call
  "tasklet.sys's request: send [:tasklet/system from request] to server with
  call's machinery (timeouts, errors) and return the reply value, [:ok v] or
  [:error throwable]."
  [server request timeout-ms]
  (let [dest (resolve-server server)]
    (when (= dest (self))
      (throw (error :badarg (str "a process cannot send system requests to itself (" (pr-str server) ")")
                    {:server server :request request})))
    (call-with dest (fn [from] [:tasklet/system from request]) request timeout-ms)))

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
  (let [dest (resolve-server* server)]
    {:tasklet/request-id (send-call! dest (fn [from] [:tasklet/call from request]) true)
     :server dest
     :request request}))

(defn- check-request-id ^Ref [rid]
  (let [r (:tasklet/request-id rid)]
    (when-not (instance? Ref r)
      (throw (error :badarg (str "not a request id from send-request: " (pr-str rid)) {:request-id rid})))
    r))

(defn receive-response
  "Wait up to timeout-ms (nil or :infinity: for ever) for the response to
  request id rid and return the reply; throws as `call` does. On
  {:tasklet/error :timeout} the request stays in flight: rid is still valid
  (receive-response or check-response may take its reply later), as in OTP.
  After a reply or an :exit/:noproc, rid is used up."
  [rid timeout-ms]
  (check-timeout timeout-ms)
  (let [mref (check-request-id rid)
        m (t/receive-fn (reply-or-down mref) timeout-ms t/timeout-marker)]
    (if (identical? t/timeout-marker m)
      (throw (timeout-error (:server rid) (:request rid) timeout-ms))
      (outcome m (:server rid) (:request rid) timeout-ms mref))))

(defn check-response
  "Whether msg, a message the caller received, is the response to request id
  rid: [:reply r] when it is the reply (rid is then used up); :no-reply when
  msg is something else. A :DOWN of rid's server throws as `call` does.
  For a receive loop that serves other messages while requests are in
  flight (OTP's gen_server:check_response)."
  [msg rid]
  (let [mref (check-request-id rid)]
    (if-let [m ((reply-or-down mref) msg)]
      [:reply (outcome m (:server rid) (:request rid) nil mref)]
      :no-reply)))

(defn cast
  "Send message to server asynchronously, for its :handle-cast; returns nil at
  once. As in OTP a cast never fails: a dead server, an unregistered name or an
  unreachable node drop it silently. server is a pid, a registered name or
  [name node]."
  [server message]
  (try
    (! server [:tasklet/cast message])
    (catch ExceptionInfo e
      (when-not (#{:noproc :not-connected} (:tasklet/error (ex-data e)))
        (throw e))))
  nil)
