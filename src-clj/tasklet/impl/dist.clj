(ns ^:no-doc tasklet.impl.dist
  "The node protocol above tasklet.net: the kernel's Distribution for one node,
  the transport Endpoint that serves its peers, and the bookkeeping that turns a
  lost connection into :noconnection and [:nodedown n].

  Application frames (payload: one Nippy-frozen vector, see tasklet.impl.codec):

    0x10 SEND        [to msg]               to: a pid, or an alias (a ref, EEP 53)
    0x11 SEND-NAMED  [name msg]
    0x12 LINK        [from to]              from (sender's side) links to to
    0x13 UNLINK      [from to]
    0x14 EXIT        [from to reason linked?]
    0x15 MONITOR     [watcher ref dest]     dest: a pid or [name node]
    0x16 DEMONITOR   [watcher ref dest]
    0x17 REQUEST     [id reply-to op arg]   op: :spawn :alive :info :whereis
    0x18 REPLY       [id reply-to status value]
    0x19 PEERS       {node-name address}    sent on connect: the address book
    0x1A DOWN        [watcher down-msg]     a monitor fired: [:DOWN ref :process dest reason]

  A monitor's [:DOWN ...] travels as DOWN, not SEND, so the receiving node
  can tell it from a message that merely looks like one: it reaches the
  watcher only while the watcher still has that monitor (the rule the kernel
  applies to local targets), and it removes the monitor from the watcher's
  table; so a DOWN in flight when the watcher demonitors never lands after
  the demonitor, and process-info shows no monitor that has fired. A frame of
  another type, a payload that does not thaw, or one of the wrong shape closes
  that connection with a logged reason (WARNING on System.getLogger
  \"tasklet.node\"); other connections and every tasklet go on.

  Tables (per node, keyed by peer node name), swept when the peer is lost:
    links    #{[local-pid remote-pid]}      -> :noconnection exit signals
    mons     {ref [watcher dest]}           -> [:DOWN ref :process dest :noconnection]
    watched  {ref local-target-pid}         -> remote monitors dropped
    pending  {request-id [node reply-to]}   -> the waiting caller fails
  and node monitors {node {watcher-pid count}} -> [:nodedown node]; a lost
  local child (start-local-nodes!) leaves the children table and the address
  book (it halts when it loses its parent, so it cannot come back).

  Nodes of one JVM share the kernel, which links their tasklets and monitors
  pids among them directly, without the wire. So that losing the connection
  breaks these as it would over a socket, the loss of such a peer also cuts
  every link between this node's tasklets and the peer's (both halves, each
  side getting :noconnection), fires this node's monitors of the peer's pids
  (Signals/nodeLost) and the [name node] monitors on it (local-named).

  Threads: the Distribution methods run on the calling tasklet's thread; the
  Endpoint callbacks on the transport's threads (connected on a Netty event
  loop, frames and losses on its inbound pool, in order per connection), where
  nothing waits (spawn requests, which may load code, run on a bounded loader
  pool).

  Waiting (back-pressure, connect on demand, request replies): a live tasklet
  waits in a selective receive for a private wake-up token, so it holds no
  worker on the continuation strand and a plain thread simply blocks; see
  `await-wake`."
  {:skip-wiki true}
  (:require [clojure.string :as str]
            [tasklet.core :as core])
  (:import [clojure.lang IFn MultiFn Var]
           [java.util Map$Entry Set]
           [java.util.concurrent CompletableFuture ConcurrentHashMap CountDownLatch
                                 ExecutorService Executors ThreadFactory TimeUnit]
           [java.util.concurrent.atomic AtomicBoolean AtomicLong]
           [java.util.function BiConsumer Function Predicate]
           [tasklet.kernel Aliases Distribution Links Monitors Node NodeTable Pid Ref Signals Tasklet]
           [tasklet.net AuthFailedException Connection Endpoint LogText Transport]))

(set! *warn-on-reflection* true)

(def ^:const SEND 0x10)
(def ^:const SEND-NAMED 0x11)
(def ^:const LINK 0x12)
(def ^:const UNLINK 0x13)
(def ^:const EXIT 0x14)
(def ^:const MONITOR 0x15)
(def ^:const DEMONITOR 0x16)
(def ^:const REQUEST 0x17)
(def ^:const REPLY 0x18)
(def ^:const PEERS 0x19)
(def ^:const DOWN 0x1A)

;; ---------------------------------------------------------------------------
;; Logging

(def ^:private ^java.lang.System$Logger logger (System/getLogger "tasklet.node"))

(defn warn
  "Logs a WARNING on tasklet.node."
  [^String msg]
  (.log logger java.lang.System$Logger$Level/WARNING msg))

(defn debug
  "Logs a DEBUG on tasklet.node."
  [^String msg]
  (.log logger java.lang.System$Logger$Level/DEBUG msg))

;; ---------------------------------------------------------------------------
;; Errors

(defn error
  "An ex-info {:tasklet/error kind} with message and extra data."
  [kind ^String message data]
  (ex-info message (assoc data :tasklet/error kind)))

;; ---------------------------------------------------------------------------
;; Waiting without holding a worker

(def ^:private timed-out (Object.))

(defn event-loop-thread?
  "True on a Netty event-loop thread, where nothing may wait."
  []
  (instance? io.netty.util.concurrent.FastThreadLocalThread (Thread/currentThread)))

(defn may-wait?
  "Whether the caller may wait: not an event loop, and not a tasklet that is
  ending (its terminate sends DOWNs and exit signals; it has no mailbox)."
  []
  (and (not (event-loop-thread?))
       (let [t (Node/currentTasklet)]
         (or (nil? t) (.isAlive t)))))

(defn await-wake
  "Calls (arm wake), where wake is a no-argument fn that some other thread
  calls once the awaited thing happened, then waits for it up to ms. Returns
  true when woken. A live tasklet waits in a selective receive for a private
  token (so on the continuation strand it parks and its worker runs others; an
  exit signal meanwhile ends it as in any receive); a thread without a tasklet
  blocks on a latch. Only when (may-wait?)."
  [arm ms]
  (let [t (Node/currentTasklet)]
    (if (and t (.isAlive ^Tasklet t))
      (let [^Tasklet t t
            token (Object.)
            pid (.pid t)
            fired (AtomicBoolean.)
            match (fn [m] (when (identical? m token) m))]
        (arm (fn [] (when (.compareAndSet fired false true) (Node/send pid token))))
        (let [r (.receive t match (* 1000000 (long ms)) timed-out false)]
          (cond
            (not (identical? r timed-out)) true
            (.compareAndSet fired false true) false
            ;; woken just as the wait ran out: take the token out of the mailbox
            :else (do (.receive t match -1 nil false) true))))
      (let [latch (CountDownLatch. 1)]
        (arm (fn [] (.countDown latch)))
        (.await latch (long ms) TimeUnit/MILLISECONDS)))))

(defn await-future
  "Waits up to ms for f (see `await-wake`); returns [:ok v], [:error cause] or
  [:timeout]."
  [^CompletableFuture f ms]
  (when-not (.isDone f)
    (await-wake (fn [wake] (.whenComplete f (reify BiConsumer (accept [_ _ _] (wake))))) ms))
  (if (.isDone f)
    (try [:ok (.getNow f nil)]
         (catch java.util.concurrent.CompletionException e [:error (or (.getCause e) e)])
         (catch java.util.concurrent.CancellationException e [:error e]))
    [:timeout]))

;; ---------------------------------------------------------------------------
;; State

(def ^:private codec
  "[encode decode] of tasklet.impl.codec, loaded by the first `new-state`
  (start!), not with tasklet.node: Nippy takes seconds to load (most of
  tasklet.node's load time) and only a started node needs it."
  (delay [(requiring-resolve 'tasklet.impl.codec/encode)
          (requiring-resolve 'tasklet.impl.codec/decode)]))

(defn new-state
  "The mutable state of one distributed node (a map of concurrent containers)."
  [^Node node opts]
  (force codec)
  {:node node
   :name (.-name node)
   :opts opts
   :allowlist (set (:serializable-allowlist opts #{}))
   :spawn-policy {:allowlist (some-> (:spawn-allowlist opts) set)
                  :require? (get opts :spawn-require? true)}
   :request-timeout-ms (long (:request-timeout-ms opts 10000))
   :connect-timeout-ms (long (:handshake-timeout-ms opts 5000))
   :transport (volatile! nil)
   :addresses (ConcurrentHashMap.)       ; node name -> "host:port"
   :links (ConcurrentHashMap.)           ; node -> Set of [local remote]
   :mons (ConcurrentHashMap.)            ; node -> CHM ref -> [watcher dest]
   :watched (ConcurrentHashMap.)         ; node -> CHM ref -> local target pid
   :local-named (ConcurrentHashMap.)     ; ref -> [watcher target-pid dest node], [name node] monitors in this JVM
   :local-named-purge (AtomicLong. 64)   ; local-named size that triggers the next purge
   :in-jvm (ConcurrentHashMap.)          ; connected peer that is a node of this JVM -> its incarnation
   :on-lost (volatile! nil)              ; (f peer-name) after a peer is lost (local children)
   :node-mons (atom {})                  ; node -> {watcher-pid count}
   :nodes-mons (atom #{})                ; watchers of every node's up and down (monitor-nodes)
   :pending (ConcurrentHashMap.)         ; id -> [node reply-to]
   :ids (AtomicLong.)
   :gone (ConcurrentHashMap.)            ; node -> CompletableFuture, completed when lost
   :expect (ConcurrentHashMap.)          ; node -> CompletableFuture, completed when connected
   :connecting (ConcurrentHashMap.)      ; node -> CompletableFuture of a connect on demand
   :children (atom {})                   ; child name -> {:process Process ...}
   :child-counter (AtomicLong.)          ; numbers child names
   :placed (ConcurrentHashMap.)})        ; child -> [heartbeat count, spawns placed since that heartbeat]

(defn transport ^Transport [st] @(:transport st))

(defn- chm ^ConcurrentHashMap [st k] (get st k))

(defn- sub-map ^ConcurrentHashMap [^ConcurrentHashMap m k]
  (.computeIfAbsent m k (reify Function (apply [_ _] (ConcurrentHashMap.)))))

(defn- sub-set ^Set [^ConcurrentHashMap m k]
  (.computeIfAbsent m k (reify Function (apply [_ _] (ConcurrentHashMap/newKeySet)))))

(defn- add-link! [st node local remote] (.add (sub-set (chm st :links) node) [local remote]))

(defn- remove-link! [st node local remote]
  (when-let [^Set s (.get (chm st :links) node)] (.remove s [local remote])))

;; ---------------------------------------------------------------------------
;; Encoding and sending frames

(defn encode
  "Payload bytes for v; throws :unserializable."
  ^bytes [st v]
  ((nth @codec 0) v (:allowlist st)))

(defn- printable
  "x printed for a log line or an exit-reason stand-in: at most 500 characters,
  and printing is bounded in breadth and depth before it starts, so a value
  built on shared structure (a small frame that thaws to a huge tree) cannot
  make the printing itself long."
  [x]
  (let [s (try (binding [*print-length* 20 *print-level* 4] (pr-str x))
               (catch Throwable _ (str (class x))))]
    (if (> (count s) 500) (str (subs s 0 500) "...") s)))

(defn- stand-in
  "What crosses instead of an exit reason that cannot be frozen."
  [reason]
  {:tasklet/unserializable-reason (printable reason)})

(defn- down-ref [msg]
  (when (and (vector? msg) (= 5 (count msg)) (identical? :DOWN (nth msg 0)))
    (let [r (nth msg 1)] (when (instance? Ref r) r))))

(defn connection
  "The open connection to node name, or nil."
  ^Connection [st ^String node]
  (when-let [t (transport st)]
    (let [c (.connection t node)]
      (when (and c (.isOpen c)) c))))

(defn connect-future
  "A future of the connection to address (dedupes concurrent connects per node)."
  ^CompletableFuture [st ^String node ^String address]
  (let [^ConcurrentHashMap m (:connecting st)]
    (.computeIfAbsent m node
      (reify Function
        (apply [_ _]
          (let [f (.connect (transport st) address)]
            (.whenComplete f (reify BiConsumer (accept [_ _ _] (.remove m node))))
            f))))))

(defn connection!
  "The open connection to node, connecting on demand when its address is known
  and wait? (see `may-wait?`). nil when unreachable."
  ^Connection [st ^String node wait?]
  (or (connection st node)
      (when-let [addr (and wait? (transport st) (.get ^ConcurrentHashMap (:addresses st) node))]
        (let [[k c] (await-future (connect-future st node addr) (:connect-timeout-ms st))]
          (when (and (= k :ok) (.isOpen ^Connection c)) c)))))

(defn- await-writable
  "Back-pressure: waits while conn's outbound buffer is over its high-water
  mark (Erlang's busy port), rechecking every second; never on an event loop
  or in an ending tasklet."
  [^Connection conn]
  (when (may-wait?)
    (loop []
      (when (and (not (.isWritable conn)) (.isOpen conn))
        (await-wake (fn [wake] (.whenWritable conn (reify Runnable (run [_] (wake))))) 1000)
        (recur)))))

(defn send-frame!
  "Sends an encoded frame on conn, first waiting while it is not writable.
  False when the connection is closed."
  [^Connection conn type ^bytes payload]
  (when-not (.isWritable conn) (await-writable conn))
  (.send conn (int type) payload))

;; ---------------------------------------------------------------------------
;; Local effects

(defn- monitor-down!
  "Delivers msg, the [:DOWN ref ...] of a remote or [name node] monitor, to
  local watcher, only if the watcher still has monitor ref, which it then no
  longer has (Monitors/fire: the kernel's one place where a monitor fires, so
  a demonitor with :flush either finds the DOWN in the mailbox or stops it
  here). Any thread that holds no tasklet's lock."
  [^Pid watcher ref msg]
  (when-let [t (NodeTable/resolve watcher)]
    (Monitors/fire t ref msg)))

(defn- remote-exit!
  "Local tasklet `local`, linked to remote `remote`, gets exit signal reason
  (if the link still exists)."
  [local remote reason]
  (when-let [t (NodeTable/resolve local)]
    (Links/remoteExit t remote reason)))

(defn- deliver-local!
  "Delivers msg to a pid of this JVM; anything else is dropped (never forwarded)."
  [^Pid to msg]
  (when (NodeTable/isLocal to) (Node/send to msg)))

;; ---------------------------------------------------------------------------
;; Requests (spawn, alive?, process-info, whereis)

(defn request
  "Sends request op/arg to node and waits for the reply value. Throws
  :not-connected when the node is unreachable or lost meanwhile, :timeout after
  :request-timeout-ms, or the error the target reported."
  [st ^String node op arg]
  (let [conn (connection! st node (may-wait?))
        _ (when-not conn
            (throw (error :not-connected (str "node " node " is not connected and its address is unknown"
                                              " or it does not answer; connect! to it first")
                          {:node (keyword node)})))
        ^ConcurrentHashMap pending (:pending st)
        id (.incrementAndGet ^AtomicLong (:ids st))
        me (core/self)
        ^Node n (:node st)
        ;; the REQUEST names a pid of this node (a peer speaks only for its
        ;; own pids); the reply is routed by id through `pending`, so a caller
        ;; whose pid is not of this node (a REPL thread that kept its pid
        ;; across node/start!) is named by serial 0, which no tasklet has
        from (if (and (= (.-node ^Pid me) (.-name n)) (== (.-incarnation ^Pid me) (.-incarnation n)))
               me
               (Pid. (.-name n) 0 (.-incarnation n)))
        t (core/current-tasklet)
        match (fn [m] (when (and (vector? m) (= 4 (count m)) (identical? ::reply (nth m 0))
                                 (= id (nth m 1)))
                        m))]
    (.put pending id [node me])
    (when-not (send-frame! conn REQUEST (encode st [id from op arg]))
      (.remove pending id)
      (throw (error :not-connected (str "node " node " was lost") {:node (keyword node)})))
    (let [r (.receive t match (* 1000000 (long (:request-timeout-ms st))) timed-out false)
          r (if (identical? r timed-out)
              (if (.remove pending id)
                (throw (error :timeout (str "node " node " did not answer " op " within "
                                            (:request-timeout-ms st) " ms")
                              {:node (keyword node)}))
                (.receive t match -1 nil false))   ; answered just now: take the reply
              r)
          [_ _ status value] r]
      (case status
        :ok value
        :error (throw (error (:tasklet/error value :error) (str (:message value)) (dissoc value :message)))
        :noconnection (throw (error :not-connected (str "node " node " was lost before it answered "
                                                        op)
                                    {:node (keyword node)}))))))

(def ^:private top-frame
  (let [p (promise)]
    (doto (Thread. (fn [] (deliver p (Var/getThreadBindingFrame)))) (.start) (.join))
    @p))

(defn- bad [message sym] {:tasklet/error :badarg :message message :fn sym})

(defn- allowed?
  "Whether spawn-policy's allow-list (nil: everything) admits qualified symbol
  sym: it is listed, or a listed simple symbol names its namespace or a
  namespace above it (my.app admits my.app/f and my.app.jobs/g)."
  [allowlist sym]
  (or (nil? allowlist)
      (contains? allowlist sym)
      (let [ns-name (namespace sym)]
        (boolean (some (fn [a] (and (simple-symbol? a)
                                    (let [p (name a)]
                                      (or (= ns-name p) (.startsWith ^String ns-name (str p "."))))))
                       allowlist)))))

(defn resolve-fn
  "Resolves (and requires) a fully qualified symbol to a var holding a function.
  With a policy {:allowlist set-or-nil :require? bool} (a peer's request), a
  symbol the allow-list does not admit is refused with :not-allowed, and
  with :require? false a namespace not loaded yet is not loaded.
  Returns [:ok var] or [:error error-map]."
  ([sym] (resolve-fn sym nil))
  ([sym {:keys [allowlist require?] :or {require? true}}]
  (cond
    (not (qualified-symbol? sym))
    [:error (bad (str "spawn-on needs a var or a fully qualified symbol, got " (pr-str sym)) sym)]

    (not (allowed? allowlist sym))
    [:error {:tasklet/error :not-allowed :fn sym
             :message (str "node " (.-name (Node/local)) " does not let peers spawn " sym
                           ": it is not in that node's :spawn-allowlist")}]

    (and (not require?) (nil? (find-ns (symbol (namespace sym)))))
    [:error {:tasklet/error :not-allowed :fn sym
             :message (str "node " (.-name (Node/local)) " does not load namespaces for peers"
                           " (:spawn-require? false) and " (namespace sym) " is not loaded there")}]

    :else
    (let [v (try (if require? (requiring-resolve sym) (resolve sym))
                 (catch Throwable e
                   e))]
      (cond
        (instance? Throwable v)
        [:error (bad (str "spawn-on: cannot load the namespace of " sym " on node "
                          (.-name (Node/local)) ": " (.getMessage ^Throwable v)
                          "; check that it is on that node's classpath and compiles")
                     sym)]
        (nil? v)
        [:error (bad (str "spawn-on: no var " sym " on that node; check the name") sym)]
        (not (let [f @v] (or (fn? f) (instance? MultiFn f))))
        [:error (bad (str "spawn-on: " sym " is not a function (a " (.getName (class @v)) ")") sym)]
        :else [:ok v])))))

(defn spawn-resolved!
  "Spawns (apply var args) on node with no dynamic bindings; returns the pid."
  ^Pid [^Node node ^Var v args]
  (.spawn node (fn [] (apply v args)) v top-frame nil nil nil))

(def ^:private ^ExecutorService loader
  "Where peers' spawn requests resolve (and may load) code: 2 threads and 256
  waiting requests; past that the request runs on the thread that received
  it, which holds up reading from that peer (back-pressure), not the node."
  (java.util.concurrent.ThreadPoolExecutor.
    2 2 60 TimeUnit/SECONDS (java.util.concurrent.ArrayBlockingQueue. 256)
    (let [n (AtomicLong.)]
      (reify ThreadFactory
        (newThread [_ r]
          (doto (Thread. ^Runnable r (str "tasklet-node-loader-" (.incrementAndGet n)))
            (.setDaemon true)))))
    (java.util.concurrent.ThreadPoolExecutor$CallerRunsPolicy.)))

(defn- info-map [pid]
  (some-> (core/process-info pid)
          (update :initial-fn (fn [f] (if (var? f) (symbol f) (some-> f str))))))

(defn- answer [st ^Connection conn id reply-to op arg]
  (let [reply (fn [status value]
                (let [b (try (encode st [id reply-to status value])
                             (catch Exception e
                               (encode st [id reply-to :error {:tasklet/error :unserializable
                                                                :message (.getMessage e)}])))]
                  (.send conn REPLY b)))]
    (case op
      :alive (reply :ok (boolean (some-> (NodeTable/resolve arg) .isExiting not)))
      :info (reply :ok (when (instance? Pid arg) (info-map arg)))
      :whereis (reply :ok (.whereis ^Node (:node st) arg))
      :spawn (.execute loader
                       (fn []
                         (let [[sym args] arg
                               [k v] (resolve-fn sym (:spawn-policy st))]
                           (if (= k :ok)
                             (reply :ok (spawn-resolved! (:node st) v args))
                             (reply :error v)))))
      (reply :error {:tasklet/error :badarg :message (str "unknown request " (pr-str op))}))))

;; ---------------------------------------------------------------------------
;; The Distribution the kernel calls

(defn- in-jvm-node
  "The node of this JVM called name, when it is another node than st's own."
  ^Node [st ^String name]
  (when-not (= name (:name st)) (NodeTable/named name)))

(defn send-pid! [st ^Pid to msg]
  (when-let [conn (connection! st (.-node to) (may-wait?))]
    (when (= (.peerIncarnation conn) (.-incarnation to))   ; else a pid of an earlier incarnation: dead
      (let [b (try (encode st [to msg])
                   (catch clojure.lang.ExceptionInfo e
                     (if-let [r (and (not (may-wait?)) (down-ref msg))]
                       (encode st (assoc msg 4 (stand-in (nth msg 4))))
                       (throw e))))
            ;; the kernel sends a local target's DOWN to a remote watcher as a
            ;; message; it is one when the peer's monitor is in watched
            monitor-down? (when-let [r (down-ref msg)]
                            (when-let [^ConcurrentHashMap w (.get (chm st :watched) (.-node to))]
                              (some? (.remove w r))))]
        (send-frame! conn (if monitor-down? DOWN SEND) b)))))

(defn send-alias!
  "Sends msg through alias `to` (a ref of another node) as a SEND frame; the
  peer drops it unless the alias is active there. A ref of an earlier
  incarnation of that node is dead: dropped here."
  [st ^Ref to msg]
  (when-let [conn (connection! st (.-node to) (may-wait?))]
    (when (= (.peerIncarnation conn) (.-incarnation to))
      (send-frame! conn SEND (encode st [to msg])))))

(defn send-named! [st name ^String node msg]
  (if-let [n (in-jvm-node st node)]
    (when-let [p (.whereis n name)] (Node/send p msg))
    (let [conn (connection! st node (may-wait?))]
      (if conn
        (send-frame! conn SEND-NAMED (encode st [name msg]))
        (throw (error :not-connected (str "cannot send to " (pr-str [name (keyword node)]) ": node " node
                                          " is not connected and cannot be reached; connect! to it first")
                      {:node (keyword node) :name name}))))))

(defn- check-own-sender!
  "Peers accept a signal only from a pid of the node that sends it (and close
  the connection otherwise): a caller whose pid is not of this node (a thread
  that kept its pid across node/start!) gets an error here instead."
  [st ^Pid from what]
  (let [^Node n (:node st)]
    (when-not (and (= (.-node from) (.-name n)) (== (.-incarnation from) (.-incarnation n)))
      (throw (error :badarg (str what " from " from ", a pid that is not of node " (.-name n)
                                 " (a thread's pid kept across node/start!): other nodes accept signals"
                                 " only from this node's pids; do it from a tasklet (spawn, schedule)")
                    {:pid from})))))

(defn exit! [st ^Pid from ^Pid to reason linked]
  (when-not linked (check-own-sender! st from "exit"))
  (when linked (remove-link! st (.-node to) from to))
  (when-let [conn (connection! st (.-node to) (and (not linked) (may-wait?)))]
    (send-frame! conn EXIT (try (encode st [from to reason (boolean linked)])
                                (catch clojure.lang.ExceptionInfo _
                                  (encode st [from to (stand-in reason) (boolean linked)]))))))

(defn link! [st ^Pid from ^Pid to]
  (check-own-sender! st from "link")
  (let [node (.-node to)
        conn (connection! st node (may-wait?))]
    (cond
      (nil? conn) (remote-exit! from to :noconnection)
      (not= (.peerIncarnation conn) (.-incarnation to)) (remote-exit! from to :noproc)
      :else (do (add-link! st node from to)
                (when-not (send-frame! conn LINK (encode st [from to]))
                  (remove-link! st node from to)
                  (remote-exit! from to :noconnection))))))

(defn unlink! [st ^Pid from ^Pid to]
  (remove-link! st (.-node to) from to)
  (when-let [conn (connection st (.-node to))]
    (send-frame! conn UNLINK (encode st [from to]))))

(defn- dest-node ^String [dest]
  (if (instance? Pid dest)
    (.-node ^Pid dest)
    (let [n (second dest)] (if (keyword? n) (name n) (str n)))))

(defn- fire!
  "The watcher's monitor ref on dest (recorded by tasklet.core before it
  called the Distribution) fires at once with reason."
  [watcher ref dest reason]
  (monitor-down! watcher ref [:DOWN ref :process dest reason]))

(defn- purge-local-named!
  "Drops the [name node] monitors in this JVM whose target has ended (the
  kernel delivered their DOWN without telling us). Run when the table has
  doubled since the last purge, so it costs O(1) per monitor."
  [st]
  (let [^ConcurrentHashMap m (chm st :local-named)
        ^AtomicLong limit (:local-named-purge st)]
    (when (> (.size m) (.get limit))
      (doseq [^Map$Entry e (vec m)
              :let [[_ ^Pid target] (.getValue e)]
              :when (not (some-> (NodeTable/resolve target) .isAlive))]
        (.remove m (.getKey e) (.getValue e)))
      (.set limit (max 64 (* 2 (.size m)))))))

(defn monitor! [st ^Pid watcher ^Ref ref dest]
  (check-own-sender! st watcher "monitor")
  (let [node (dest-node dest)
        jvm (when (vector? dest) (in-jvm-node st node))]
    (if jvm
      (let [p (.whereis jvm (first dest))
            t (some-> p NodeTable/resolve)]
        (if (and t (Monitors/monitorFromRemote watcher t ref dest))
          (do (.put (chm st :local-named) ref [watcher p dest node])
              (purge-local-named! st))
          (fire! watcher ref dest :noproc)))
      (let [conn (connection! st node (may-wait?))]
        (cond
          (nil? conn) (fire! watcher ref dest :noconnection)
          (and (instance? Pid dest) (not= (.peerIncarnation conn) (.-incarnation ^Pid dest)))
          (fire! watcher ref dest :noproc)
          :else
          (let [m (sub-map (chm st :mons) node)]
            (.put m ref [watcher dest])
            (when-not (send-frame! conn MONITOR (encode st [watcher ref dest]))
              (.remove m ref)
              (fire! watcher ref dest :noconnection))))))))

(defn demonitor! [st watcher ^Ref ref dest]
  ;; called by the kernel only for a monitor the watcher still had (never for one that fired)
  (if-let [[_ p] (.remove (chm st :local-named) ref)]
    (some-> (NodeTable/resolve p) (Monitors/dropMonitoredBy ref))
    (let [node (dest-node dest)]
      ;; the peer is told only while the monitor is still in place there
      (when (some-> ^ConcurrentHashMap (.get (chm st :mons) node) (.remove ref))
        (when-let [conn (connection st node)]
          (send-frame! conn DEMONITOR (encode st [watcher ref dest])))))))

(defn alive-remote? [st ^Pid pid]
  (let [conn (connection! st (.-node pid) (may-wait?))]
    (boolean
      (and conn (= (.peerIncarnation conn) (.-incarnation pid))
           (try (request st (.-node pid) :alive pid)
                (catch clojure.lang.ExceptionInfo _ false))))))

(deftype Dist [st]
  Distribution
  (send [_ to msg] (send-pid! st to msg))
  (sendNamed [_ name node msg] (send-named! st name node msg))
  (exit [_ from to reason linked] (exit! st from to reason linked))
  (link [_ from to] (link! st from to))
  (unlink [_ from to] (unlink! st from to))
  (monitor [_ watcher ref dest] (monitor! st watcher ref dest))
  (demonitor [_ watcher ref dest] (demonitor! st watcher ref dest))
  (alive [_ pid] (alive-remote? st pid))
  (sendAlias [_ to msg] (send-alias! st to msg)))

(defn state-of
  "The state of node n's distribution, or nil when it has none."
  [^Node n]
  (let [d (some-> n .distribution)]
    (when (instance? Dist d) (.-st ^Dist d))))

;; ---------------------------------------------------------------------------
;; The Endpoint the transport calls

(defn- causes
  "The messages of t's cause chain (at most 5), innermost last: why a payload
  was refused is usually the innermost."
  [^Throwable t]
  (->> (iterate #(.getCause ^Throwable %) t)
       (take-while some?)
       (take 5)
       (map (fn [^Throwable c] (or (.getMessage c) (.getName (class c)))))
       (str/join ": ")))

(defn- protocol-error! [^Connection conn ^String why]
  (warn (str "tasklet.node: closing the connection to " (LogText/of (.peerName conn)) ": "
             (LogText/of why 500)))
  (.close conn why))

(defn- pid? [x] (instance? Pid x))

(defn- own-pid?
  "Whether p is a pid of the node at the other end of conn (this incarnation):
  a peer speaks only for its own tasklets."
  [^Connection conn p]
  (and (pid? p)
       (= (.-node ^Pid p) (.peerName conn))
       (== (.-incarnation ^Pid p) (.peerIncarnation conn))))

(defn- on-frame [st ^Connection conn type ^bytes payload]
  (let [peer (.peerName conn)
        v (try ((nth @codec 1) payload (:allowlist st))
               (catch Throwable e
                 (protocol-error! conn (str "a payload of frame type 0x" (Integer/toHexString type)
                                            " does not thaw: " (causes e)))
                 ::bad))
        shape! (fn [ok?]
                 (or ok?
                     (do (protocol-error! conn (str "malformed frame type 0x" (Integer/toHexString type)
                                                    ": " (printable v)))
                         false)))
        ;; a LINK, EXIT, MONITOR... "from" a pid of another node is a forgery
        own! (fn [p what]
               (or (own-pid? conn p)
                   (do (protocol-error! conn (str what " from " (printable p) ", a pid that is not of node "
                                                  peer " (incarnation " (.peerIncarnation conn) ")"))
                       false)))]
    (when-not (identical? v ::bad)
      (condp == (int type)
        SEND (when (shape! (and (vector? v) (= 2 (count v)) (or (pid? (v 0)) (instance? Ref (v 0)))))
               (if (pid? (v 0))
                 (deliver-local! (v 0) (v 1))
                 (Aliases/deliver (v 0) (v 1))))   ; never forwarded: dropped unless an active alias here
        DOWN (when (shape! (and (vector? v) (= 2 (count v)) (pid? (v 0)) (down-ref (v 1))))
               (let [msg (v 1)
                     r (down-ref msg)]
                 ;; not in mons: demonitored meanwhile (the DOWN is dropped);
                 ;; it goes to the watcher that made the monitor, whatever the frame says
                 (when-let [[watcher] (some-> ^ConcurrentHashMap (.get (chm st :mons) peer) (.remove r))]
                   (monitor-down! watcher r msg))))
        SEND-NAMED (when (shape! (and (vector? v) (= 2 (count v))))
                     (when-let [p (.whereis ^Node (:node st) (v 0))] (deliver-local! p (v 1))))
        LINK (when (and (shape! (and (vector? v) (= 2 (count v)) (pid? (v 0)) (pid? (v 1))))
                        (own! (v 0) "LINK"))
               (let [[from to] v
                     t (NodeTable/resolve to)]
                 (if (and t (Links/linkFromRemote from t))
                   (add-link! st peer to from)
                   (.send conn EXIT (encode st [to from :noproc true])))))
        UNLINK (when (and (shape! (and (vector? v) (= 2 (count v)) (pid? (v 0)) (pid? (v 1))))
                          (own! (v 0) "UNLINK"))
                 (let [[from to] v]
                   (remove-link! st peer to from)
                   (some->> (NodeTable/resolve to) (Links/unlinkFromRemote from))))
        EXIT (when (and (shape! (and (vector? v) (= 4 (count v)) (pid? (v 0)) (pid? (v 1))))
                        (own! (v 0) "EXIT"))
               (let [[from to reason linked] v]
                 (when-let [t (NodeTable/resolve to)]
                   (if linked
                     (do (remove-link! st peer to from)
                         (Links/remoteExit t from reason))
                     (Signals/exitSignal t from reason false)))))
        MONITOR (when (and (shape! (and (vector? v) (= 3 (count v)) (pid? (v 0)) (instance? Ref (v 1))))
                           (own! (v 0) "MONITOR"))
                  (let [[watcher ref dest] v
                        t (if (pid? dest)
                            (NodeTable/resolve dest)
                            (some-> (.whereis ^Node (:node st) (first dest)) NodeTable/resolve))]
                    (if (and t (Monitors/monitorFromRemote watcher t ref dest))
                      (.put (sub-map (chm st :watched) peer) ref (.pid ^Tasklet t))
                      (.send conn DOWN (encode st [watcher [:DOWN ref :process dest :noproc]])))))
        DEMONITOR (when (and (shape! (and (vector? v) (= 3 (count v)) (instance? Ref (v 1))))
                             (own! (v 0) "DEMONITOR"))
                    (when-let [^ConcurrentHashMap m (.get (chm st :watched) peer)]
                      (when-let [p (.remove m (v 1))]
                        (some-> (NodeTable/resolve p) (Monitors/dropMonitoredBy (v 1))))))
        REQUEST (when (and (shape! (and (vector? v) (= 4 (count v)) (pid? (v 1))))
                           (own! (v 1) "REQUEST"))
                  (let [[id reply-to op arg] v] (answer st conn id reply-to op arg)))
        REPLY (when (shape! (and (vector? v) (= 4 (count v)) (pid? (v 1))))
                (let [[id _ status value] v
                      ^ConcurrentHashMap pending (chm st :pending)
                      [asked reply-to :as entry] (.get pending id)]
                  (cond
                    (nil? entry) (when-not (and (integer? id) (<= 1 id (.get ^AtomicLong (:ids st))))
                                   (protocol-error! conn (str "REPLY to request " (printable id)
                                                              ", which this node never sent")))
                    ;; else answered late, after the caller gave up
                    (not= asked peer) (protocol-error! conn (str "REPLY to request " (printable id)
                                                                 ", which was not sent to node " peer))
                    (.remove pending id entry) (deliver-local! reply-to [::reply id status value]))))
        PEERS (when (shape! (map? v))
                (doseq [[n a] v]
                  (when (and (string? n) (string? a) (not= n (:name st)))
                    (.putIfAbsent (chm st :addresses) n a)))
                ;; a frame comes only after the transport listed the connection
                (some-> ^CompletableFuture (.remove (chm st :expect) peer) (.complete conn)))
        (protocol-error! conn (str "unknown frame type 0x" (Integer/toHexString type)))))))

(defn- tell-nodes-watchers!
  "[:nodeup n] / [:nodedown n] to each watcher of all nodes (monitor-nodes)."
  [st msg]
  (doseq [w @(:nodes-mons st)]
    (Node/send w msg)))

(defn- on-connected [st ^Connection c]
  (let [peer (.peerName c)
        ^ConcurrentHashMap addresses (:addresses st)]
    (.put addresses peer (.peerAddress c))
    (when-let [^Node n (NodeTable/named peer)]
      (when (= (.-incarnation n) (.peerIncarnation c))
        (.put (chm st :in-jvm) peer (.peerIncarnation c))))
    (.send c PEERS (encode st (into {(:name st) (.address (transport st))} addresses)))
    (tell-nodes-watchers! st [:nodeup (keyword peer)])
    (debug (str "tasklet.node: " (:name st) " connected to " peer " at " (.peerAddress c)))))

(defn- sweep-in-jvm!
  "Peer, a node of this JVM with incarnation inc, is lost: cut the links and
  fire the monitors (of pids and of [name node]) the kernel keeps between
  this node's tasklets and the peer's without the wire (see the namespace
  doc); Signals/nodeLost cuts both halves of each link, so whichever node's
  sweep runs first, each end gets one :noconnection."
  [st ^String peer inc]
  (let [^Node node (:node st)
        inc (long inc)
        lost (reify Predicate
               (test [_ p] (and (= peer (.-node ^Pid p)) (== inc (.-incarnation ^Pid p)))))]
    (doseq [^Pid pid (.processes node)]
      (some-> (NodeTable/resolve pid) (Signals/nodeLost lost :noconnection)))
    (doseq [^Map$Entry e (vec (chm st :local-named))
            :let [[watcher target dest n] (.getValue e)]
            :when (= n peer)
            :when (.remove (chm st :local-named) (.getKey e) (.getValue e))]
      (some-> (NodeTable/resolve target) (Monitors/dropMonitoredBy (.getKey e)))
      (fire! watcher (.getKey e) dest :noconnection))))

(defn- on-disconnected [st ^Connection c reason]
  (let [peer (.peerName c)]
    (debug (str "tasklet.node: " (:name st) " lost " peer ": " reason))
    (doseq [[local remote] (some-> ^Set (.remove (chm st :links) peer) vec)]
      (remote-exit! local remote :noconnection))
    (doseq [[ref [watcher dest]] (some-> ^ConcurrentHashMap (.remove (chm st :mons) peer) vec)]
      (fire! watcher ref dest :noconnection))
    (when (.remove (chm st :in-jvm) peer (.peerIncarnation c))
      (sweep-in-jvm! st peer (.peerIncarnation c)))
    (doseq [[ref target] (some-> ^ConcurrentHashMap (.remove (chm st :watched) peer) vec)]
      (some-> (NodeTable/resolve target) (Monitors/dropMonitoredBy ref)))
    (doseq [^Map$Entry e (vec (chm st :pending))
            :let [[node reply-to] (.getValue e)]
            :when (= node peer)]
      (when (.remove (chm st :pending) (.getKey e))
        (deliver-local! reply-to [::reply (.getKey e) :noconnection nil])))
    (let [watchers (get @(:node-mons st) peer)]
      (swap! (:node-mons st) dissoc peer)
      (doseq [[w n] watchers, _ (range n)]
        (Node/send w [:nodedown (keyword peer)])))
    (tell-nodes-watchers! st [:nodedown (keyword peer)])
    (.remove (chm st :placed) peer)
    (when-let [f @(:on-lost st)] (f peer))
    (some-> ^CompletableFuture (.remove (chm st :gone) peer) (.complete reason))))

(defn endpoint
  "The transport Endpoint serving node state st."
  ^Endpoint [st]
  (reify Endpoint
    (connected [_ c] (on-connected st c))
    (frame [_ c type payload] (on-frame st c type payload))
    (disconnected [_ c reason] (on-disconnected st c reason))
    (load [_] (.processCount ^Node (:node st)))))

(defn- ssl-cause
  "The javax.net.ssl.SSLException in t's cause chain, or nil."
  [^Throwable t]
  (some #(when (instance? javax.net.ssl.SSLException %) %)
        (take 16 (take-while some? (iterate #(.getCause ^Throwable %) t)))))   ; a cause cycle ends too

(defn connect-error
  "The ex-info for a failed connect to address."
  [address cause]
  (let [ssl (ssl-cause cause)]
    (cond
      (instance? AuthFailedException cause)
      (error :auth-failed (str "node at " address " refused us: the cookies differ; start both"
                               " nodes with the same :cookie")
             {:address address})

      (instance? tasklet.net.NameClashException cause)
      (error :not-connected (str "cannot connect to " address ": the node there is called :"
                                 (.name ^tasklet.net.NameClashException cause) " like this one (it is"
                                 " this node itself, or two nodes share a name); give every node a"
                                 " unique :name")
             {:address address})

      (instance? io.netty.handler.ssl.NotSslRecordException ssl)
      (error :not-connected (str "node at " address " does not speak TLS, and this node does; start"
                                 " every node with :tls, or none")
             {:address address})

      ssl
      (error :auth-failed (str "the TLS handshake with the node at " address " failed ("
                               (.getMessage ^Throwable ssl) "): each node's :truststore must hold the"
                               " certificate in the other's :keystore")
             {:address address})

      :else
      (error :not-connected (str "cannot connect to " address ": " (some-> ^Throwable cause .getMessage)
                                 "; check that a node listens there"
                                 (when (instance? tasklet.net.HandshakeException cause)
                                   ", and that both nodes use :tls or neither"))
             {:address address}))))
