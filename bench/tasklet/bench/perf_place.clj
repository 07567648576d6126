(ns tasklet.bench.perf-place
  "An investigation driver for where a plain thread's spawns land (issue 15
  point 2, doc/adr/0009's W4 placement): one workload per JVM, launched as a
  user runs it (only the continuations export, JDK defaults), one warm-up run
  at a tenth of the counts, then `runs` runs, each printed with the worker
  every tasklet first ran on (its home for life), the scheduler's per-worker
  counters over the run ([slices, homed tasklets woken from another thread],
  read by reflection as tasklet.bench.perf-savina does) and the steals.

    java -cp ... clojure.main -m tasklet.bench.perf-place W4 9 [scale]

  Workloads, every tasklet spawned by the plain measuring thread:
  - W4: the bench's fan-in (a receiver, then 4 senders x 1,000,000), its
    placement shown as receiver<senders, e.g. 1<1111 (one worker) or 1<2111.
  - BIG-OUTSIDE: a many-to-many group (60 actors x 5,000 pings, each
    answered), talking only among themselves: wants one worker.
  - FAN-LONG: 8 tasklets computing 50 ms each in one slice (the slow flag
    must spread them: 400 ms of work, about 200 ms on 2 workers).
  - FAN-SHORT: 4,000 tasklets computing 0.25 ms each (1 s of work: the
    backlogged flag must spread them, about 0.5 s on 2 workers).
  - FAN-MSG: 8 long-lived tasklets, each sent 50 jobs of 1 ms computing by
    the plain thread, replying to each (400 ms of work in slices shorter than
    a watchdog period: nothing flags their worker, so where they were homed
    at spawn decides whether both cores are used).
  - W1: the bench's W1 (1,000,000 waiting tasklets, one message each), with
    the homes counted per worker.
  Prints one line a run, then each figure's median, lowest and highest."
  (:require [tasklet.bench.perf-savina :as ps]
            [tasklet.bench.tasklet-peer :as tp]
            [tasklet.bench.util :as u]
            [tasklet.core :as t :refer [receive]])
  (:import [clojure.lang Var]
           [java.util.concurrent CountDownLatch]
           [java.util.concurrent.atomic AtomicLong]
           [tasklet.kernel Node]))

(set! *warn-on-reflection* true)

