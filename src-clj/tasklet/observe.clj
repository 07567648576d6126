(ns tasklet.observe
  "Observability for a running node, in the shape of Erlang's tools:

  - `trace` / `untrace`: a traced tasklet's sends, receives, spawns, links and
    end arrive at a tracer pid as messages (erlang:trace):
      [:trace pid :send msg to]   [:trace pid :receive msg]
      [:trace pid :spawn child]   [:trace pid :link other]
      [:trace pid :exit reason]
    `printing-tracer` (or the :print option) prints them at the REPL, as dbg.
  - `process-table` / `print-process-table`: the live tasklets with mailbox
    size, status, reductions and initial function, biggest mailbox first
    (observer's process view).
  - `scheduler-stats`: the scheduler's counters as a map, and
    `register-mbean!`: the same as JMX attributes of
    tasklet:type=Scheduler,node=<name> (see tasklet.kernel.SchedulerMXBean).

  A namespace of its own, not tasklet.test: these are for production nodes
  and the REPL, need nothing but tasklet.core, and must not pull in
  test.check.

  Cost: an untraced tasklet pays one null check per send and receive (its
  rarely used side record, which links and monitors also allocate, holds the
  tracer); a traced one pays a message per event, delivered without tracing
  the delivery itself."
  (:require [clojure.pprint :as pp]
            [tasklet.core :as t]
            [tasklet.impl.scheduler-stats :as scheduler-stats])
  (:import [clojure.lang Compiler]
           [java.lang.management ManagementFactory]
           [javax.management MBeanServer ObjectName StandardMBean]
           [tasklet.kernel Node NodeTable Pid SchedulerMXBean SchedulerMXBean$Impl Tasklet Tracer]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Tracing

(def all-events
  "The events `trace` can deliver."
  #{:send :receive :spawn :link :exit})

(defn- badarg [msg data] (ex-info msg (assoc data :tasklet/error :badarg)))

(defn- local-tasklet ^Tasklet [pid what]
  (when-not (instance? Pid pid)
    (throw (badarg (str what " needs a pid, got " (pr-str pid)) {:pid pid})))
  (or (NodeTable/resolve pid)
      (throw (badarg (str what ": " (pr-str pid) " is not a live tasklet of a node in this JVM")
                     {:pid pid}))))

(defn- pid-tracer
  "A Tracer delivering the events in `events` to pid `to`; with set-on-spawn?
  it installs itself on the tasklets its tasklet spawns."
  ^Tracer [^Pid to events set-on-spawn?]
  (reify Tracer
    (trace [this pid what a b]
      (let [k (keyword what)]
        (when (contains? events k)
          (Node/deliver to (case k
                             :send [:trace pid :send a b]
                             [:trace pid k a])))
        (when (and set-on-spawn? (= k :spawn))
          (when-let [child (NodeTable/resolve a)]
            (.setTracer child this)))))))

(defn format-trace-message
  "A trace message as one line of text, e.g. \"<alpha.12> sent [:ping] to <alpha.13>\"."
  [[_ pid what a b]]
  (let [p (fn [^Pid x] (if (instance? Pid x) (str "<" (.-node x) "." (.-serial x) ">") (pr-str x)))]
    (str (p pid) " "
         (case what
           :send (str "sent " (pr-str a) " to " (p b))
           :receive (str "took " (pr-str a))
           :spawn (str "spawned " (p a))
           :link (str "linked " (p a))
           :exit (str "exited " (pr-str a))
           (pr-str [what a b])))))

(defn printing-tracer
  "Spawn a tracer that prints every trace message it gets, one line each, to
  the *out* of the caller (the REPL), and return its pid. It ends when sent
  :stop."
  []
  (let [out *out*]
    (t/spawn (fn []
               (loop []
                 (t/receive
                   [:trace pid what & more]
                   (do (binding [*out* out]
                         (println (format-trace-message (into [:trace pid what] more)))
                         (flush))
                       (recur))
                   :stop nil
                   _ (recur)))))))

(defn trace
  "Trace tasklet pid (local): its events arrive at the tracer as messages
  [:trace pid :send msg to], [:trace pid :receive msg], [:trace pid :spawn
  child], [:trace pid :link other], [:trace pid :exit reason]. Options:
    :tracer        the pid to deliver to (default: the caller)
    :print         true: start a `printing-tracer` and deliver to it
    :events        a subset of #{:send :receive :spawn :link :exit} (default all)
    :set-on-spawn  true: tasklets pid spawns from now on are traced alike
  Replaces an earlier tracer of pid (one per tasklet). Returns the tracer
  pid. Throws ex-info {:tasklet/error :badarg} for a dead or remote pid, or
  when the tracer is pid itself (its own trace messages would be traced)."
  ([pid] (trace pid {}))
  ([pid {:keys [tracer print events set-on-spawn] :or {events all-events}}]
   (let [t (local-tasklet pid "trace")
         to (cond print (printing-tracer) tracer tracer :else (t/self))]
     (when-not (every? all-events events)
       (throw (badarg (str "trace :events must be a subset of " all-events ", got " (pr-str events))
                      {:events events})))
     (when (= to pid)
       (throw (badarg "a tasklet cannot be its own tracer; trace it from another tasklet" {:pid pid})))
     (when-not (.setTracer t (pid-tracer to (set events) (boolean set-on-spawn)))
       (throw (badarg (str "trace: " (pr-str pid) " is dead") {:pid pid})))
     to)))

(defn untrace
  "Stop tracing pid; returns true (also for a pid that was not traced or is dead)."
  [pid]
  (when-let [^Tasklet t (and (instance? Pid pid) (NodeTable/resolve pid))]
    (.setTracer t nil))
  true)

;; ---------------------------------------------------------------------------
;; Process table

(defn- fn-name [f]
  (cond (var? f) (str (symbol f))
        (string? f) f
        (nil? f) nil
        (fn? f) (Compiler/demunge (.getName (class f)))
        :else (pr-str f)))

(defn process-table
  "The live tasklets of this node as maps {:pid :name :status :mailbox
  :reductions :fn :links :trap-exit}, biggest mailbox first (then most
  reductions). :reductions counts messages taken; :fn names the initial
  function. See `print-process-table`."
  []
  (->> (t/processes)
       (keep (fn [pid]
               (when-let [i (t/process-info pid)]
                 {:pid pid
                  :name (:registered-name i)
                  :status (:status i)
                  :mailbox (:mailbox-size i)
                  :reductions (:reductions i)
                  :fn (fn-name (:initial-fn i))
                  :links (count (:links i))
                  :trap-exit (:trap-exit i)})))
       (sort-by (juxt (comp - :mailbox) (comp - :reductions)))
       vec))

(defn print-process-table
  "Print `process-table` (or the given rows) as a table: pid, name, status,
  mailbox, reductions, fn. At most `limit` rows (default 50). Returns nil."
  ([] (print-process-table (process-table)))
  ([rows] (print-process-table rows 50))
  ([rows limit]
   (pp/print-table [:pid :name :status :mailbox :reductions :fn] (take limit rows))
   (when (> (count rows) limit) (println "..." (- (count rows) limit) "more"))))

;; ---------------------------------------------------------------------------
;; Scheduler statistics and JMX

(defn- node-of ^Node [node]
  (cond (instance? Node node) node
        (nil? node) (Node/current)
        :else (or (NodeTable/named (name node))
                  (throw (badarg (str "no node called " (pr-str node) " in this JVM") {:node node})))))

(defn scheduler-stats
  "This node's (or the given node's: a Node or its name) scheduler as a map:
  :strand, :node, :tasklets-alive, and on the continuation strand
  :parallelism, :workers (compensating ones included), :run-queue-lengths
  (per worker), :global-queue-length, :idle-workers, :steals, :wake-ups
  (parked workers unparked by a submitter), :compensations (compensating
  workers started), :retirements."
  ([] (scheduler-stats nil))
  ([node]
   (let [n (node-of node)]
     (into {:strand (keyword (.strandName n))
            :node (keyword (.-name n))
            :tasklets-alive (.processCount n)}
           (scheduler-stats/->map (.schedulerStats n))))))

(defn- object-name ^ObjectName [^Node n]
  (ObjectName. (str "tasklet:type=Scheduler,node=" (ObjectName/quote (.-name n)))))

(defn register-mbean!
  "Register this node's (or the given node's) scheduler statistics as the JMX
  MXBean tasklet:type=Scheduler,node=\"<name>\" in the platform MBean server
  (attributes: Strand, Parallelism, Workers, RunQueueLengths,
  GlobalQueueLength, IdleWorkers, Steals, WakeUps, Compensations, Retirements,
  TaskletsAlive; read live). Idempotent. Returns the ObjectName."
  ([] (register-mbean! nil))
  ([node]
   (let [n (node-of node)
         on (object-name n)
         ^MBeanServer server (ManagementFactory/getPlatformMBeanServer)]
     (locking register-mbean!
       (when-not (.isRegistered server on)
         (.registerMBean server (StandardMBean. (SchedulerMXBean$Impl. n) SchedulerMXBean true) on)))
     on)))

(defn unregister-mbean!
  "Remove the MXBean `register-mbean!` registered for this (or the given)
  node, if any. Returns nil."
  ([] (unregister-mbean! nil))
  ([node]
   (let [on (object-name (node-of node))
         ^MBeanServer server (ManagementFactory/getPlatformMBeanServer)]
     (locking register-mbean!
       (when (.isRegistered server on) (.unregisterMBean server on)))
     nil)))
