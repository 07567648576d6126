(ns ^:no-doc tasklet.impl.dist
  "The Clojure half of the node protocol. The protocol itself is Java, beside
  the kernel (tasklet.dist: routing, per-peer link and monitor tables,
  connect on demand, back-pressure, requests, loss sweeps); this namespace
  gives it what only Clojure has:

  - the Codec it sees values through: Nippy with the pid/ref/Throwable
    extensions and the hostile-input guards of tasklet.impl.codec, the
    allow-list of start!'s :serializable-allowlist, and the few Clojure terms
    the protocol makes (keywords, [:nodedown n], error maps);
  - the resolver of peers' requests that need Clojure: :spawn [sym args]
    (resolve, maybe require, check :spawn-allowlist, spawn) and :info pid;

  and what tasklet.node needs around them (each node's state map, errors,
  logging, waiting on a future).

  A node's state (`state-of`): {:dist the tasklet.dist.Dist, :node, :name,
  :opts, :connect-timeout-ms} plus what only tasklet.node keeps: its local
  children (start-local-nodes!) and the spawns placed on each since its last
  heartbeat."
  {:skip-wiki true}
  (:import [clojure.lang IFn LazilyPersistentVector MultiFn PersistentHashMap Var]
           [java.util.concurrent CompletableFuture ConcurrentHashMap ExecutionException]
           [java.util.concurrent.atomic AtomicLong]
           [tasklet.dist Codec Dist DistFrames]
           [tasklet.kernel Node NodeTable Pid Ref]
           [tasklet.net Connection Transport]))

(set! *warn-on-reflection* true)

(def ^:const SEND DistFrames/SEND)
(def ^:const SEND-NAMED DistFrames/SEND_NAMED)
(def ^:const LINK DistFrames/LINK)
(def ^:const UNLINK DistFrames/UNLINK)
(def ^:const EXIT DistFrames/EXIT)
(def ^:const MONITOR DistFrames/MONITOR)
(def ^:const DEMONITOR DistFrames/DEMONITOR)
(def ^:const REQUEST DistFrames/REQUEST)
(def ^:const REPLY DistFrames/REPLY)
(def ^:const PEERS DistFrames/PEERS)
(def ^:const DOWN DistFrames/DOWN)

;; ---------------------------------------------------------------------------
;; Logging and errors

(def ^:private ^java.lang.System$Logger logger (System/getLogger "tasklet.node"))

(defn warn
  "Logs a WARNING on tasklet.node."
  [^String msg]
  (.log logger java.lang.System$Logger$Level/WARNING msg))

(defn error
  "An ex-info {:tasklet/error kind} with message and extra data."
  [kind ^String message data]
  (ex-info message (assoc data :tasklet/error kind)))

;; ---------------------------------------------------------------------------
;; The codec

