(ns tasklet.bench.remote
  "W5 and W6: tasklet across two JVMs on 127.0.0.1 (tasklet.node, Nippy over
  Netty TCP). This JVM starts a distributed node that is *not* the default
  node (so the other workloads keep their node), forks one child JVM with
  tasklet.node/start-local-nodes! and spawns the remote halves there by var.
  Loaded only when W5 or W6 runs; tasklet.node is resolved at run time, so the
  suite still compiles and runs while distribution is missing or broken.

  Every workload takes its parameters and returns a map of figures, or {:na
  reason} when distribution cannot be set up."
  (:require [tasklet.bench.util :as u]
            [tasklet.core :as t :refer [receive]])
  (:import [tasklet.kernel Node]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; The remote halves (run in the child JVM, spawned by var)

(defn echo
  "Answer each [from m] with m, until :stop."
  []
  (loop []
    (receive
      :stop nil
      [from m] (do (t/! from m) (recur)))))

(defn sink
  "Take n messages, then send :done to reply-to."
  [n reply-to]
  (let [n (long n)]
    (loop [c 0]
      (if (< c n)
        (receive _ (recur (inc c)))
        (t/! reply-to :done)))))

;; ---------------------------------------------------------------------------
;; Set-up, once per JVM

(defn- node-fn [sym]
  (or (requiring-resolve (symbol "tasklet.node" (name sym)))
      (throw (ex-info (str "tasklet.node/" sym " is missing") {}))))

(defn- on-node
  "Run (f) in a tasklet of the kernel node `node`, wait for its result
  (rethrowing what it threw) up to *deadline-ms*."
  [^Node node f]
  (let [p (promise)]
    (.spawn node (u/guarded p #(deliver p [(f)])) f nil nil nil nil)
    (first (u/await! p "remote set-up"))))

(defonce ^{:private true :doc "[handle child-node-keyword], or a string saying why not."} setup
  (delay
    (try
      (let [h ((node-fn 'start!) {:name :bench :cookie "tasklet-bench" :default? false})
            node (:node h)
            kids (binding [u/*deadline-ms* 120000]
                   (on-node node #((node-fn 'start-local-nodes!) 1 {:jvm-opts ["-Xms1g"]})))]
        (when-not (instance? Node node)
          (throw (ex-info "start! returned no node handle" {:handle h})))
        [h node (first kids)])
      (catch Throwable e
        (str "n/a (distribution set-up failed: " (.getMessage e) ")")))))

(defn- ready
  "[node child] once distribution is up, else a string saying why not."
  []
  (let [s @setup]
    (if (string? s) s (rest s))))

(defn setup!
  "Start the distributed node and its child JVM now, before the warm-up runs
  (the harness calls it, so that the child's start does not use up the
  warm-up time); a failure shows in w5/w6's {:na ...}."
  []
  (ready)
  nil)

(defn stop!
  "Stop the distributed node and its child JVM, if they were started."
  []
  (when (realized? setup)
    (let [s @setup]
      (when-not (string? s)
        (try ((node-fn 'stop!) (first s)) (catch Throwable _ nil))))))

;; ---------------------------------------------------------------------------

(defn w5
  "Round trips of [from i] / i between a tasklet here and an echo tasklet in
  the child JVM: round trips/s and µs per round trip."
  [{:keys [round-trips]}]
  (let [r (ready)]
    (if (string? r)
      {:na r}
      (let [[^Node node child] r
            n (long round-trips)
            spawn-on (node-fn 'spawn-on)]
        (on-node node
                 (fn []
                   (let [me (t/self)
                         e (spawn-on child #'echo)
                         t0 (u/now)]
                     (dotimes [i n]
                       (t/! e [me i])
                       (receive _ nil))
                     (let [dt (- (u/now) t0)]
                       (t/! e :stop)
                       {:rt-per-s (u/per-second n dt)
                        :us-per-rt (/ dt 1e3 n)}))))))))

(defn w6
  "n messages [:msg i] one way to a tasklet in the child JVM, which answers
  :done after the last: msgs/s."
  [{:keys [messages]}]
  (let [r (ready)]
    (if (string? r)
      {:na r}
      (let [[^Node node child] r
            n (long messages)
            spawn-on (node-fn 'spawn-on)]
        (on-node node
                 (fn []
                   (let [me (t/self)
                         s (spawn-on child #'sink n me)
                         t0 (u/now)]
                     (dotimes [i n] (t/! s [:msg i]))
                     (receive :done nil)
                     {:msgs-per-s (u/per-second n (- (u/now) t0))})))))))