(defn- counters
  "worker number -> [slices fromInbox] now."
  []
  (ps/worker-counters ["slices" "fromInbox"] #(subs % (count "tasklet-worker-"))))

(defn- delta [before after]
  (into (sorted-map) (for [[k v] after] [k (mapv - v (get before k [0 0]))])))

(defn- cpu-jiffies
  "[user+system steal idle] of the whole machine from /proc/stat (Linux), in jiffies."
  []
  (try
    (let [line (with-open [r (java.io.BufferedReader. (java.io.FileReader. "/proc/stat"))] (.readLine r))
          f (mapv #(Long/parseLong ^String %) (rest (.split ^String line "\\s+")))]
      [(+ (f 0) (f 2)) (f 7) (f 3)])
    (catch Exception _ [0 0 0])))

(defn- worker-no
  "The number of the worker running the caller (\"1\" for tasklet-worker-1)."
  ^String []
  (let [n (.getName (Thread/currentThread))]
    (if (.startsWith n "tasklet-worker-") (subs n (count "tasklet-worker-")) n)))

(defn- spawn! [^Node node fr f] (tp/spawn-on node fr f))

(defn- compute! [^long nanos]
  (let [until (+ (System/nanoTime) nanos)]
    (while (< (System/nanoTime) until))))

;; ---------------------------------------------------------------------------

(defn- w4 [node {:keys [senders per-sender]}]
  (let [senders (long senders)
        total (* senders (long per-sender))
        homes (object-array (inc senders))
        done (promise)
        fr (Var/cloneThreadBindingFrame)
        r (spawn! node fr (u/guarded done (fn []
                                            (aset homes 0 (worker-no))
                                            (loop [c 0]
                                              (if (< c total)
                                                (receive [:msg _] (recur (inc c)))
                                                (deliver done (u/now)))))))
        t0 (u/now)]
    (dotimes [i senders]
      (spawn! node fr (fn []
                        (aset homes (inc i) (worker-no))
                        (dotimes [k (long per-sender)] (t/! r [:msg k])))))
    (let [t1 (long (u/await! done "W4"))]
      {:figure (u/per-second total (- t1 t0))
       :placed (str (aget homes 0) "<" (apply str (rest homes)))})))

(defn- big-outside [node s]
  (let [n 60
        pings (max 2 (long (* (double s) 5000)))
        homes (object-array n)
        done (promise)
        fr (Var/cloneThreadBindingFrame)
        sink (spawn! node fr (fn [] (dotimes [_ n] (receive :done nil)) (deliver done (u/now))))
        pids (object-array n)
        _ (dotimes [i n] (aset pids i (spawn! node fr (fn [] (aset homes i (worker-no)) (ps/big-actor i pings sink)))))
        t0 (u/now)]
    (dotimes [i n] (t/! (aget pids i) [:peers pids]))
    (let [t1 (long (u/await! done "Big from outside"))]
      (dotimes [i n] (t/! (aget pids i) :stop))
      {:figure (u/per-second (* 2 n pings) (- t1 t0))
       :placed (frequencies homes)})))

(defn- fan-long [node s]
  (let [n 8
        nanos (long (* (double s) 50e6))
        homes (object-array n)
        left (CountDownLatch. n)
        fr (Var/cloneThreadBindingFrame)
        t0 (u/now)]
    (dotimes [i n] (spawn! node fr (fn [] (aset homes i (worker-no)) (compute! nanos) (.countDown left))))
    (u/await-latch! left "FAN-LONG")
    {:figure (u/ms (- (u/now) t0)) :placed (frequencies homes)}))

(defn- fan-short [node s]
  (let [n (max 2 (long (* (double s) 4000)))
        homes (object-array n)
        left (CountDownLatch. n)
        fr (Var/cloneThreadBindingFrame)
        t0 (u/now)]
    (dotimes [i n] (spawn! node fr (fn [] (aset homes i (worker-no)) (compute! 250000) (.countDown left))))
    (u/await-latch! left "FAN-SHORT")
    {:figure (u/ms (- (u/now) t0)) :placed (frequencies homes)}))

(defn- fan-msg [node s]
  (let [n 8
        jobs (max 2 (long (* (double s) 50)))
        homes (object-array n)
        me (t/self)
        fr (Var/cloneThreadBindingFrame)
        ws (vec (for [i (range n)]
                  (spawn! node fr (fn []
                                    (aset homes i (worker-no))
                                    (loop []
                                      (receive
                                        [:job from] (do (compute! 1000000) (t/! from :done) (recur))
                                        :stop nil))))))
        t0 (u/now)]
    (dotimes [_ jobs] (doseq [w ws] (t/! w [:job me])))
    (dotimes [_ (* n jobs)] (receive :done nil))
    (let [t1 (u/now)]
      (doseq [w ws] (t/! w :stop))
      {:figure (u/ms (- t1 t0)) :placed (frequencies homes)})))

(defn- waiter [^AtomicLong waiting ^CountDownLatch ended ^objects homes i]
  (aset homes i (worker-no))
  (.incrementAndGet waiting)
  (receive :wake (.countDown ended)))

(defn- w1 [node {:keys [n]}]
  (let [n (long n)
        waiting (AtomicLong.)
        ended (CountDownLatch. n)
        homes (object-array n)
        pids (object-array n)
        fr (Var/cloneThreadBindingFrame)
        t0 (u/now)]
    (dotimes [i n] (aset pids i (spawn! node fr (fn [] (waiter waiting ended homes i)))))
    (u/poll-until! #(>= (.get waiting) n) "W1 parking")
    (let [t1 (u/now)
          g0 (ps/gc-ms)]
      (dotimes [i n] (t/! (aget pids i) :wake))
      (u/await-latch! ended "W1 ending")
      (let [t2 (u/now)]
        {:figure (u/ms (- t2 t1)) :create-ms (u/ms (- t1 t0)) :end-gc-ms (- (ps/gc-ms) g0)
         :placed (frequencies homes)}))))

(defn- run-once [w s]
  (let [node (tp/continuation-node)]
    (case w
      "W4" (w4 node (u/scaled :W4 s))
      "BIG-OUTSIDE" (big-outside node s)
      "FAN-LONG" (fan-long node s)
      "FAN-SHORT" (fan-short node s)
      "FAN-MSG" (fan-msg node s)
      "W1" (w1 node (u/scaled :W1 s)))))

(defn -main
  "Run workload w `runs` times after one warm-up at a tenth of scale s; print
  each run's figure, placement and counters, then the figures' median, lowest
  and highest."
  [w & [runs s]]
  (let [runs (Long/parseLong (or runs "7"))
        s (Double/parseDouble (or s "1"))
        node (tp/continuation-node)
        _ (run-once w (* s 0.1))
        figures (vec (for [i (range runs)]
                       (let [c0 (counters)
                             st0 (.steals (.schedulerStats node))
                             g0 (ps/gc-ms)
                             j0 (cpu-jiffies)
                             r (run-once w s)
                             j1 (cpu-jiffies)
                             g1 (ps/gc-ms)
                             c1 (counters)]
                         (println w "run" i (format "%.4g" (double (:figure r)))
                                  (pr-str (dissoc r :figure))
                                  "counters" (pr-str (delta c0 c1))
                                  "steals" (- (.steals (.schedulerStats node)) st0)
                                  "gc-ms" (- g1 g0)
                                  "jiffies[busy steal idle]" (mapv - j1 j0))
                         (flush)
                         (double (:figure r)))))
        v (sort figures)
        m (u/median v)]
    (println w (format "median %.4g lowest %.4g highest %.4g lowest/median %.2f highest/median %.2f"
                       (double m) (first v) (last v) (/ (first v) m) (/ (last v) m)))
    (shutdown-agents)
    (System/exit 0)))
