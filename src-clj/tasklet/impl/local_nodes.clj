(ns ^:no-doc tasklet.impl.local-nodes
  "Child JVMs on this machine (tasklet.node/start-local-nodes!): the parent
  forks `java <same JVM options> -cp <same classpath> clojure.main -m
  tasklet.impl.local-nodes <parent-address> <name> <tick-ms> <parent-os-pid>
  <deadline>`,
  writes the cookie as the first line of the child's stdin and, as the second,
  an EDN map of the parent's options the child shares (:tls, the heartbeat
  timeout, the spawn and serializable allow-lists), so none shows in a process
  listing, and keeps that pipe open. The child starts a node and
  connects back, trying again until <deadline> (epoch ms, when the parent
  stops waiting) if a try fails: a JVM starting on a busy machine can be too
  slow for one handshake. It halts as soon as any of these happens:
  - its stdin reaches EOF (the parent closed it, or died, even by kill -9);
  - the parent's OS process exits (ProcessHandle/onExit, a second guard);
  - its connection to the parent is lost ([:nodedown parent]).
  The child's stdout and stderr are the parent's."
  {:skip-wiki true}
  (:require [clojure.edn :as edn]
            [tasklet.core :as core]
            [tasklet.impl.dist :as dist])
  (:import [java.io BufferedReader InputStreamReader OutputStream]
           [java.lang ProcessHandle]
           [java.lang.management ManagementFactory]
           [java.nio.charset StandardCharsets]
           [java.util.concurrent CompletableFuture ConcurrentHashMap TimeUnit]
           [java.util.function Consumer]
           [tasklet.kernel Await]))

(set! *warn-on-reflection* true)

(defn- java-command ^String []
  (.orElse (.command (.info (ProcessHandle/current)))
           (str (System/getProperty "java.home") "/bin/java")))

(defn- jvm-options
  "This JVM's options, less those that cannot be shared: a debugger port, a
  JMX port, and Clojure's socket servers (-Dclojure.server.NAME=...), which
  every child would try to open on this JVM's port and die of."
  []
  (remove #(or (.startsWith ^String % "-agentlib:jdwp") (.startsWith ^String % "-Xrunjdwp")
               (= "-Xdebug" %) (.startsWith ^String % "-Dclojure.server.")
               (.startsWith ^String % "-Dcom.sun.management.jmxremote"))
          (.getInputArguments (ManagementFactory/getRuntimeMXBean))))

(defn- command [parent-address child-name tick-ms deadline extra-opts]
  (vec (concat [(java-command)]
               (jvm-options)
               extra-opts
               ["-cp" (System/getProperty "java.class.path")
                "clojure.main" "-m" "tasklet.impl.local-nodes"
                parent-address child-name (str tick-ms) (str (.pid (ProcessHandle/current)))
                (str deadline)])))

(defn stop-child!
  "Closes a child's stdin (it halts at EOF) and kills it if still there after
  ms. Any thread."
  [{:keys [^Process process ^OutputStream stdin]} ms]
  (try (.close stdin) (catch Exception _))
  (when-not (.waitFor process (long ms) TimeUnit/MILLISECONDS)
    (.destroyForcibly process)))

(defn child-lost!
  "Node st lost the connection to peer: if that was one of its children, the
  child halts on its own (it watches its parent node), so forget it (the
  children table, its address) and make sure its JVM goes: close its stdin,
  and kill it if it is still there after 2 s. Never blocks (an event loop
  calls it)."
  [st ^String peer]
  (let [[old] (swap-vals! (:children st) dissoc peer)]
    (when-let [{:keys [^Process process ^OutputStream stdin]} (get old peer)]
      (.remove ^ConcurrentHashMap (:addresses st) peer)
      (try (.close stdin) (catch Exception _))
      (-> (.onExit process)
          (.orTimeout 2000 TimeUnit/MILLISECONDS)
          (.exceptionally (reify java.util.function.Function
                            (apply [_ _] (.destroyForcibly process) nil)))))))

(defn- progress!
  "With on?, one line of start! progress on *out*, at once (a JVM's start
  takes seconds; a REPL user should see that something happens)."
  [on? & parts]
  (when on?
    (println (apply str "tasklet.node: " parts))
    (flush)))

(defn- shared-opts
  "The options of node st that its children start with too."
  [st]
  (select-keys (:opts st) [:tls :heartbeat-timeout-ms :spawn-allowlist :spawn-require?
                           :serializable-allowlist]))