(def ^:private nippy
  "[encode decode encode-fields] of tasklet.impl.codec, loaded by the first `new-state`
  (start!), not with tasklet.node: Nippy takes seconds to load (most of
  tasklet.node's load time) and only a started node needs it."
  (delay [(requiring-resolve 'tasklet.impl.codec/encode)
          (requiring-resolve 'tasklet.impl.codec/decode)
          (requiring-resolve 'tasklet.impl.codec/encode-fields)]))

(defn printable
  "x printed for a log line or an exit-reason stand-in: at most 500 characters,
  and printing is bounded in breadth and depth before it starts, so a value
  built on shared structure (a small frame that thaws to a huge tree) cannot
  make the printing itself long."
  ^String [x]
  (let [s (try (binding [*print-length* 20 *print-level* 4] (pr-str x))
               (catch Throwable _ (str (class x))))]
    (if (> (count s) 500) (str (subs s 0 500) "...") s)))

(defn codec
  "The Codec of a node whose Java-serialization allow-list is allowlist."
  ^Codec [allowlist]
  (let [[^IFn enc ^IFn dec ^IFn enc-fields] @nippy]
    (reify Codec
      ;; the fields are written as a vector, without making one
      (encode [_ fields] (.invoke enc-fields fields allowlist))
      (encodeTerm [_ term] (.invoke enc term allowlist))
      (decode [_ payload] (.invoke dec payload allowlist))
      (keyword [_ s] (keyword s))
      (vector [_ items] (LazilyPersistentVector/createOwning items))
      (map [_ kvs] (PersistentHashMap/create ^objects kvs))
      (downParts [_ msg]
        (when (and (vector? msg) (== 5 (count msg)) (identical? :DOWN (nth msg 0))
                   (instance? Ref (nth msg 1)))
          (object-array [(nth msg 1) (nth msg 3) (nth msg 4)])))
      (standIn [_ reason] {:tasklet/unserializable-reason (printable reason)})
      (printable [_ x] (printable x))
      (remoteError [_ v]
        (if (map? v)
          (error (:tasklet/error v :error) (str (:message v)) (dissoc v :message))
          (error :error (str "the node answered with an error: " (printable v)) {}))))))

;; ---------------------------------------------------------------------------
;; The resolver: peers' :spawn and :info

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
  with :require? false a namespace not loaded yet is not loaded. node-name
  names the node in the messages. Returns [:ok var] or [:error error-map]."
  ([sym] (resolve-fn sym nil (.-name (Node/current))))
  ([sym {:keys [allowlist require?] :or {require? true}} node-name]
  (cond
    (not (qualified-symbol? sym))
    [:error (bad (str "spawn-on needs a var or a fully qualified symbol, got " (pr-str sym)) sym)]

    (not (allowed? allowlist sym))
    [:error {:tasklet/error :not-allowed :fn sym
             :message (str "node " node-name " does not let peers spawn " sym
                           ": it is not in that node's :spawn-allowlist")}]

    (and (not require?) (nil? (find-ns (symbol (namespace sym)))))
    [:error {:tasklet/error :not-allowed :fn sym
             :message (str "node " node-name " does not load namespaces for peers"
                           " (:spawn-require? false) and " (namespace sym) " is not loaded there")}]

    :else
    (let [v (try (if require? (requiring-resolve sym) (resolve sym))
                 (catch Throwable e
                   e))]
      (cond
        (instance? Throwable v)
        [:error (bad (str "spawn-on: cannot load the namespace of " sym " on node "
                          node-name ": " (.getMessage ^Throwable v)
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

(defn- info-map
  "process-info of pid, a pid of node, as a peer gets it: :initial-fn a symbol
  or a string."
  [^Node node pid]
  (when (and (instance? Pid pid) (= (.-node ^Pid pid) (.-name node))
             (== (.-incarnation ^Pid pid) (.-incarnation node)))
    (some-> (NodeTable/resolve pid)
            ((requiring-resolve 'tasklet.core/tasklet-info))
            (update :initial-fn (fn [f] (if (var? f) (symbol f) (some-> f str)))))))

(defn- resolver
  "The IFn (op arg) -> Object[] {status value} the protocol asks for a peer's
  :spawn [sym args] and :info pid on node."
  [^Node node spawn-policy]
  (fn [op arg]
    (let [[status value]
          (case op
            :info [:ok (info-map node arg)]
            :spawn (let [[sym args] (when (vector? arg) arg)
                         [k v] (resolve-fn sym spawn-policy (.-name node))]
                     (if (= k :ok)
                       [:ok (spawn-resolved! node v args)]
                       [:error v])))]
      (object-array [status value]))))

;; ---------------------------------------------------------------------------
;; State

(def ^:private ^ConcurrentHashMap states
  "Dist -> the node's state map (see the namespace doc)."
  (ConcurrentHashMap.))

(defn new-state
  "The state of a distributed node for node with start!'s opts: a Dist (not
  installed yet) and tasklet.node's own tables. Registered for `state-of`
  until `forget-state!`."
  [^Node node opts]
  (let [d (Dist. node (codec (set (:serializable-allowlist opts #{})))
                 (resolver node {:allowlist (some-> (:spawn-allowlist opts) set)
                                 :require? (get opts :spawn-require? true)})
                 (long (:request-timeout-ms opts 10000))
                 (long (:handshake-timeout-ms opts 5000)))
        st {:dist d
            :node node
            :name (.-name node)
            :opts opts
            :connect-timeout-ms (long (:handshake-timeout-ms opts 5000))
            :children (atom {})                  ; child name -> {:process Process ...}
            :child-counter (AtomicLong.)         ; numbers child names
            :placed (ConcurrentHashMap.)}]       ; child -> [heartbeat count, spawns placed since]
    (.put states d st)
    st))

(defn forget-state!
  "st's node is no longer distributed."
  [st]
  (.remove states (:dist st)))

(defn state-of
  "The state of node n's distribution, or nil when it has none."
  [^Node n]
  (some->> (Dist/of n) (.get states)))

(defn dist ^Dist [st] (:dist st))

(defn transport ^Transport [st] (.transport (dist st)))

(defn connection
  "The open connection to node name, or nil."
  ^Connection [st ^String node]
  (.connection (dist st) node))

(defn request
  "Sends request op/arg to node and returns the answer's value (see
  tasklet.dist.Requests for what it throws)."
  [st ^String node op arg]
  (.request (dist st) node op arg))

(defn await-future
  "Waits up to ms for f without holding a worker; returns [:ok v], [:error
  cause] or [:timeout]."
  [st ^CompletableFuture f ms]
  (try [:ok (.await (dist st) f (long ms) "" (object-array 0))]
       (catch clojure.lang.ExceptionInfo e
         (if (and (= :timeout (:tasklet/error (ex-data e))) (not (.isDone f)))
           [:timeout]
           [:error e]))
       (catch Throwable e [:error e])))

(defn tables
  "What node st holds about peer, for tests and tools: {:links [[local remote]]
  :mons [[ref watcher dest]] :watched {ref target} :pending [caller] :node-mons
  {watcher count} :address a-or-nil :placed [reports count]-or-nil}; empty
  collections when nothing is held."
  [st ^String peer]
  (let [^java.util.Map m (.tables (dist st) peer)]
    {:links (mapv vec (.get m "links"))
     :mons (mapv vec (.get m "mons"))
     :watched (into {} (.get m "watched"))
     :pending (vec (.get m "pending"))
     :node-mons (into {} (.get m "node-mons"))
     :address (.get m "address")
     :placed (.get ^ConcurrentHashMap (:placed st) peer)}))
