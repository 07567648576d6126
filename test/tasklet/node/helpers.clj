(ns tasklet.node.helpers
  "Functions the distribution tests spawn on other nodes (by var, so the
  target resolves them), and how those tests start in-JVM nodes. Not a test
  namespace itself: loading it on a child node defines no tests."
  (:require [tasklet.core :as t :refer [! receive self]]
            [tasklet.node :as node]))

(set! *warn-on-reflection* true)

(defn start-node
  "Start an in-JVM test node named nm with cookie (not the default node; one
  worker, 200 ms ticks), opts merged over those."
  [cookie nm opts]
  (node/start! (merge {:name nm :cookie cookie :default? false :workers 1 :tick-ms 200} opts)))

(defmacro with-nodes
  "Binds each name to a started in-JVM node and stops them all in `finally`."
  [bindings & body]
  (if (empty? bindings)
    `(do ~@body)
    (let [[sym expr & more] bindings]
      `(let [~sym ~expr]
         (try (with-nodes [~@more] ~@body)
              (finally (node/stop! ~sym)))))))

(defn echo
  "Answers [:echo from x] with [:echoed x] to from, for ever; :stop ends it."
  []
  (receive
    [:echo from x] (do (! from [:echoed x]) (recur))
    :stop :stopped))

(defn reply-self
  "Sends [:hello (self) arg] to to, then echoes."
  [to arg]
  (! to [:hello (self) arg])
  (echo))

(defn wait-forever
  "Waits for ever (until killed or told :stop)."
  []
  (receive :stop :stopped))

(defn spawn-waiters
  "Spawns n tasklets running `wait-forever` on this node and sends [:waiters
  pids] to to."
  [n to]
  (! to [:waiters (vec (repeatedly n #(t/spawn wait-forever)))]))

(defn crash-on
  "Waits for [:crash reason]: ends with that reason (a Throwable is thrown)."
  []
  (receive
    [:crash (r :guard #(instance? Throwable %))] (throw r)
    [:crash r] (t/exit r)))

(defn register-and-wait
  "Registers itself as name, tells to, then echoes."
  [name to]
  (t/register name (self))
  (! to [:registered name (self)])
  (echo))

(defn link-to
  "Traps exits, links to pid, tells to, then forwards every message to to."
  [pid to]
  (t/trap-exit! true)
  (t/link pid)
  (! to [:linked (self)])
  (loop []
    (receive m (do (! to [:got m]) (recur)))))

(defn monitor-and-report
  "Monitors dest, tells to, then forwards every message to to."
  [dest to]
  (let [ref (t/monitor dest)]
    (! to [:monitoring (self) ref])
    (loop []
      (receive m (do (! to [:got m]) (recur))))))

(defn sender
  "Sends [:seq tag i] for i below n to dest, then [:done tag]."
  [dest tag n]
  (dotimes [i n] (! dest [:seq tag i]))
  (! dest [:done tag]))

(defn exit-other
  "Sends pid the exit signal reason, then tells to."
  [pid reason to]
  (t/exit pid reason)
  (! to [:sent-exit]))

(defn try-send
  "Sends x to dest; tells to [:ok] or [:error (ex-data e)]."
  [dest x to]
  (! to (try (! dest x) [:ok] (catch clojure.lang.ExceptionInfo e [:error (:tasklet/error (ex-data e))]))))

(def not-a-function
  "A var whose value is not a function (spawn-on must refuse it)."
  42)

(def ^:private deferred "The caller :defer keeps waiting (this JVM's counters)." (atom nil))

(def counter
  "A gen-server implementation: a counter (a number). :defer keeps the
  caller waiting; the cast :release answers it, late, with :late."
  {:init (fn [n] n)
   :handle-call (fn [req from n]
                  (case req
                    :get [:reply n n]
                    :inc [:reply (inc n) (inc n)]
                    :defer (do (reset! deferred from) [:noreply n])))
   :handle-cast (fn [msg n]
                  (when (= :release msg)
                    (when-let [f @deferred] ((requiring-resolve 'tasklet.server/reply) f :late)))
                  n)})

(defn start-counter
  "Starts a counter server registered as name (tasklet.server is loaded on
  use) and sends [:server pid] to to."
  [name to]
  (let [start (requiring-resolve 'tasklet.server/start)]
    (! to [:server (start counter 0 {:name name})])))

(defn ponger
  "Answers every [:ping from] with :pong, for ever."
  []
  (receive [:ping from] (do (! from :pong) (recur))))

(defn counter-sink
  "Counts messages; on [:count from] sends [:count n] (n excludes the query)."
  [n]
  (receive
    [:count from] (do (! from [:count n]) (recur n))
    _ (recur (inc n))))

(defn start-child-and-report
  "Starts one local child node of this node and sends [:child name] to to
  (or [:child-failed message])."
  [to]
  (! to (try [:child (first (node/start-local-nodes! 1))]
             (catch Exception e [:child-failed (.getMessage e)]))))

(defn report-nodes
  "Sends [:nodes this-node connected-nodes] to to."
  [to]
  (! to [:nodes (node/self-node) (node/nodes)]))
