(ns tasklet.core
  "Erlang's processes for Clojure: spawn lightweight tasklets, send them
  messages with `!`, take messages with the pattern-matching `receive`, and
  build fault tolerance from links, monitors and exit signals (doc/reference.md §1-2).

  Strands. A tasklet runs on one of three strands, chosen once per node when
  the node is made (see `runtime-info`):
  - continuation: a raw jdk.internal.vm.Continuation on the kernel's own
    work-stealing scheduler; the default when the JVM runs with
    --add-exports java.base/jdk.internal.vm=ALL-UNNAMED.
  - virtual: one virtual thread per tasklet; the fallback without that flag.
  - thread: a plain thread (the REPL, a future, -main) gets its own pid and
    mailbox the first time it calls `self` or `receive`.

  Where exit signals take effect. The JVM cannot preempt a running tasklet,
  so a tasklet acts on an exit signal that ends it (a non-trapped signal, or
  :kill) at the next of these points, and only there:
  - `receive`: on entry and at every wake-up while it waits (a waiting
    tasklet is woken by the signal, so it ends at once);
  - every `!` to a local pid (a send is a reduction, as in Erlang);
  - `check-signals!`, for long computations that neither send nor receive;
  - when its function returns: a signal that came meanwhile wins over
    :normal.
  A CPU-bound loop with none of these runs to its end before a signal (even
  :kill) ends it: call `check-signals!` in such loops. `alive?` and
  `process-info` already report a tasklet with such a signal pending as not
  alive.

  Dynamic bindings belong to the tasklet: `spawn` conveys the caller's
  bindings (as `future` does), and a `binding` made inside a tasklet holds
  across `receive` and is never seen by another tasklet: the kernel saves the
  frame when a tasklet suspends and restores it when it resumes. Other
  ThreadLocals do not travel. On the continuation strand a tasklet always
  resumes on the worker thread it first ran on (its home: the JIT may keep
  Thread.currentThread() across a suspension, so moving a started tasklet to
  another thread is unsound), so a ThreadLocal it reads is that worker's,
  shared with every other tasklet homed there: never keep tasklet state in
  one across a `receive`. On the virtual strand ThreadLocals belong to the
  tasklet's own virtual thread.

  System properties, read once when the node is made (first use):
  - tasklet.strand       \"continuation\" | \"virtual\" (default: continuation
                         when available)
  - tasklet.workers      scheduler threads (default: available processors)
  - tasklet.max-workers  ceiling with compensation for blocked workers (256)
  - tasklet.reductions   messages a tasklet may take before it yields (2000)
  - tasklet.idle-spin-us how long an idle worker polls for work, yielding its
                         CPU, before it parks (100; 0 parks at once)"
  (:refer-clojure :exclude [flush alias])
  (:require [clojure.core.match]
            [tasklet.impl.crash :as crash]
            [tasklet.impl.scheduler-stats :as scheduler-stats]
            [tasklet.impl.receive :as rcv])
  (:import [clojure.lang IFn Var]
           [java.util List Map]
           [tasklet.kernel Aliases Context Links Mailbox Monitors Node NodeTable Pid ProcessTimers Ref Signals Tasklet TaskletExit
            Terms Timer]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; The terms the kernel speaks, installed before the first node is made.

(defn- error-data [kind kvs]
  (into {:tasklet/error (keyword kind)}
        (map (fn [[k v]] [(keyword k) v]))
        (partition 2 kvs)))

(def ^:private terms
  (reify Terms
    (normal [_] :normal)
    (kill [_] :kill)
    (killed [_] :killed)
    (noproc [_] :noproc)
    (noconnection [_] :noconnection)
    (exitMessage [_ from reason] [:EXIT from reason])
    (downMessage [_ ref who reason] [:DOWN ref :process who reason])
    (mailboxOverflow [_ limit] [:mailbox-overflow limit])
    (error [_ kind message kvs] (ex-info message (error-data kind kvs)))))

(def ^:private bindings-context
  (reify Context
    (capture [_] (Var/getThreadBindingFrame))
    (install [_ frame] (when frame (Var/resetThreadBindingFrame frame)))))

(Node/install terms bindings-context)

(defn- badarg [message data]
  (ex-info message (assoc data :tasklet/error :badarg)))

;; ---------------------------------------------------------------------------
;; Identity

(defn- node ^Node [] (Node/current))

(defn ^:no-doc current-tasklet
  "The calling tasklet (a plain thread adopts a pid on first use)."
  ^tasklet.kernel.Tasklet []
  (let [t (Node/currentTasklet)]
    (if (and t (.isAlive t)) t (.self (Node/local)))))

(defn- me ^Tasklet [] (current-tasklet))

(defn self
  "The calling tasklet's pid. On a plain thread (the REPL, a future, -main) it
  is that thread's own pid, with a mailbox, so `receive` works there too."
  ^Pid []
  (.pid (me)))

(defn make-ref
  "A fresh reference, unique on this node incarnation: tag a request with it so
  its reply can be matched (a local bound in a receive pattern matches by value)."
  ^Ref []
  (.makeRef (node)))

(defn pid?
  "True when x is a pid."
  [x]
  (instance? Pid x))

(defn runtime-info
  "How this node runs tasklets: {:strand :continuation|:virtual, :node name,
  :scheduler stats-or-nil, :java version}."
  []
  (let [n (node)]
    {:strand (keyword (.strandName n))
     :node (keyword (.-name n))
     :processes (.processCount n)
     :scheduler (scheduler-stats/->map (.schedulerStats n))
     :java (System/getProperty "java.version")}))

