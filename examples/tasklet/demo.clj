(ns tasklet.demo
  "`make demo`: the seed article's example, then a million waiting tasklets."
  (:require [clojure.java.io :as io]
            [tasklet.core :refer [spawn ! receive self die schedule runtime-info]])
  (:import [java.lang.management ManagementFactory]))

(set! *warn-on-reflection* true)

;; The seed's log-info, translated: a plain defn looping on receive.
(defn log-info
  "Write each [:log message] to w; close it on [:stop]."
  [^java.io.Writer w]
  (receive [:log message] (do (.write w (str message)) (recur w))
           [:stop]        (do (.close w) (die))))

(defn log-hello-world
  "Spawn a logger on file, send it two messages and stop it."
  [file]
  (let [pid (spawn log-info (io/writer file))]
    (! pid [:log "Hello "])
    (! pid [:log "World\n"])
    (! pid [:stop])))

(defn- heap-used ^long []
  (dotimes [_ 3] (System/gc))
  (.getUsed (.getHeapMemoryUsage (ManagementFactory/getMemoryMXBean))))

(defn- waiter
  "Counts itself as waiting, waits for one message, then tells `done` it ended."
  [^java.util.concurrent.atomic.AtomicLong waiting done]
  (.incrementAndGet waiting)
  (receive [:wake] (! done :ended)))

(defn million
  "Spawn n tasklets that each wait in receive; report creation time, heap
  bytes per waiting tasklet, and the time until all ended after one message
  each."
  [n]
  (let [done (self)
        waiting (java.util.concurrent.atomic.AtomicLong.)
        pids (object-array n)            ; allocated before the baseline: not the tasklets' memory
        before (heap-used)
        t0 (System/nanoTime)
        _ (dotimes [i n] (aset pids i (spawn waiter waiting done)))
        ;; spawned = running and parked in receive, not merely queued
        _ (while (< (.get waiting) n) (Thread/onSpinWait))
        spawn-ms (/ (- (System/nanoTime) t0) 1e6)
        after (heap-used)
        per (/ (- after before) (double n))
        t1 (System/nanoTime)]
    (dotimes [i n] (! (aget pids i) [:wake]))
    (dotimes [_ n] (receive :ended nil (after 60000 (throw (ex-info "tasklets did not end" {})))))
    {:n n :spawn-ms spawn-ms :bytes-per-tasklet per
     :wake-ms (/ (- (System/nanoTime) t1) 1e6)}))

(defn -main
  "Run the seed example and the million-tasklet demo."
  [& [n]]
  (let [file (java.io.File/createTempFile "tasklet-demo" ".log")]
    (schedule log-hello-world (str file))
    ;; the logger runs on after log-hello-world returns: wait for its file
    (loop [i 0] (when (and (< i 500) (not= "Hello World\n" (slurp file))) (Thread/sleep 10) (recur (inc i))))
    (println "seed example wrote:" (pr-str (slurp file)) "to" (str file)))
  (println "runtime:" (runtime-info))
  (let [n (if n (Long/parseLong n) 1000000)
        fmt (fn [k xs] (let [v (sort (map k xs))]
                         (format "%,.0f [%,.0f-%,.0f]" (double (nth v (quot (count v) 2)))
                                 (double (first v)) (double (last v)))))
        cold (million n)
        ;; measured as bench/ measures W1, so the figures compare with the
        ;; README's table: warm-up runs for 3 s (a tasklet parked by
        ;; interpreted or C1 code keeps that code's larger frames on the heap
        ;; while it waits), then the median of 3 runs, slowest and fastest in
        ;; brackets
        until (+ (System/nanoTime) 3000000000)
        _ (while (neg? (- (System/nanoTime) until)) (million n))
        runs (vec (repeatedly 3 #(million n)))]
    (printf "%,d waiting tasklets, cold first run: spawned in %,.0f ms, all ended %,.0f ms after one message each%n"
            n (:spawn-ms cold) (:wake-ms cold))
    (printf "after 3 s of warm-up, median [slowest-fastest] of 3 runs, as bench/ measures W1:%n")
    (printf "  spawned in %s ms; %s heap bytes per waiting tasklet; all ended %s ms after one message each%n"
            (fmt :spawn-ms runs) (fmt :bytes-per-tasklet runs) (fmt :wake-ms runs))
    (println "strand:" (name (:strand (runtime-info))))
    (flush))
  (shutdown-agents))
