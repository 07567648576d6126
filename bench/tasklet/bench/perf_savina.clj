(ns tasklet.bench.perf-savina
  "An investigation driver for Savina Big and Chameneos on the continuation
  strand (issue 15 point 4, doc/adr/0009): one workload per JVM, launched as
  a user runs it (only the continuations export), one warm-up run at the
  given scale, then `runs` runs, each printed with the scheduler's
  per-worker counters over that run: [slices, homed tasklets woken by
  another thread (taken from the inbox), OS parks, Thread.yield calls while
  polling before a park], the OS unparks by submitters, steals and the GC
  time.

    java -cp ... clojure.main -m tasklet.bench.perf-savina BIG 5 [scale]

  Workloads: BIG and CHAMENEOS (tasklet.bench.savina-tasklet, the bench's
  own peer: the actors are spawned by the sink or the mall, a tasklet), and
  BIG-OUTSIDE (the same Big actors spawned by the plain measuring thread, so
  that the workers take them from the global queue in batches and the group
  is split across workers: what a split costs), and FJC (Fork-Join
  create, the bench's peer). The counters are plain
  fields of tasklet.kernel.Worker, read by reflection (racily: between runs
  the workers are idle)."
  (:require [tasklet.bench.savina-tasklet :as sv]
            [tasklet.bench.tasklet-peer :as tp]
            [tasklet.bench.util :as u]
            [tasklet.core :as t :refer [receive]])
  (:import [clojure.lang Var]
           [java.lang.management GarbageCollectorMXBean ManagementFactory]
           [java.lang.reflect Field]
           [java.util SplittableRandom]
           [tasklet.kernel Node]))

(set! *warn-on-reflection* true)

(def ^:private counter-names ["slices" "fromInbox" "parks" "spinYields"])

(def ^:private worker-field
  (memoize (fn [^String n] (doto (.getDeclaredField (Class/forName "tasklet.kernel.Worker") n) (.setAccessible true)))))

(defn worker-counters
  "(key-of worker-thread-name) -> the named long fields of each tasklet.kernel.Worker
  now, read by reflection (racily: read them while the workers are idle).
  perf-place reads its counters through this too."
  [names key-of]
  (let [fields (mapv worker-field names)]
    (into (sorted-map)
          (for [^Thread w (keys (Thread/getAllStackTraces))
                :let [n (.getName w)]
                :when (.startsWith n "tasklet-worker-")]
            [(key-of n) (mapv #(.getLong ^Field % w) fields)]))))

(defn- counters
  "worker name -> [slices fromInbox parks spinYields] now."
  []
  (worker-counters counter-names identity))

(defn gc-ms
  "Milliseconds spent in every collector of this JVM so far."
  []
  (reduce + (map #(.getCollectionTime ^GarbageCollectorMXBean %) (ManagementFactory/getGarbageCollectorMXBeans))))

;; Big with the actors spawned from the plain thread (the global queue)

(defn big-actor
  "A Savina Big actor spawned from outside: waits for [:peers array], then
  pings random peers (seeded by idx) `pings` times, answering every ping with
  :pong, and tells `sink` :done after its last pong (perf-place uses it too)."
  [idx pings sink]
  (let [pings (long pings) idx (long idx) rnd (SplittableRandom. (+ 42 idx)) me (t/self)]
    (receive
      [:peers ^objects peers]
      (let [k (alength peers)
            ping! (fn [] (let [j (.nextInt rnd (dec k)) j (if (>= j idx) (inc j) j)]
                           (t/! (aget peers j) [:ping me])))]
        (ping!)
        (loop [sent 1]
          (receive
            [:ping from] (do (t/! from :pong) (recur sent))
            :pong (if (< sent pings)
                    (do (ping!) (recur (inc sent)))
                    (do (t/! sink :done) (recur sent)))
            :stop nil))))))

(defn- big-outside [^Node node {:keys [big-actors pings]}]
  (let [n (long big-actors)
        done (promise)
        fr (Var/cloneThreadBindingFrame)
        sink (tp/spawn-on node fr (fn [] (dotimes [_ n] (receive :done nil)) (deliver done (u/now))))
        pids (object-array n)
        _ (dotimes [i n] (aset pids i (tp/spawn-on node fr (fn [] (big-actor i pings sink)))))
        t0 (u/now)]
    (dotimes [i n] (t/! (aget pids i) [:peers pids]))
    (let [t1 (long (u/await! done "Big from outside"))]
      (dotimes [i n] (t/! (aget pids i) :stop))
      {:msgs-per-s (u/per-second (* 2 n (long pings)) (- t1 t0))})))

(defn -main
  "Run workload w (BIG, CHAMENEOS, BIG-OUTSIDE, FJC) once to warm up, then `runs`
  times, printing each run's figure and counters."
  [w & [runs s]]
  (let [node (tp/continuation-node)
        s (Double/parseDouble (or s "1"))
        runs (Long/parseLong (or runs "5"))
        f (case w
            "BIG" #(sv/big node (u/scaled :BIG s))
            "CHAMENEOS" #(sv/chameneos node (u/scaled :CHAMENEOS s))
            "BIG-OUTSIDE" #(big-outside node (u/scaled :BIG s))
            "FJC" #(sv/fjc node (u/scaled :FJC s)))]
    (f)
    (dotimes [i runs]
      (let [c0 (counters) s0 (.schedulerStats node) g0 (gc-ms)
            r (f)
            c1 (counters) s1 (.schedulerStats node) g1 (gc-ms)]
        (println w "run" i r "gc-ms" (- g1 g0)
                 "[slices from-inbox parks spin-yields]"
                 (into (sorted-map) (for [[k v] c1] [k (mapv - v (get c0 k [0 0 0 0]))]))
                 "unparks" (- (.wakeUps s1) (.wakeUps s0)) "steals" (- (.steals s1) (.steals s0)))
        (flush)))
    (shutdown-agents)
    (System/exit 0)))