(defn monotonic-ms
  "Monotonic time in milliseconds by the clock of the calling tasklet's node
  (Erlang's erlang:monotonic_time(millisecond)): the clock that `receive`'s
  `after` counts by. Measure intervals between tasklet events with it, not
  with System/nanoTime: on a node with virtual time (tasklet.test's
  deterministic scheduler) it follows the virtual clock, so a timeout and a
  measured interval agree. Only differences between two readings mean
  anything."
  ^long []
  (quot (.nanoTime (.clock (.timers (node)))) 1000000))

;; ---------------------------------------------------------------------------
;; Spawning

(defn- check-fn [f what]
  (when-not (or (fn? f) (var? f) (instance? clojure.lang.MultiFn f))
    (throw (badarg (str what " needs a function (a fn, a defn's var or a multimethod), got "
                        (pr-str f) "; wrap data in (fn [] ...)")
                   {:fn f}))))

(defn- body
  "A no-argument function calling f with args. Unrolled so that a parked
  tasklet's stack holds no apply frames (they cost heap per waiting tasklet)."
  ^IFn [^IFn f args]
  (let [[a b c d & more] args]
    (case (count args)
      0 f
      1 (fn [] (.invoke f a))
      2 (fn [] (.invoke f a b))
      3 (fn [] (.invoke f a b c))
      4 (fn [] (.invoke f a b c d))
      (fn [] (apply f args)))))

(def ^:private top-frame
  "Clojure's empty binding frame, as a thread with no bindings sees it."
  (let [p (promise)]
    (doto (Thread. (fn [] (deliver p (Var/getThreadBindingFrame)))) (.start) (.join))
    @p))

(def ^:private conveyed
  "The last [frame clone] pair: many spawns from one caller share one clone."
  (volatile! [nil nil]))

(def ^:private ^java.lang.reflect.Field frame-prev
  "Clojure's Var$Frame.prev (the frame a `binding` pops back to), or nil where
  this Clojure has none."
  (try
    (doto (.getDeclaredField (Class/forName "clojure.lang.Var$Frame") "prev") (.setAccessible true))
    (catch Throwable _ nil)))

(defn- base-frame?
  "Whether frame f has nothing to pop back to, so that f is as good as its
  clone (Frame.clone keeps the bindings and drops prev)."
  [f]
  (and frame-prev (nil? (.get frame-prev f))))

(defn- conveyed-frame
  "The caller's dynamic bindings for a new tasklet, as future conveys them.
  Frames are immutable once made, so spawns under the same frame share one
  clone, and a caller outside any `binding` (a tasklet at its own base frame)
  shares that frame itself with the new tasklet: tasklets that share a frame
  switch on a worker without reinstalling it (Tasklet.installContext)."
  []
  (let [f (Var/getThreadBindingFrame)]
    (if (or (identical? f top-frame) (base-frame? f))
      f
      (let [[k v] @conveyed]
        (if (identical? k f)
          v
          (let [c (Var/cloneThreadBindingFrame)]
            (vreset! conveyed [f c])
            c))))))

(defn spawn-fn
  "The function under `spawn` and `spawn-opt`: starts a tasklet running
  (apply f args) with the given options map (see `spawn-opt`). Returns the
  pid, or [pid ref] with :monitor."
  [f args {:keys [link monitor max-mailbox on-max-mailbox]}]
  (check-fn f "spawn")
  (let [n (node)
        caller (when (or link monitor) (me))
        ref (when monitor (.makeRef n))
        f-body (body f args)
        ctx (conveyed-frame)
        pid (if max-mailbox
              (.spawn n f-body f ctx (when link caller) (when monitor caller) ref
                      (int max-mailbox) (= :drop-newest on-max-mailbox))
              (.spawn n f-body f ctx (when link caller) (when monitor caller) ref))]
    (if monitor [pid ref] pid)))

(defn spawn-opt
  "Start a tasklet running (apply f args), as `spawn`, with options (Erlang's
  spawn_opt):
  - :link true            link the caller to it atomically (as `spawn-link`)
  - :monitor true         monitor it atomically; returns [pid ref] (as
                          `spawn-monitor`)
  - :max-mailbox n        a limit of n queued messages (a positive integer)
  - :on-max-mailbox       what a message past the limit does:
      :kill (default)     the tasklet ends with reason [:mailbox-overflow n]
                          (untrappable, like Erlang's max_heap_size kill) and
                          a crash report ({:tasklet/error :mailbox-overflow})
      :drop-newest        that message is dropped and counted
  `process-info` shows :max-mailbox and :dropped. Every message counts,
  signals delivered as messages ([:EXIT ...], [:DOWN ...]) included. Throws
  ex-info {:tasklet/error :badarg} for a bad option.

    (spawn-opt {:max-mailbox 10000 :on-max-mailbox :drop-newest} #'my.app/sink)"
  [opts f & args]
  (when-not (map? opts)
    (throw (badarg (str "spawn-opt takes an options map first, got " (pr-str opts)) {:opts opts})))
  (let [{:keys [max-mailbox on-max-mailbox]} opts]
    (when-not (or (nil? max-mailbox) (and (integer? max-mailbox) (< 0 max-mailbox Integer/MAX_VALUE)))
      (throw (badarg (str "spawn-opt's :max-mailbox is a positive integer, got " (pr-str max-mailbox))
                     {:opts opts})))
    (when-not (contains? #{nil :kill :drop-newest} on-max-mailbox)
      (throw (badarg (str "spawn-opt's :on-max-mailbox is :kill or :drop-newest, got " (pr-str on-max-mailbox))
                     {:opts opts})))
    (when-let [unknown (seq (remove #{:link :monitor :max-mailbox :on-max-mailbox} (keys opts)))]
      (throw (badarg (str "spawn-opt does not know the options " (pr-str unknown)
                          "; use :link :monitor :max-mailbox :on-max-mailbox")
                     {:opts opts}))))
  (spawn-fn f args opts))

(defn spawn
  "Start a tasklet running (apply f args) on this node; returns its pid at once.
  f is a fn, a defn's var, or a multimethod. The caller's dynamic bindings are
  conveyed. Throws ex-info {:tasklet/error :badarg} when f is not a function.
  For options (a mailbox limit), see `spawn-opt`."
  ^Pid [f & args]
  (spawn-fn f args nil))

(defn spawn-link
  "As `spawn`, and atomically link the caller to the new tasklet (it cannot end
  before the link exists)."
  ^Pid [f & args]
  (spawn-fn f args {:link true}))

(defn spawn-monitor
  "As `spawn`, and atomically monitor it; returns [pid ref]."
  [f & args]
  (spawn-fn f args {:monitor true}))

;; ---------------------------------------------------------------------------
;; Messages

(defn- node-name ^String [n]
  (cond (keyword? n) (name n) (string? n) n
        :else (throw (badarg (str "a node is named by a keyword, got " (pr-str n)) {:node n}))))

(defn send-msg
  "The function under `!`: send msg to dest (a pid, a registered keyword,
  [name node], or an alias); returns msg."
  [dest msg]
  (cond
    (instance? Pid dest) (Node/send dest msg)
    (keyword? dest) (.sendNamed (node) dest msg)
    (instance? Ref dest) (Aliases/send dest msg)
    (and (vector? dest) (= 2 (count dest)) (keyword? (nth dest 0)))
    (.sendNamed (node) (nth dest 0) (node-name (nth dest 1)) msg)
    :else (throw (badarg (str "! sends to a pid, a registered keyword, [name node] or an alias, not "
                              (pr-str dest))
                         {:dest dest})))
  msg)

(defn !
  "Send msg to dest asynchronously and return msg. dest is a pid, a registered
  name (keyword), [name node], or an alias (see `alias`). Never blocks on a
  local destination. A dead pid or an inactive alias drops the message
  silently (as in Erlang); a name nobody registered throws ex-info
  {:tasklet/error :noproc, :name name}."
  {:inline (fn [dest msg] `(send-msg ~dest ~msg))}
  [dest msg]
  (send-msg dest msg))

(def ^:no-doc timeout-marker
  "Returned by receive-fn on timeout; used by the expansion of `receive`. A
  Matched, so that a receive's bare-value clause (tasklet.impl.receive) wraps
  a message that is this object and it is never taken for a timeout."
  tasklet.kernel.Matched/TIMEOUT)

(defn ^:no-doc timeout-nanos
  "receive's timeout in ms (nil or :infinity: for ever, as -1) in nanoseconds."
  ^long [ms]
  (cond
    (or (nil? ms) (= :infinity ms)) -1
    (and (number? ms) (not (neg? (double ms)))) (long (* 1000000.0 (double ms)))
    :else (throw (badarg (str "receive: after's timeout must be milliseconds (a non-negative number), "
                              "nil or :infinity, got " (pr-str ms))
                         {:timeout ms}))))

(defn mark-mailbox!
  "Remember the current end of the caller's mailbox, for a call-style
  request/reply: mark, then monitor and send the request, then `receive-fn`
  with from-mark true, which looks only at messages that arrived after the
  mark, so a backlog of unrelated messages is never scanned (Erlang's receive
  marker). No other receive may run between the mark and that receive.
  Returns nil."
  []
  (.mark (.mailbox (me)))
  nil)

(defn receive-fn
  "The function under `receive`: takes the first message (oldest first) for
  which (matcher msg) is non-nil, removes it and returns the matcher's result.
  With timeout-ms (nil or :infinity: for ever) returns `timeout-value` when
  nothing matched in time. With from-mark true, only messages that arrived
  after the last `mark-mailbox!` are considered."
  ([matcher] (receive-fn matcher nil nil))
  ([matcher timeout-ms timeout-value]
   (.receive (me) matcher (timeout-nanos timeout-ms) timeout-value false))
  ([matcher timeout-ms timeout-value from-mark]
   (.receive (me) matcher (timeout-nanos timeout-ms) timeout-value (boolean from-mark))))

(defmacro receive
  "Selective receive. Clauses are `pattern body` pairs, where patterns are
  clojure.core.match patterns matched against the whole message. Optionally
  last: (after ms body...).

    (receive
      [:log message]  (do (.write w message) (recur w))
      [:stop]         (die)
      {:op :add :n (n :guard pos?)} (+ acc n)
      (after 1000     :timeout))

  Only locals match by value: a symbol bound by an enclosing let, loop or fn
  matches the message's part equal to its value; any other symbol binds, even
  one that names a var. So at the REPL, after (def p (spawn ...)),
  [:EXIT p reason] takes the first EXIT from anyone and binds p to its pid;
  write (let [p p] (receive [:EXIT p reason] ...)), or compare in a guard:
  [:EXIT (q :guard #(= p %)) reason].

  The mailbox is scanned oldest first; the first message matching any clause
  (clauses tried in order) is removed and its body runs, in tail position, so
  `recur` reaches an enclosing loop or fn. Messages matching no clause stay, in
  order, for later receives. A guard that throws counts as no match for that
  clause. Without `after` it waits for ever; (after 0 ...) only looks at what
  is there; an ms of nil or :infinity waits for ever. Callable from any
  function at any depth, and on plain threads. A waiting tasklet holds no
  thread (on the continuation and virtual strands).

  Interrupting a thread that waits here (Thread.interrupt: the REPL's or
  nREPL's interrupt, Future.cancel) ends the wait at once with ex-info
  {:tasklet/error :interrupted} and the thread's interrupt status cleared.
  Nothing is lost: the thread keeps its pid, every message (one sent before,
  during or after the interrupt) stays in its mailbox for the next receive."
  [& clauses]
  (let [[pairs after] (rcv/parse &form clauses)
        env (set (keys &env))
        result (gensym "result")
        matcher (cond-> (rcv/matcher-form pairs env)
                  (not (rcv/closes-over? pairs env)) rcv/hoisted-form)]
    (if after
      (let [[ms after-body] after]
        `(let [~result (.receive (current-tasklet) ~matcher (timeout-nanos ~ms) timeout-marker false)]
           (if (identical? ~result timeout-marker)
             (do ~@after-body)
             ~(if (seq pairs) (rcv/body-form result pairs env) nil))))
      `(let [~result (.receive (current-tasklet) ~matcher)]
         ~(rcv/body-form result pairs env)))))

;; ---------------------------------------------------------------------------
;; Exits, links, monitors

(defn- check-pid [x what]
  (when-not (instance? Pid x)
    (throw (badarg (str what " needs a pid, got " (pr-str x)) {:pid x}))))

(defn exit
  "(exit reason): end the calling tasklet with reason.
  (exit pid reason): send pid an exit signal. The target, unless it traps
  exits, ends with reason; :normal is ignored unless sent to oneself; :kill
  cannot be trapped and ends the target with :killed. A trapping target gets
  [:EXIT from reason] instead. The target acts on a signal that ends it at
  its next receive, send or `check-signals!` (see the ns docstring), but
  `alive?` and `process-info` from the caller already see it gone."
  ([reason] (.exitNow (me) reason))
  ([pid reason]
   (check-pid pid "exit")
   (Signals/exit (me) pid reason)
   true))

(defn die
  "(exit :normal): end the calling tasklet normally."
  []
  (exit :normal))

(defn link
  "Link the caller and pid both ways: when either ends with a reason other than
  :normal, the other gets the exit signal. Linking to a dead pid sends the
  caller an exit signal :noproc. Returns true."
  [pid]
  (check-pid pid "link")
  (Links/link (me) pid)
  true)

(defn unlink
  "Remove the link between the caller and pid, if any. Returns true."
  [pid]
  (check-pid pid "unlink")
  (Links/unlink (me) pid)
  true)

(defn- monitor-with-ref
  "Set up the monitor of dest for tasklet t under the fresh ref (the kernel
  routes it to a local or a remote target); returns ref."
  ^Ref [^Tasklet t dest ^Ref ref]
  (cond
    (instance? Pid dest) (Monitors/monitor t ^Pid dest ref)
    (keyword? dest) (Monitors/monitorName t dest nil dest ref)
    (and (vector? dest) (= 2 (count dest)))
    (Monitors/monitorName t (nth dest 0) (node-name (nth dest 1)) dest ref)
    :else (throw (badarg (str "monitor needs a pid, a keyword or [name node], got " (pr-str dest))
                         {:dest dest}))))

(defn- monitor-dest
  "Set up the monitor of dest for tasklet t; its ref."
  ^Ref [^Tasklet t dest]
  (monitor-with-ref t dest (.makeRef (.node t))))

(defn monitor
  "Monitor dest (a pid, a registered name, or [name node]); returns a ref. When
  the target ends the caller gets [:DOWN ref :process pid reason]; a dead
  target or an unknown name gives [:DOWN ref :process pid-or-dest :noproc] at
  once; a lost node gives :noconnection.

  With {:alias :demonitor}, the ref is also an alias of the caller (see
  `alias`), active exactly while the monitor is: it is deactivated when the
  :DOWN is delivered or by `demonitor` (EEP 53's {alias, demonitor}); with
  {:alias :reply-demonitor}, also by the first message through it. This is
  how a call gets its reply: the server answers through the ref, and once
  the caller gives up (demonitor), a late answer is dropped."
  (^Ref [dest]
   (monitor-dest (me) dest))
  (^Ref [dest {alias-mode :alias :as opts}]
   (let [mode (case alias-mode
                nil nil
                :demonitor Aliases/DEMONITOR
                :reply-demonitor (bit-or Aliases/DEMONITOR Aliases/REPLY)
                (throw (badarg (str "monitor's :alias option is :demonitor or :reply-demonitor, got "
                                    (pr-str alias-mode))
                               {:opts opts})))
         t (me)]
     (if mode
       ;; the alias first, so a reply sent the moment the target sees the monitor finds it
       (let [r (.makeRef (.node t))]
         (Aliases/alias t r (int mode))
         (monitor-with-ref t dest r))
       (monitor-dest t dest)))))

(defn demonitor
  "Remove the monitor ref (and deactivate it as an alias, if it was made
  with {:alias ...}). With {:flush true}, also remove a [:DOWN ref ...]
  message for it already in the mailbox. Returns true."
  ([ref] (demonitor ref nil))
  ([ref {:keys [flush]}]
   (when-not (instance? Ref ref)
     (throw (badarg (str "demonitor needs the ref that monitor returned, got " (pr-str ref)) {:ref ref})))
   (let [t (me)
         active? (Monitors/demonitor t ref)]
     (Aliases/unalias t ref)   ; a monitor's alias ({:alias :demonitor}) goes with it
     ;; a live monitor never delivers its :DOWN once removed; one that fired
     ;; has its :DOWN in the mailbox already (the kernel decides both under
     ;; the caller's lock): scan only then
     (when (and flush (not active?))
       (.receive t (fn [m] (when (and (vector? m) (= :DOWN (nth m 0 nil)) (= ref (nth m 1 nil))) m))
                 0 nil false))
     true)))

(defn alias
  "A fresh alias of the caller (EEP 53): a ref that `!` delivers to the
  caller while the alias is active; once it is deactivated, messages sent
  through it are dropped by the kernel, on this node or any other (an alias
  crosses nodes as a ref does). (alias) stays active until `unalias` or the
  caller's end; (alias {:reply true}) is deactivated by the first message
  that arrives through it. Only the caller may deactivate it.

    (let [a (alias {:reply true})]
      (! a :first) (! a :second)
      (receive m m (after 100 :none)))   ; => :first; :second was dropped"
  (^Ref [] (alias nil))
  (^Ref [{:keys [reply] :as opts}]
   (when-not (or (nil? opts) (map? opts))
     (throw (badarg (str "alias takes an options map like {:reply true}, got " (pr-str opts)) {:opts opts})))
   (let [t (me)
         r (.makeRef (.node t))]
     (Aliases/alias t r (if reply Aliases/REPLY Aliases/EXPLICIT))
     r)))

(defn unalias
  "Deactivate alias a of the caller: from now on a message sent through it
  is dropped (one sent before is in the mailbox already). Returns true when
  it was active, false otherwise (or when a is not the caller's)."
  [a]
  (when-not (instance? Ref a)
    (throw (badarg (str "unalias needs an alias (a ref from alias), got " (pr-str a)) {:alias a})))
  (Aliases/unalias (me) a))

(defn check-signals!
  "A cheap point for long computations where signals take effect (Erlang
  preempts by reductions; the JVM cannot, see the ns docstring): when an exit
  signal that ends the calling tasklet is pending, end it now (unwinding its
  stack as `exit` does); else count one reduction, and when its time slice
  is spent (tasklet.reductions) let the worker run other tasklets before it
  goes on. Costs a volatile read and an increment otherwise. Returns nil.

    (loop [i 0 acc 0]
      (when (zero? (rem i 10000)) (check-signals!))
      (if (< i n) (recur (inc i) (+ acc i)) acc))"
  []
  (.checkSignals (me))
  nil)

(defn trap-exit!
  "Set the caller's trap-exit flag: while on, exit signals arrive as
  [:EXIT from reason] messages (except :kill). Returns the old value."
  [on?]
  (Signals/trapExit (me) (boolean on?)))

;; ---------------------------------------------------------------------------
;; Registry and introspection

(defn register
  "Register pid under keyword name on this node; returns true. The name is
  freed when the tasklet ends. Throws ex-info {:tasklet/error :badarg} when the
  name is taken, the pid already has a name, or the pid is dead."
  [name pid]
  (when-not (keyword? name)
    (throw (badarg (str "register needs a keyword name, got " (pr-str name)) {:name name})))
  (check-pid pid "register")
  (.register (node) name pid)
  true)

(defn unregister
  "Remove a registered name; returns true. Throws :badarg when nobody has it."
  [name]
  (.unregister (node) name)
  true)

(defn whereis
  "The pid registered as name on this node, or nil."
  [name]
  (.whereis (node) name))

(defn registered
  "All names registered on this node."
  []
  (vec (.registered (node))))

(defn alive?
  "True while the tasklet pid runs (a local or a remote pid). Ordered after
  the caller's own signals, as Erlang's is_process_alive: once the caller has
  sent pid an exit signal that will end it (say (exit pid :kill)), alive?
  from that caller is false, even if pid has not yet run to act on it. A
  remote pid is asked over the same connection as the caller's signals, so
  the same holds across nodes."
  [pid]
  (check-pid pid "alive?")
  (Node/isAlive pid))

(declare node-layer)

(defn- remote-process-info
  "process-info of pid on another node, asked of that node through the node
  layer (nil without one: then no distribution ever started)."
  [^Pid pid]
  (when-let [ask (:process-info @node-layer)]
    (try (ask pid)
         (catch clojure.lang.ExceptionInfo e
           (throw (ex-info (str "process-info of " pid " asks node " (.-node pid) ": " (ex-message e))
                           (assoc (ex-data e) :pid pid) e))))))

(defn ^:no-doc tasklet-info
  "process-info of live tasklet t of this JVM, whichever node it is of (the
  node protocol answers a peer's :info with it); nil when it is dead or an
  exit signal that ends it is pending."
  [^Tasklet t]
  (when-let [m (Signals/info t)]
    (into {}
          (map (fn [[k v]]
                 (let [k (keyword k)]
                   [k (case k
                        (:status :strand) (keyword v)
                        (:links :monitors :monitored-by) (vec v)
                        v)])))
          ^Map m)))

(defn process-info
  "A map describing a live tasklet: :status (:running :runnable :waiting),
  :mailbox-size, :links, :monitors, :monitored-by, :trap-exit,
  :registered-name, :initial-fn, :reductions (messages taken), :strand,
  :max-mailbox (the spawn-opt limit, or nil) and :dropped (messages its
  :drop-newest limit refused). nil when dead, or (as for `alive?`) when an
  exit signal that ends it is pending. A pid of another node is asked of that
  node (a round trip; its :initial-fn is a symbol or a string there), which
  throws the ex-info of the failed request (:not-connected, :timeout) naming
  process-info and the node; without distribution such a pid gives nil, as
  `alive?` gives false."
  [pid]
  (check-pid pid "process-info")
  (if-let [t (Node/reach pid)]
    (tasklet-info t)
    (when (.remoteFor (node) ^Pid pid)
      (remote-process-info pid))))

(defn processes
  "The pids of all live tasklets on this node."
  []
  (vec (.processes (node))))

(defn schedule
  "Spawn (apply f args) and wait for it to end: returns its return value, or
  rethrows the exception it died of (another exit reason throws ex-info
  {:tasklet/error :exit :reason r}); the rethrow is that crash's only report.
  Callable from a plain thread or a tasklet; a tasklet waits without
  blocking its worker. Interrupting a waiting thread (the REPL's interrupt)
  kills the scheduled tasklet and throws ex-info {:tasklet/error
  :interrupted}, leaving no reply or :DOWN behind in the caller's mailbox
  (a function that never reaches a send or receive cannot be stopped: it
  runs on, and its reply is dropped if it comes within a second)."
  [f & args]
  (check-fn f "schedule")
  (let [me (self)
        tag (make-ref)
        ;; a throw is handed to the caller, who rethrows it: ending with exit
        ;; (same reason for links and the DOWN) makes no second crash report
        run (fn []
              (! me [tag (try (apply f args)
                              (catch TaskletExit e (throw e))
                              (catch Throwable e (exit e)))])
              nil)
        [pid mref] (spawn-fn run nil {:monitor true})]
    (try
      (receive
        [tag v] (do (demonitor mref {:flush true}) v)
        [:DOWN mref :process _ reason]
        (if (instance? Throwable reason)
          (throw reason)
          (throw (ex-info (str "scheduled function exited with reason " (pr-str reason))
                          {:tasklet/error :exit :reason reason}))))
      (catch clojure.lang.ExceptionInfo e
        (when (and (= :interrupted (:tasklet/error (ex-data e))) (alive? pid))
          ;; the caller stopped waiting: stop the work, and take what it sent
          (exit pid :kill)
          (receive [:DOWN mref :process _ _] nil (after 1000 (demonitor mref {:flush true})))
          (receive [tag _] nil (after 0 nil)))
        (throw e)))))

(defn flush
  "REPL helper: print and remove every message in the caller's mailbox; returns
  the count."
  []
  (loop [n 0]
    (let [m (receive-fn (fn [m] [m]) 0 timeout-marker)]
      (if (identical? m timeout-marker)
        n
        (do (println "Shell got" (pr-str (nth m 0)))
            (recur (inc n)))))))

;; ---------------------------------------------------------------------------
;; Timers (Erlang's send_after, exit_after, cancel_timer, read_timer)

(defn- timer-ms ^long [ms what]
  (when-not (and (integer? ms) (not (neg? ms)))
    (throw (badarg (str what " needs a delay in milliseconds (a non-negative integer), got " (pr-str ms))
                   {:ms ms})))
  (long ms))

(defn- timer-dest
  "[dest-for-the-kernel target-tasklet-or-nil] for a timer to dest: a local
  pid's tasklet is the target (its end cancels the timer)."
  [dest what]
  (cond
    (instance? Pid dest) [dest (Node/reach dest)]
    (keyword? dest) [dest nil]
    (instance? Ref dest) [dest nil]
    (and (vector? dest) (= 2 (count dest)) (keyword? (nth dest 0)))
    [[(nth dest 0) (node-name (nth dest 1))] nil]
    :else (throw (badarg (str what " sends to a pid, a registered keyword or [name node], not "
                              (pr-str dest))
                         {:dest dest}))))

(defn- user-timers ^ProcessTimers [] (.userTimers (node)))

(defn send-after
  "Send msg to dest after ms milliseconds of the node's clock (virtual under
  tasklet.test); returns a timer ref for `cancel-timer`/`read-timer` at once
  (Erlang's erlang:send_after/3). dest is a pid, a registered name,
  [name node] or an alias; a name is looked up when the timer fires (nobody registered
  then: the message is dropped). A timer to a local pid is cancelled when
  that tasklet ends: it never fires and retains nothing after that.
  Throws ex-info {:tasklet/error :badarg} for a bad delay or destination."
  ^Timer [ms dest msg]
  (let [ms (timer-ms ms "send-after")
        [d target] (timer-dest dest "send-after")]
    (.sendAfter (user-timers) (* ms 1000000) 0 d msg target)))

(defn exit-after
  "Send pid an exit signal with reason after ms milliseconds, as if the
  caller did (exit pid reason) then (so a trapping pid gets [:EXIT caller
  reason]); returns a timer ref (Erlang's timer:exit_after/3). Cancelled when
  pid ends first."
  ^Timer [ms pid reason]
  (let [ms (timer-ms ms "exit-after")]
    (check-pid pid "exit-after")
    (.exitAfter (user-timers) (* ms 1000000) pid reason (self) (Node/reach pid))))

(defn send-interval
  "Send msg to dest every ms milliseconds (ms > 0), the first time after ms,
  until `cancel-timer` stops it or dest (a local pid) ends; returns a timer
  ref (Erlang's timer:send_interval/3). With a name or [name node] as dest,
  the name is looked up at each send, and the timer stops when the caller
  ends. Sends are due at start + k*ms (no drift); after a stall it goes on
  from now."
  ^Timer [ms dest msg]
  (let [ms (timer-ms ms "send-interval")
        _ (when (zero? ms)
            (throw (badarg "send-interval needs an interval of at least 1 ms" {:ms ms})))
        [d target] (timer-dest dest "send-interval")]
    (.sendAfter (user-timers) (* ms 1000000) (* ms 1000000) d msg (or target (me)))))

(defn- check-timer ^Timer [tref what]
  (when-not (instance? Timer tref)
    (throw (badarg (str what " needs a timer ref (from send-after, exit-after or send-interval), got "
                        (pr-str tref))
                   {:timer tref})))
  tref)

(defn- nanos->ms [^long n]
  (if (neg? n) false (quot (+ n 999999) 1000000)))

(defn cancel-timer
  "Cancel a timer: returns the milliseconds it had left (rounded up), or
  false when it had already fired (a one-shot timer), or was cancelled. A
  cancelled timer never fires. Its message may already be in the mailbox
  when this returns false (as in Erlang)."
  [tref]
  (let [^Timer t (check-timer tref "cancel-timer")]
    (nanos->ms (.cancel t))))

(defn read-timer
  "The milliseconds a timer has left (rounded up), or false when it has
  fired or was cancelled."
  [tref]
  (let [^Timer t (check-timer tref "read-timer")]
    (nanos->ms (.read t))))

;; ---------------------------------------------------------------------------
;; Crash reports

(defn set-crash-handler!
  "Decide where crash reports go, for every node of this JVM (nodes made
  later by tasklet.node/start! included); returns the previous setting.

  A report is made once per crash: when a tasklet's function throws. Not for
  a tasklet that ends because a linked one crashed, not for a plain thread
  (its caller gets the exception), and not when the exception is handed to a
  waiting caller who rethrows it (`schedule`, a server's failed start, a
  supervisor's failed start-link). Supervisors' own reports (a failed
  restart, restart intensity exceeded) go the same way.

  h is one of:
  - :log (the default): one line per report through System.Logger
    (\"tasklet\", supervisors' \"tasklet.supervisor\") at ERROR (WARNING for a
    failed restart that will be retried): the pid, its registered name, its
    initial function by name, and the exception's class, message, ex-data
    (shortened) and top frame; no stack trace.
  - :log-stack-traces: the same, with the full stack trace.
  - :silent or nil: no reports.
  - a function of a report map, called on the crashed tasklet's strand (keep
    it short, and do not throw: a throw is logged and ignored):
      {:kind :crash (or :supervisor), :pid pid, :node :alpha,
       :initial-fn my.ns/worker (a symbol), :registered-name kw-or-nil,
       :reason the-throwable, :message \"the one line :log prints\"}
    (a :supervisor report has :kind, :level (:warning, :error), :pid,
    :message and :reason, the exception or nil).

    (set-crash-handler! :silent)
    (set-crash-handler! (fn [{:keys [message reason]}]
                          (clojure.tools.logging/error reason message)))

  Throws ex-info {:tasklet/error :badarg} for anything else. A JVM starts
  with the setting of the system property tasklet.crash-reports (log,
  log-stack-traces or silent; default log), e.g. a child node given
  -Dtasklet.crash-reports=silent in start-local-nodes!'s :jvm-opts."
  [h]
  (crash/set-handler! h))

(defn crash-handler
  "The current setting of `set-crash-handler!` (:log by default)."
  []
  (crash/handler-value))

;; ---------------------------------------------------------------------------
;; Printing and reading pids and refs

(defmethod print-method Pid [^Pid p ^java.io.Writer w]
  (.write w (str "#tasklet/pid [" (keyword (.-node p)) " " (.-serial p) " " (.-incarnation p) "]")))

(defmethod print-method Timer [^Timer t ^java.io.Writer w]
  (.write w (str "#<" t ">")))

(defmethod print-method Ref [^Ref r ^java.io.Writer w]
  (.write w (str "#tasklet/ref [" (keyword (.-node r)) " " (.-id r) " " (.-incarnation r) "]")))

;; A pasted literal in code: the compiler embeds a constant it has no
;; bytecode for by its print-dup text, read back when the code's class loads;
;; the tagged literal reads back through data_readers.clj, so
;; (! #tasklet/pid [:alpha 3 1] :x) evaluates and the constant equals the
;; printed pid.
(defmethod print-dup Pid [p ^java.io.Writer w] (print-method p w))

(defmethod print-dup Ref [r ^java.io.Writer w] (print-method r w))

(defn- read-triple [what form]
  (when-not (and (vector? form) (= 3 (count form)) (keyword? (form 0))
                 (integer? (form 1)) (integer? (form 2))
                 (<= Integer/MIN_VALUE (form 2) Integer/MAX_VALUE))
    (throw (badarg (str "#tasklet/" what " takes [node-keyword serial incarnation], the incarnation"
                        " a 32-bit integer, got " (pr-str form))
                   {:form form})))
  form)

(defn read-pid
  "Data reader for #tasklet/pid [node serial incarnation]. The literal also
  works in code: (! #tasklet/pid [:alpha 3 1] :x) sends to that pid."
  ^Pid [form]
  (let [[n s i] (read-triple "pid" form)]
    (Pid. (name n) (long s) (int i))))

(defn read-ref
  "Data reader for #tasklet/ref [node id incarnation]."
  ^Ref [form]
  (let [[n s i] (read-triple "ref" form)]
    (Ref. (name n) (long s) (int i))))

;; ---------------------------------------------------------------------------
;; Distribution: the node layer's hook
;;
;; tasklet.core knows nothing of tasklet.node (which needs the codec, Nippy,
;; and the transport: loading them costs start-up time that a program of one
;; node should not pay). The node layer installs itself here when it loads;
;; until then, there is no distribution on any node of this JVM, so only
;; this node is reachable and spawn-on runs here.

(defonce ^:private node-layer
  (atom nil))

(defn ^:no-doc install-node-layer!
  "Install the distribution layer (tasklet.node does, when it loads) that
  `spawn-on` and `process-info` of another node's pid delegate to: a map
  {:spawn-on (fn [node-or-f & args] pid), :process-info (fn [pid] map-or-nil)}.
  JVM-wide; the last call wins (a reloaded tasklet.node installs itself
  again). Returns nil. Internal, stable for the library's own namespaces."
  [layer]
  (reset! node-layer layer)
  nil)

(defn- spawn-var
  "Resolve (requiring its namespace) f, a var or a fully qualified symbol,
  to a var holding a function, as spawn-on does on its target; throws
  :badarg when it cannot."
  ^Var [f]
  (let [sym (cond (var? f) (symbol f)
                  (qualified-symbol? f) f
                  :else (throw (badarg (str "spawn-on needs a var (#'ns/f) or a fully qualified symbol,"
                                            " resolved on the target node; got " (pr-str f))
                                       {:fn f})))
        v (try (requiring-resolve sym)
               (catch Throwable e
                 (throw (badarg (str "spawn-on: cannot load the namespace of " sym " on node "
                                     (.-name (node)) ": " (.getMessage e)
                                     "; check that it is on that node's classpath and compiles")
                                {:fn sym}))))]
    (cond
      (nil? v) (throw (badarg (str "spawn-on: no var " sym " on that node; check the name") {:fn sym}))
      (not (let [x @v] (or (fn? x) (instance? clojure.lang.MultiFn x))))
      (throw (badarg (str "spawn-on: " sym " is not a function (a " (.getName (class @v)) ")") {:fn sym}))
      :else v)))

(defn- spawn-on-here
  "spawn-on without a node layer: this node is the only one reachable."
  [node-or-f args]
  (let [[nm f args] (if (or (keyword? node-or-f) (string? node-or-f))
                      [(node-name node-or-f) (first args) (rest args)]
                      [nil node-or-f args])
        n (node)]
    (when (and nm (not= nm (.-name n)))
      (throw (ex-info (str "distribution is not started on this node; call (tasklet.node/start! {:name ... "
                           ":cookie ...}) first")
                      {:tasklet/error :not-connected})))
    (let [v (spawn-var f)]
      ;; as on a remote target: the caller's bindings are not conveyed
      (.spawn n (body v args) v top-frame nil nil nil))))

(defn spawn-on
  "Spawn a tasklet on another node: (spawn-on node f & args) on node `node`
  (a keyword), or (spawn-on f & args) on the least loaded of this node and the
  child nodes started by tasklet.node/start-local-nodes!. f must be a var or a
  fully qualified symbol: it is resolved, its namespace required, on the
  target. Returns the pid. Throws ex-info {:tasklet/error :badarg} when f does
  not name a function there (nothing is spawned). See tasklet.node/spawn-on,
  to which this delegates once tasklet.node is loaded; before that no node
  of this JVM has distribution, so f runs on this node, and naming another
  node throws {:tasklet/error :not-connected}."
  [node-or-f & args]
  (if-let [f (:spawn-on @node-layer)]
    (apply f node-or-f args)
    (spawn-on-here node-or-f args)))