(defn start!
  "Forks n child JVMs for node state st, waits until each has connected back
  (up to :timeout-ms, default 60000), and returns their names as keywords.
  With :progress (default true) it says on *out* what it starts and which
  child is up."
  [st n {:keys [timeout-ms jvm-opts progress] :or {timeout-ms 60000 progress true}}]
  (let [tls (:tls (:opts st))
        _ (when-not (or (nil? tls) (map? tls))
            (throw (dist/error :badarg (str "start-local-nodes!: this node's :tls is a tasklet.net.Tls,"
                                            " which cannot be handed to a child JVM; start the node with"
                                            " the map form {:keystore ... :truststore ...} instead")
                               {})))
        t (dist/transport st)
        ^ConcurrentHashMap expect (:expect st)
        base (:name st)
        cookie (str (:cookie (:opts st)))
        tick (long (:tick-ms (:opts st) 1000))
        ^java.util.concurrent.atomic.AtomicLong counter (:child-counter st)
        names (vec (repeatedly n #(str base "-" (.incrementAndGet counter))))
        t0 (System/nanoTime)
        deadline (+ (System/currentTimeMillis) (long timeout-ms))
        _ (progress! progress "starting " n " local node" (when (> n 1) "s") " "
                     (pr-str (mapv keyword names)) ", a JVM each: this takes some seconds")
        started (vec (for [nm names]
                       (let [f (CompletableFuture.)
                             _ (.put expect nm f)
                             pb (doto (ProcessBuilder. ^java.util.List (command (.address t) nm tick deadline jvm-opts))
                                  (.redirectOutput java.lang.ProcessBuilder$Redirect/INHERIT)
                                  (.redirectError java.lang.ProcessBuilder$Redirect/INHERIT))
                             p (.start pb)
                             out (.getOutputStream p)]
                         (.write out (.getBytes (str cookie "\n" (pr-str (shared-opts st)) "\n")
                                                StandardCharsets/UTF_8))
                         (.flush out)
                         {:name nm :process p :stdin out :connected f})))]
    (let [failed (doall
                   (remove (fn [{:keys [^CompletableFuture connected] :as c}]
                             (let [left (max 1 (- deadline (System/currentTimeMillis)))
                                   ok (and (Await/future connected left)
                                           (not (.isCompletedExceptionally connected)))]
                               (when ok
                                 (progress! progress (keyword (:name c)) " is up ("
                                            (format "%.1f" (/ (- (System/nanoTime) t0) 1e9)) " s)"))
                               ok))
                           started))]
      (if (seq failed)
        (do (doseq [c started]
              (.remove expect (:name c))
              (stop-child! c 100))
            (throw (dist/error :timeout (str "local node(s) " (mapv :name failed) " did not connect back within "
                                             timeout-ms " ms; see their output above")
                               {:nodes (mapv (comp keyword :name) failed)})))
        (do (swap! (:children st) into (map (fn [c] [(:name c) (dissoc c :connected)])) started)
            (mapv keyword names))))))

(defn -main
  "The child's entry point (see the namespace doc)."
  [parent-address child-name tick-ms parent-os-pid deadline]
  (let [in (BufferedReader. (InputStreamReader. System/in StandardCharsets/UTF_8))
        cookie (.readLine in)
        shared (edn/read-string (or (.readLine in) "nil"))
        halt (fn [] (.halt (Runtime/getRuntime) 0))]
    (when-not (seq cookie) (halt))
    (doto (Thread. ^Runnable (fn [] (try (while (not= -1 (.read in))) (catch Throwable _)) (halt))
                   "tasklet-child-stdin")
      (.setDaemon true)
      (.start))
    (.ifPresentOrElse (ProcessHandle/of (Long/parseLong parent-os-pid))
                      (reify Consumer (accept [_ ph] (.thenRun (.onExit ^ProcessHandle ph) ^Runnable halt)))
                      ^Runnable halt)
    ((requiring-resolve 'tasklet.node/start!) (merge shared {:name (keyword child-name) :cookie cookie
                                                             :tick-ms (Long/parseLong tick-ms)}))
    (let [connect! (requiring-resolve 'tasklet.node/connect!)
          deadline (Long/parseLong deadline)
          parent (loop []
                   (let [r (try (connect! parent-address)
                                (catch clojure.lang.ExceptionInfo e
                                  (if (and (#{:not-connected :timeout} (:tasklet/error (ex-data e)))
                                           (< (System/currentTimeMillis) deadline))
                                    ::again
                                    (throw e))))]
                     (if (= r ::again) (recur) r)))
          monitor-node (requiring-resolve 'tasklet.node/monitor-node)
          watching (promise)]
      (core/spawn (fn []
                    (monitor-node parent)
                    (deliver watching true)
                    (core/receive [:nodedown _] (halt))))
      (deref watching 10000 nil)
      @(promise))))
