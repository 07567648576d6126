(ns tasklet.node
  "Distribution (doc/reference.md §5): named nodes that talk over TCP, so pids, `!`,
  links, monitors and `spawn-on` work across JVMs.

    (require '[tasklet.node :as node])
    (node/start! {:name :alpha :port 4001})   ; the cookie: ~/.tasklet.cookie
    (node/connect! \"127.0.0.1:4002\")        ; => :beta
    (spawn-on :beta #'my.app/worker 1 2)      ; a pid on :beta
    (node/start-local-nodes! 2)               ; => [:alpha-1 :alpha-2]
    (spawn-on #'my.app/worker 1 2)            ; on the least loaded of :alpha, :alpha-1, :alpha-2

  The node. `start!` makes a new kernel node with the given name and a fresh
  incarnation and makes it this JVM's default node: tasklets spawned from then
  on get pids of that node. Nothing that runs is ended or replaced: pids made
  before `start!` belong to the previous, unnamed node and keep working in
  this JVM, but cannot be reached from other nodes. The calling thread gets a
  pid of the new node on its next `self` only when its old pid had nothing
  tied to it (see `start!`); other plain threads keep their old pid until
  they end. Names registered before `start!` stay visible (the new default
  node shares the old one's registry).

  Which node a function here acts on: the node of the calling tasklet (on a
  plain thread, the JVM's default node). That is what makes several nodes in
  one JVM usable (for tests): `(start! {... :default? false})` returns a handle
  without changing the default node, and `run-on` / `spawn-on` with that handle
  run code there.

  One mechanism: every pid, name and alias of another node goes over the
  connection to that node, also when that node lives in this JVM (nodes of
  one JVM find each other's addresses by name, so a send connects on demand
  there too). Losing the connection (disconnect!, stop!, a missed heartbeat)
  acts the same way wherever the peer runs: links across it break with
  :noconnection, monitors of the peer's pids and names fire DOWN
  :noconnection, node monitors get [:nodedown n]. Only a node without
  distribution (the default node before start!, or after stop!) has no wire:
  its tasklets and those of the nodes of this JVM reach each other directly.

  Messages cross frozen with Nippy (any Nippy-freezable value, pids and refs
  included; see `start!`'s :serializable-allowlist for Java-serialized classes).
  A Throwable (an exit reason, a DOWN reason) arrives as an ex-info carrying
  the original class name (:tasklet/class), message, ex-data and stack trace.

  Back-pressure: while a connection's outbound buffer is above its high-water
  mark (:write-buffer), a tasklet sending on it waits (in a receive for a
  private wake-up, so it holds no worker thread) and a plain thread blocks,
  until the buffer drains; a slow peer cannot make the sender's heap grow
  without bound. Sends made while a tasklet is ending (its DOWNs and exit
  signals) never wait.

  Security: a peer that knows the cookie may run any code here (spawn-on)
  unless start!'s :spawn-allowlist says otherwise; see start! for the cookie
  file, the allow-list and TLS, and the README's Security section.

  Errors are ex-info with :tasklet/error :badarg, :not-connected,
  :auth-failed, :timeout, :unserializable or :not-allowed."
  (:require [tasklet.core :as core]
            [tasklet.impl.dist :as dist]
            [tasklet.impl.local-nodes :as local-nodes])
  (:import [java.util.concurrent ConcurrentHashMap]
           [java.util.function BiFunction]
           [tasklet.dist Dist]
           [tasklet.kernel Node NodeOptions NodeOptions$Builder NodeTable Pid]
           [tasklet.net Config Config$Builder Connection Cookie Tls Transport]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Handles

(deftype NodeHandle [kw ^Node node st]
  clojure.lang.ILookup
  (valAt [this k] (.valAt this k nil))
  (valAt [_ k not-found]
    (case k
      :name kw
      :node node
      :address (.address ^Transport (dist/transport st))
      not-found)))

(defmethod print-method NodeHandle [^NodeHandle h ^java.io.Writer w]
  (.write w (str "#<tasklet.node " (:name h) " " (:address h) ">")))

(defn- state-or-throw []
  (or (dist/state-of (Node/current))
      (throw (dist/error :not-connected
                         "distribution is not started on this node; call (tasklet.node/start! {:name ... :cookie ...}) first"
                         {}))))

(defn- node-name ^String [n]
  (cond (keyword? n) (name n)
        (string? n) n
        :else (throw (dist/error :badarg (str "a node is named by a keyword, got " (pr-str n)) {:node n}))))

(defn- tls-of
  "The tasklet.net.Tls for start!'s :tls option: a Tls as is, or built from a
  map of key and trust store files. Throws :badarg saying what is wrong."
  ^Tls [tls]
  (cond
    (instance? Tls tls) tls

    (map? tls)
    (let [{:keys [keystore keystore-password truststore truststore-password]} tls
          truststore-password (or truststore-password keystore-password)]
      (when-not (and (string? keystore) (string? truststore))
        (throw (dist/error :badarg (str "start! :tls needs :keystore and :truststore, paths to PKCS12"
                                        " or JKS files, got " (pr-str (select-keys tls [:keystore :truststore])))
                           {:tls (select-keys tls [:keystore :truststore])})))
      (when-not (and (string? keystore-password) (string? truststore-password))
        (throw (dist/error :badarg (str "start! :tls needs :keystore-password (and :truststore-password"
                                        " when it differs), strings")
                           {:tls (select-keys tls [:keystore :truststore])})))
      (try (Tls/fromKeyStores keystore (.toCharArray ^String keystore-password)
                              truststore (.toCharArray ^String truststore-password))
           (catch Exception e
             (throw (dist/error :badarg (str "start! :tls: cannot load " keystore " / " truststore ": "
                                             (.getMessage e) "; check the paths and passwords")
                                {:tls (select-keys tls [:keystore :truststore])})))))

    :else
    (throw (dist/error :badarg (str "start! :tls is a map {:keystore path :keystore-password pw"
                                    " :truststore path :truststore-password pw} or a tasklet.net.Tls, got "
                                    (pr-str tls))
                       {}))))

(defn- cookie-from-file
  "The cookie kept in path (default ~/.tasklet.cookie), made on first use."
  ^String [path]
  (let [p (if path (java.nio.file.Paths/get (str path) (make-array String 0)) (Cookie/defaultPath))]
    (try (Cookie/load p)
         (catch java.io.IOException e
           (throw (dist/error :badarg (str "start! without :cookie: " (.getMessage e)) {:cookie-file (str p)}))))))

;; ---------------------------------------------------------------------------
;; Starting and stopping

(defn start!
  "Start distribution: make a new kernel node called (:name opts) with a fresh
  incarnation, listen for peers, and return a handle to it (it prints as
  #<tasklet.node :alpha 127.0.0.1:4001>; (:name h), (:address h)).

  Options:
  | key                     | default     | meaning |
  |-------------------------|-------------|---------|
  | :name                   | (required)  | keyword, unique among connected nodes |
  | :cookie                 | from file   | shared secret string; never sent (below) |
  | :cookie-file            | ~/.tasklet.cookie | where the cookie is kept when :cookie is not given |
  | :host / :port           | 127.0.0.1/0 | where to listen; port 0 picks a free port |
  | :advertised-host        | :host       | the host peers are told to use |
  | :tick-ms                | 1000        | heartbeat period |
  | :heartbeat-timeout-ms   | 10 ticks    | a peer silent this long is lost (10 s by default) |
  | :tls                    | none        | mutual TLS: a map (below) or a tasklet.net.Tls |
  | :max-frame-bytes        | 64 MiB      | larger frames close the connection |
  | :write-buffer           | [512K 1M]   | [low high] water marks for back-pressure |
  | :serializable-allowlist | #{}         | class names (Nippy patterns) that may cross by Java serialization |
  | :nodes                  | {}          | known addresses {:beta \"host:port\"} for connect on demand |
  | :request-timeout-ms     | 10000       | how long spawn-on / remote alive? wait for an answer |
  | :spawn-allowlist        | nil (any)   | what peers may spawn-on here: qualified symbols, and simple symbols naming namespace prefixes |
  | :spawn-require?         | true        | whether a peer's spawn-on may load (require) a namespace not yet loaded here |
  | :default?               | true        | make it this JVM's default node |
  | :workers                | cores       | scheduler threads of a node made with :default? false |

  Trust: a peer that knows the cookie is fully trusted. It may spawn-on any
  function here with any arguments and so run any code, unless
  :spawn-allowlist is set (then only the listed vars, or vars of the listed
  namespaces and those below them; '#{my.app/worker my.jobs} admits
  my.app/worker and my.jobs.x/y). With :spawn-require? false, a peer's
  spawn-on finds only vars of namespaces already loaded here. Both apply to
  requests from peers, not to this node's own spawn-on.

  The cookie: without :cookie, the node reads :cookie-file (default
  ~/.tasklet.cookie under user.home), making it on first use with a random
  256-bit cookie readable by its owner only, as Erlang does with
  ~/.erlang.cookie; nodes of one user on one machine then share it, and
  other machines need a copy. A file that others may read is refused
  (:badarg). A :cookie shorter than 16 characters, or of fewer than 8
  distinct ones, is logged as a WARNING: a node you connect to sees an HMAC
  keyed by it, against which a short cookie is guessed offline in seconds.

  :tick-ms and :heartbeat-timeout-ms: every tick each side sends a
  heartbeat, and a connection from which nothing at all has been read for
  :heartbeat-timeout-ms is closed as lost (links and monitors across it get
  :noconnection, node monitors [:nodedown n]). The default, 10 ticks (10 s),
  rides out a GC pause or a SIGSTOP of either side of up to about 9 s and
  declares a frozen or unplugged peer lost 10 s after its last word. Set it
  above the longest pause your nodes may have (Erlang's net_ticktime is
  60 s), or lower for faster detection on nodes with short pauses.

  :tls makes every connection of this node mutual TLS (both sides present a
  certificate and check the other's; host names are not checked, and the
  cookie handshake still runs inside TLS). The map form:
    {:keystore \"node.p12\" :keystore-password \"pw\"     ; this node's key and certificate
     :truststore \"peers.p12\" :truststore-password \"pw\"} ; certificates it accepts
  (PKCS12 or JKS; :truststore-password defaults to :keystore-password). Its
  local child nodes get the same map (over their stdin, never the command
  line). A peer whose certificate is not trusted cannot connect: connect!
  throws :auth-failed.

  With :default? true (the usual case) tasklets spawned from then on belong
  to the new node, and so does the calling thread's next (self) when its old
  pid had nothing tied to it (no links, monitors, registered name, trap-exit
  or messages): that pid ends quietly. Otherwise (a supervisor started with
  start-link from the REPL, say) the thread keeps its pid, and everything
  linked to it keeps running; that pid is reachable in this JVM only, so
  hand remote nodes the pid of a tasklet spawned after start!. Throws :badarg
  if the default node is already distributed (stop! it first). Throws :badarg
  when it cannot listen, or when :tls cannot be loaded."
  [{:keys [name cookie host port advertised-host tick-ms tls max-frame-bytes write-buffer
           nodes workers handshake-timeout-ms heartbeat-timeout-ms]
    :or {host "127.0.0.1" port 0 tick-ms 1000}
    :as opts}]
  (when-not (keyword? name)
    (throw (dist/error :badarg (str "start! needs :name, a keyword, got " (pr-str name)) {:name name})))
  (when-not (or (nil? cookie) (and (string? cookie) (seq cookie)))
    (throw (dist/error :badarg "start! :cookie is a non-empty string shared by all nodes (or leave it out)" {})))
  (let [default? (get opts :default? true)
        cookie (or cookie (cookie-from-file (:cookie-file opts)))
        opts (assoc opts :cookie cookie)]
    (when-let [why (Cookie/weakness cookie)]
      (dist/warn (str "tasklet.node: the cookie of node " name " is weak: " why "; a node you"
                      " connect to can guess it offline. Use a long random one, or leave :cookie"
                      " out to use " (or (:cookie-file opts) (Cookie/defaultPath)))))
    (when (and default? (dist/state-of (Node/local)))
      (throw (dist/error :badarg (str "distribution is already started as " (.-name (Node/local))
                                      "; call (tasklet.node/stop!) first")
                         {:name name})))
    (when (dist/state-of (NodeTable/named (clojure.core/name name)))
      (throw (dist/error :badarg (str "a node called " name " already runs in this JVM") {:name name})))
    (when (and default? (= (clojure.core/name name) (.-name (Node/local))))
      ;; restarted under its old name: the old default node, still running its
      ;; tasklets local-only since stop!, gives the name to the new incarnation
      (NodeTable/release (Node/local)))
    (let [tls (some-> tls tls-of)   ; before the node exists: a bad :tls leaves nothing behind
          incarnation (Config/freshIncarnation)   ; random, never one this JVM gave out before
          ^NodeOptions$Builder nb (-> (NodeOptions/builder (clojure.core/name name))
                                      (.incarnation (int incarnation)))
          _ (when (and workers (not default?)) (.parallelism nb (int workers)))
          _ (when default? (.shareRegistryWith nb (Node/local)))  ; names outlive the switch
          node (Node. (.build nb))
          st (dist/new-state node opts)
          d (dist/dist st)
          ^Config$Builder b (Config/builder (clojure.core/name name) ^String cookie)]
      (.incarnation b (int incarnation))
      (.host b ^String host)
      (.port b (int port))
      (.tickMs b (long tick-ms))
      (when heartbeat-timeout-ms (.heartbeatTimeoutMs b (long heartbeat-timeout-ms)))
      (when advertised-host (.advertisedHost b advertised-host))
      (when tls (.tls b tls))
      (when max-frame-bytes (.maxFrameBytes b (int max-frame-bytes)))
      (when handshake-timeout-ms (.handshakeTimeoutMs b (long handshake-timeout-ms)))
      (when-let [[lo hi] write-buffer] (.writeBufferWaterMarks b (int lo) (int hi)))
      (doseq [[k a] nodes] (.addAddress d (node-name k) (str a)))
      (let [t (try (Transport/start (.build b) (.endpoint d))
                   (catch Exception e
                     (dist/forget-state! st)
                     (.shutdown node)
                     ;; the cause's message: e's own repeats "cannot listen on"
                     (throw (dist/error :badarg (str "start! cannot listen on " host ":" port ": "
                                                     (let [^Throwable c (or (.getCause e) e)] (.getMessage c))
                                                     "; pick another :port (0: any)")
                                        {:host host :port port}))))]
        (.onLost d (fn [peer]
                     (.remove ^ConcurrentHashMap (:placed st) peer)
                     (local-nodes/child-lost! st peer)))
        (.install d t)
        (when default?
          (Node/setLocal node)
          (Node/forgetThread))
        (NodeHandle. name node st)))))

(defn- stop-state! [st]
  (doseq [[_ c] @(:children st)] (local-nodes/stop-child! c 2000))
  (reset! (:children st) {})
  (.close (dist/dist st))
  (dist/forget-state! st)
  (let [^Node n (:node st)]
    (when-not (identical? n (Node/local)) (.shutdown n))))

(defn stop!
  "Stop distribution on the caller's node (or on the node of handle h): stop
  its local child nodes, close every connection (links and monitors across
  them fire :noconnection, node monitors get [:nodedown n]) and stop
  listening. The default node keeps its name and tasklets, now local-only; a
  node made with :default? false is shut down. Returns true."
  ([] (stop-state! (state-or-throw)) true)
  ([^NodeHandle h] (stop-state! (.-st h)) true))

(def ^:dynamic *run-on-timeout-ms*
  "How long `run-on` waits for its function, in ms."
  60000)

(defn run-on
  "Run (apply f args) in a new tasklet on the node of handle h (made by start!
  in this JVM), with the caller's dynamic bindings, and return its result, or
  rethrow what it threw; waits up to *run-on-timeout-ms* (60 s; then throws
  :timeout). For tests and tools that drive several nodes of one JVM. f may
  be any function."
  [^NodeHandle h f & args]
  (let [p (promise)
        ^Node n (.-node h)]
    (.spawn n (fn [] (deliver p (try [:ok (apply f args)] (catch Throwable e [:error e]))))
            f (clojure.lang.Var/cloneThreadBindingFrame) nil nil nil)
    (let [ms (long *run-on-timeout-ms*)
          [k v] (deref p ms [:timeout])]
      (case k
        :ok v
        :error (throw v)
        :timeout (throw (dist/error :timeout (str "run-on " (:name h) " did not finish within " ms " ms") {}))))))

;; ---------------------------------------------------------------------------
;; Connections

(defn self-node
  "The caller's node name (:nonode before start!)."
  []
  (keyword (.-name (Node/current))))

(defn address
  "This node's advertised listen address, \"host:port\"."
  []
  (.address ^Transport (dist/transport (state-or-throw))))

(defn connect!
  "Connect to the node listening at \"host:port\" (after the cookie handshake)
  and return its name as a keyword; returns at once if already connected.
  Throws ex-info {:tasklet/error :auth-failed} when the cookies differ (no
  message crosses), {:tasklet/error :not-connected} when nobody answers."
  [address]
  (let [st (state-or-throw)
        address (str address)
        ^Dist d (dist/dist st)
        ^Connection c (.await d (.connect d address) (+ 1000 (long (:connect-timeout-ms st)))
                              (str "connecting to " address) (object-array ["address" address]))]
    (keyword (.peerName c))))

(defn nodes
  "The names of the nodes connected to this one, sorted."
  []
  (if-let [st (dist/state-of (Node/current))]
    (vec (sort (map #(keyword (.peerName ^Connection %)) (.connections ^Transport (dist/transport st)))))
    []))

(defn disconnect!
  "Close the connection to node n: links and monitors across it get
  :noconnection and node monitors [:nodedown n] before this returns. A later
  send to n connects again on demand. A local child node halts when its
  parent disconnects it. Returns true, or false when n was not connected."
  [n]
  (let [st (state-or-throw)
        nm (node-name n)]
    (.disconnect (dist/dist st) nm (str "disconnect! by " (:name st)) 5000)))

(defn monitor-node
  "Monitor node n: when the connection to it is lost (or now, if it cannot be
  reached) the caller gets [:nodedown n]. Each call adds one monitor and one
  message. Returns true."
  [n]
  (.monitorNode (dist/dist (state-or-throw)) (node-name n) (core/self))
  true)

(defn demonitor-node
  "Remove one monitor-node of node n made by the caller. Returns true."
  [n]
  (.demonitorNode (dist/dist (state-or-throw)) (node-name n) (core/self))
  true)

(defn monitor-nodes
  "Erlang's net_kernel:monitor_nodes: (monitor-nodes true) subscribes the
  caller to every node's connection from now on: [:nodeup n] once a
  connection to node n is up (either side connected), [:nodedown n] once it
  is lost. (monitor-nodes false) ends the subscription. A subscriber that
  ends is dropped at the next subscription change. Returns true; false, and
  no subscription, on a node without distribution (it never connects:
  node/start! makes a new node)."
  [on?]
  (if-let [st (dist/state-of (Node/current))]
    (do (.monitorNodes (dist/dist st) (core/self) (boolean on?))
        true)
    false))

;; ---------------------------------------------------------------------------
;; Spawning on other nodes

(defn- fn-symbol [f]
  (cond (var? f) (symbol f)
        (qualified-symbol? f) f
        :else (throw (dist/error :badarg
                                 (str "spawn-on needs a var (#'ns/f) or a fully qualified symbol, resolved on"
                                      " the target node; got " (pr-str f))
                                 {:fn f}))))

(defn- spawn-here [^Node node sym args]
  (let [[k v] (dist/resolve-fn sym nil (.-name node))]
    (if (= k :ok)
      (dist/spawn-resolved! node v args)
      (throw (dist/error :badarg (:message v) {:fn sym})))))

(defn- spawn-at [st ^String nm f args]
  (let [sym (fn-symbol f)]
    (if (= nm (:name st))
      (spawn-here (:node st) sym args)
      (dist/request st nm :spawn [sym (vec args)]))))

(defn- least-loaded
  "This node or one of its connected local children, whichever has the lowest
  load: its live tasklets for this node; for a child, the figure of its
  latest heartbeat plus what was placed on it since that heartbeat arrived.
  Heartbeats are told apart by their count, not their figure: a child whose
  load goes back to an earlier figure must not inherit the placements
  counted against that figure before (they are in the new report). Ties go
  to the child listed last."
  [st]
  (let [^ConcurrentHashMap placed (:placed st)
        own [(:name st) (.processCount ^Node (:node st)) nil]
        kids (for [nm (keys @(:children st))
                   :let [c (dist/connection st nm)]
                   :when c]
               (let [reports (.peerLoadReports c)     ; before the figure: see Connection
                     reported (max 0 (.lastPeerLoad c))
                     [seen extra] (.get placed nm)
                     extra (if (= seen reports) (long extra) 0)]
                 [nm (+ reported extra) reports]))
        [nm _ reports] (apply min-key second own kids)]
    (when reports
      (.compute placed nm (reify BiFunction
                            (apply [_ _ v]
                              (let [[seen extra] v]
                                (if (= seen reports) [reports (inc (long extra))] [reports 1]))))))
    nm))

(defn loads
  "The load figures `spawn-on` without a node balances by: {node load} for
  this node (its live tasklets) and each connected local child (the count its
  latest heartbeat reported)."
  []
  (if-let [st (dist/state-of (Node/current))]
    (into {(keyword (:name st)) (.processCount ^Node (:node st))}
          (for [nm (keys @(:children st))
                :let [c (dist/connection st nm)]
                :when c]
            [(keyword nm) (max 0 (.lastPeerLoad c))]))
    {(self-node) (.processCount (Node/current))}))

(defn spawn-on
  "Spawn a tasklet running (apply f args) on node `node` and return its pid.
  f is a var or a fully qualified symbol: it is resolved on the target, its
  namespace required there. Without a node: on the least loaded of this node
  and the child nodes started by start-local-nodes!, by their reported load.
  `node` may also be a handle from start! in this JVM; then f may be any fn.
  Throws ex-info {:tasklet/error :badarg} when f is not a var or qualified
  symbol, names no var on the target, its namespace does not load there, or
  its value is not a function (nothing is spawned); :not-allowed when the
  target's :spawn-allowlist does not admit f, or f's namespace is not loaded
  there and it has :spawn-require? false; :not-connected when the node cannot
  be reached; :unserializable when args cannot cross."
  [node-or-f & args]
  (cond
    (instance? NodeHandle node-or-f)
    (let [[f & args] args
          ^Node n (.-node ^NodeHandle node-or-f)]
      (if (or (var? f) (symbol? f))
        (spawn-here n (fn-symbol f) args)
        (.spawn n (fn [] (apply f args)) f nil nil nil nil)))

    (or (keyword? node-or-f) (string? node-or-f))
    (let [[f & args] args
          nm (node-name node-or-f)]
      (if-let [st (dist/state-of (Node/current))]
        (spawn-at st nm f args)
        (if (= nm (.-name (Node/current)))
          (spawn-here (Node/current) (fn-symbol f) args)
          (state-or-throw))))

    :else
    (if-let [st (dist/state-of (Node/current))]
      (spawn-at st (least-loaded st) node-or-f args)
      (spawn-here (Node/current) (fn-symbol node-or-f) args))))

(defn start-local-nodes!
  "Fork n child JVMs on this machine, with this JVM's classpath and JVM
  options, each a node named <this-node>-<k> (k counts up over this node's
  life) that connects back to this one and reports its load with every tick.
  Waits until all have connected and returns their names, e.g. [:alpha-1
  :alpha-2]. A child exits when this JVM dies (even by kill -9: it sees EOF on
  its stdin), when its connection to this node is lost, or on stop!.
  Options: :timeout-ms (60000) for the children to connect back, :jvm-opts
  extra JVM options, :progress (true) to print on *out* what starts and when
  each child is up (a JVM takes seconds to start; false: silent). Throws
  :timeout (and kills them) when they do not connect in time."
  ([n] (start-local-nodes! n nil))
  ([n opts]
   (let [st (state-or-throw)]
     (when-not (and (integer? n) (pos? n))
       (throw (dist/error :badarg (str "start-local-nodes! needs a positive count, got " (pr-str n)) {:n n})))
     (local-nodes/start! st n (or opts {})))))

(defn local-node-processes
  "The child nodes started by start-local-nodes!: {name java.lang.Process}."
  []
  (if-let [st (dist/state-of (Node/current))]
    (into {} (map (fn [[nm c]] [(keyword nm) (:process c)])) @(:children st))
    {}))

(defn process-info-remote
  "process-info of a pid on another node (asks that node); nil when dead."
  [^Pid pid]
  (let [st (state-or-throw)]
    (dist/request st (.-node pid) :info pid)))

(defn whereis-remote
  "The pid registered as name on node n, or nil (asks that node)."
  [name n]
  (let [st (state-or-throw)
        nm (node-name n)]
    (if (= nm (:name st))
      (core/whereis name)
      (dist/request st nm :whereis name))))

;; tasklet.core delegates spawn-on and process-info of another node's pid to
;; this layer without requiring it (see tasklet.core/install-node-layer!).
;; Through the vars, so a redefinition at the REPL is seen.
(core/install-node-layer! {:spawn-on #'spawn-on :process-info #'process-info-remote})
