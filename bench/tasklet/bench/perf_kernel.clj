(ns tasklet.bench.perf-kernel
  "An investigation driver for the kernel's hot paths (issue 15): one workload
  per JVM, measured as a user runs it (launch java yourself with only the
  continuations export; no tuned GC flags), every run pairing tasklet with
  its floor or peer in the same JVM so that the ratio, not the absolute
  figure, is what counts on a shared machine.

    java -cp ... clojure.main -m tasklet.bench.perf-kernel W4 7 [scale]

  Workloads: W1 (tasklet), W2 and W3 (tasklet vs a raw single-thread
  continuation loop), W4 (tasklet vs VT + ConcurrentLinkedQueue, with the
  tasklets' homes and, with -Dperf.sample, the receiver's peak backlog),
  Big and Chameneos (tasklet only; Savina-like shapes for profiling: this Big
  lets pings pile up, heavier than Savina's), and `hold N secs` (a class
  histogram of N waiting tasklets). Prints one line a run and a summary of
  medians, minima and maxima."
  (:require [tasklet.bench.tasklet-peer :as tp]
            [tasklet.bench.util :as u]
            [tasklet.bench.vthread-peer :as vt]
            [tasklet.core :as t :refer [receive]])
  (:import [clojure.lang Var]
           [java.util.concurrent CountDownLatch]
           [jdk.internal.vm Continuation ContinuationScope]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; the floor: two raw continuations on one thread passing a Long back and forth

(def ^:private ^ContinuationScope scope (ContinuationScope. "perf-floor"))

(defn- raw-switches
  "Switches per second of `n` resume/yield pairs, alternating two
  continuations on this thread that hand a boxed Long through a shared array
  (the cheapest a one-thread message hop can be)."
  ^double [^long n]
  (let [slot (object-array 1)
        body (fn [] (loop [] (aset slot 0 (Long/valueOf (inc (long (aget slot 0))))) (Continuation/yield scope) (recur)))
        a (Continuation. scope ^Runnable body)
        b (Continuation. scope ^Runnable body)
        _ (aset slot 0 (Long/valueOf 0))
        t0 (u/now)]
    (loop [i 0]
      (when (< i n)
        (.run a)
        (.run b)
        (recur (+ i 2))))
    (u/per-second n (- (u/now) t0))))

;; ---------------------------------------------------------------------------
;; Savina-shaped drivers

(defn- big-actor [^long n ^long pings done]
  (let [me (t/self)
        peers (receive [:peers ps] ps)
        ^objects ps (object-array peers)
        rnd (java.util.Random. (hash me))]
    (loop [sent 0 answered 0]
      (if (and (>= sent pings) (>= answered pings))
        (do (t/! done :done)
            (loop [] (receive [:ping from] (do (t/! from :pong) (recur)) :exit nil)))
        (let [sent (if (< sent pings)
                     (do (t/! (aget ps (.nextInt rnd n)) [:ping me]) (inc sent))
                     sent)]
          (receive
            [:ping from] (do (t/! from :pong) (recur sent answered))
            :pong (recur sent (inc answered))))))))

(defn- big-sink [n ps result]
  (let [t0 (u/now)]
    (doseq [p ps] (t/! p [:peers ps]))
    (dotimes [_ n] (receive :done nil))
    (deliver result (- (u/now) t0))
    (doseq [p ps] (t/! p :exit))))

(defn- big
  "n actors, each sends `pings` pings to random peers and answers every ping
  with a pong, keeping one ping outstanding at most (Savina Big); msgs/s."
  [^long n ^long pings]
  (let [result (promise)
        node (tp/continuation-node)]
    (tp/spawn-on node (Var/cloneThreadBindingFrame)
                 (u/guarded result
                            (fn []
                              (let [me (t/self)
                                    ps (vec (repeatedly n #(t/spawn (fn [] (big-actor n pings me)))))]
                                (big-sink n ps result)))))
    (u/per-second (* 2 n pings) (long (u/await! result "Big")))))

(defn- mall [^long meetings result]
  (let [t0 (u/now)]
    (loop [left meetings waiting nil]
      (if (zero? left)
        (do (deliver result (- (u/now) t0))
            (loop [] (receive [:meet _ from _] (do (t/! from :stop) (recur))
                              (after 200 nil))))
        (receive
          [:meet colour from _]
          (if waiting
            (let [[wc wf] waiting]
              (t/! from [:partner wc wf])
              (t/! wf [:partner colour from])
              (recur (dec left) nil))
            (recur left [colour from])))))))

(defn- chameneo [mallp colour]
  (let [me (t/self)]
    (loop [colour colour]
      (t/! mallp [:meet colour me 0])
      (receive
        [:partner pc _] (recur (mod (+ (long colour) (long pc)) 3))
        :stop nil))))

(defn- chameneos
  "n chameneos meet through one mall until `meetings` meetings happened
  (Savina Chameneos); meetings/s."
  [^long n ^long meetings]
  (let [result (promise)
        node (tp/continuation-node)
        fr (Var/cloneThreadBindingFrame)
        m (tp/spawn-on node fr (u/guarded result #(mall meetings result)))]
    (dotimes [i n] (tp/spawn-on node fr #(chameneo m (mod i 3))))
    (u/per-second meetings (long (u/await! result "Chameneos")))))

;; ---------------------------------------------------------------------------
;; W4 with placement: which worker each tasklet was homed on (by reflection)

(defn- home-of [pid]
  (let [hm (doto (.getDeclaredMethod tasklet.kernel.Tasklet "home" (make-array Class 0)) (.setAccessible true))
        tk (tasklet.kernel.NodeTable/resolve pid)
        ^Thread h (when tk (.invoke hm tk (object-array 0)))]
    (if h (subs (.getName h) (count "tasklet-worker-")) "-")))

(defn- w4-placed [{:keys [senders per-sender]}]
  (let [total (* (long senders) (long per-sender))
        done (promise)
        node (tp/continuation-node)
        fr (Var/cloneThreadBindingFrame)
        r (tp/spawn-on node fr (u/guarded done
                                          (fn [] (loop [c 0]
                                                   (if (< c (long total))
                                                     (receive [:msg _] (recur (inc c)))
                                                     (deliver done (u/now)))))))
        ^tasklet.kernel.Mailbox mb (tasklet.kernel.NodeTable/resolve r)
        t0 (u/now)
        ss (vec (for [_ (range senders)]
                  (tp/spawn-on node fr (fn [] (dotimes [i (long per-sender)] (t/! r [:msg i]))))))
        peak (atom 0)
        sampler (when (System/getProperty "perf.sample")
                  (doto (Thread. (fn [] (while (not (realized? done))
                                          (swap! peak max (.size mb))
                                          (Thread/sleep 20))))
                    (.setDaemon true) (.start)))
        t1 (long (u/await! done "W4"))]
    [(u/per-second total (- t1 t0)) (str (home-of r) "<" (apply str (map home-of ss)) " peak-backlog " @peak)]))

;; W3 with the number of ring neighbours homed on different workers

(defn- w3-split [{:keys [ring rounds]}]
  (let [ring (long ring) hops (* ring (long rounds))
        result (promise)
        relay (fn relay [nxt builder]
                (loop [] (receive :stop (t/! nxt :stop)
                                  k (do (if (zero? (long k)) (t/! builder :ring-done) (t/! nxt (dec (long k)))) (recur)))))]
    (tp/spawn-on (tp/continuation-node) (Var/cloneThreadBindingFrame)
                 (u/guarded result
                            (fn []
                              (let [me (t/self)
                                    head (t/spawn (fn [] (receive [:link nxt] (relay nxt me))))
                                    members (loop [i 1 nxt head acc [head]]
                                              (if (< i ring) (let [p (t/spawn (fn [] (relay nxt me)))] (recur (inc i) p (conj acc p))) acc))
                                    _ (t/! head [:link (peek members)])
                                    t1 (u/now)]
                                (t/! head hops)
                                (receive :ring-done nil)
                                (let [dt (- (u/now) t1)
                                      homes (mapv home-of members)
                                      cuts (count (filter true? (map not= homes (conj (vec (rest homes)) (first homes)))))]
                                  (t/! head :stop)
                                  (deliver result [(u/per-second hops dt) cuts]))))))
    (u/await! result "W3")))

(defn- run-once [w s]
  (let [node (tp/continuation-node)
        p (fn [k] (u/scaled k s))]
    (case w
      "W1" (let [r (tp/w1 node (p :W1))] [(:bytes-per r) (:end-ms r) (:create-ms r)])
      "W2" (let [r (:rt-per-s (tp/w2 node (p :W2)))
                 f (/ (raw-switches (* 2 (long (:round-trips (p :W2))))) 2.0)]
             [r f (/ r f)])
      "W3" (let [[r cuts] (w3-split (p :W3))
                 _ (println "  ring cuts" cuts)
                 f (raw-switches (* (long (:ring (p :W3))) (long (:rounds (p :W3)))))]
             [r f (/ r f)])
      "W4" (let [[r placed] (w4-placed (p :W4))
                 v (:msgs-per-s (vt/w4 (p :W4)))
                 st (.schedulerStats node)]
             (println "  placement" placed "stats" st)
             [r v (/ r v)])
      "Big" (let [r (big 120 (long (* s 20000)))] [r])
      "Chameneos" (let [r (chameneos 100 (long (* s 1000000)))] [r]))))

(defn- hold-waiters
  "Spawn n waiting tasklets and keep them waiting for `secs` seconds (for a
  class histogram: jcmd <pid> GC.class_histogram)."
  [n secs]
  (let [node (tp/continuation-node)
        fr (Var/cloneThreadBindingFrame)
        latch (CountDownLatch. (int n))
        pids (doall (for [_ (range n)] (tp/spawn-on node fr (fn [] (.countDown latch) (receive :wake nil)))))]
    (.await latch)
    (println "waiting" n "pid" (.pid (java.lang.ProcessHandle/current)))
    (flush)
    (let [out (.invoke (java.lang.management.ManagementFactory/getPlatformMBeanServer)
                       (javax.management.ObjectName. "com.sun.management:type=DiagnosticCommand")
                       "gcClassHistogram" (object-array [(into-array String [])]) (into-array String ["[Ljava.lang.String;"]))]
      (println (subs (str out) 0 (min 3000 (count (str out))))))
    (Thread/sleep (long (* 1000 secs)))
    (count pids)))

(defn -main
  "Run workload w `runs` times after one warm-up at scale s; print each run's
  figures and each column's median, minimum and maximum."
  [w & [runs s]]
  (when (= w "hold")
    (hold-waiters (Long/parseLong runs) (Double/parseDouble s))
    (System/exit 0))
  (let [runs (Long/parseLong (or runs "7"))
        s (Double/parseDouble (or s "1"))
        _ (run-once w (min s 0.2))
        rows (vec (for [i (range runs)]
                    (let [r (run-once w s)]
                      (println w "run" i (mapv #(format "%.3g" (double %)) r))
                      (flush)
                      r)))
        stats (fn [col] (let [v (sort (map #(nth % col) rows))]
                          [(nth v (quot (count v) 2)) (first v) (last v)]))]
    (doseq [c (range (count (first rows)))]
      (let [[m lo hi] (stats c)]
        (println w "col" c (format "median %.3g min %.3g max %.3g min/median %.2f" (double m) (double lo) (double hi) (/ (double lo) m)))))
    (println (:scheduler (t/runtime-info)))
    (shutdown-agents)
    (System/exit 0)))
