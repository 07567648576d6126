(ns tasklet.bench.startup
  "How long a user waits before tasklet is ready, measured as a user meets it:
  each run is a fresh JVM with this JVM's java, options and classpath, which
  times (require 'tasklet.core), then (require 'tasklet.node), then
  node/start!, then (node/start-local-nodes! 2) until both children are
  connected. Prints the median and the slowest and fastest of the runs.

    lein with-profile +bench run -m clojure.main -m tasklet.bench.startup [runs]

  Not part of `make bench`'s table: start-up is paid once per JVM, and a
  child JVM's start dominates it (see the figures in the README)."
  (:require [clojure.edn :as edn]
            [clojure.string :as str])
  (:import (java.lang.management ManagementFactory)
           (java.util.concurrent TimeUnit)))

(set! *warn-on-reflection* true)

(def ^:private result-prefix "tasklet.bench.startup/result ")

(defn- since-ms ^double [^long t0] (/ (- (System/nanoTime) t0) 1e6))

(defn child
  "One run, in this JVM (which must be fresh): prints the timings as EDN."
  []
  (let [t0 (System/nanoTime)
        _ (require 'tasklet.core)
        core-ms (since-ms t0)
        t1 (System/nanoTime)
        _ (require 'tasklet.node)
        node-ms (since-ms t1)
        start! (requiring-resolve 'tasklet.node/start!)
        local! (requiring-resolve 'tasklet.node/start-local-nodes!)
        stop! (requiring-resolve 'tasklet.node/stop!)
        t2 (System/nanoTime)
        _ (start! {:name :startup :cookie (str "startup-bench-" (random-uuid))})
        start-ms (since-ms t2)
        t3 (System/nanoTime)
        _ (local! 2 {:progress false})
        children-ms (since-ms t3)]
    (stop!)
    (println (str result-prefix (pr-str {:require-core-ms core-ms :require-node-ms node-ms
                                         :start-ms start-ms :local-nodes-2-ms children-ms})))
    (flush)
    (shutdown-agents)
    (System/exit 0)))

(defn- run-child []
  (let [cmd (vec (concat [(str (System/getProperty "java.home") "/bin/java")]
                         (.getInputArguments (ManagementFactory/getRuntimeMXBean))
                         ["-cp" (System/getProperty "java.class.path")
                          "clojure.main" "-m" "tasklet.bench.startup" "--child"]))
        p (.start (doto (ProcessBuilder. ^java.util.List cmd) (.redirectErrorStream true)))
        out (future (slurp (.getInputStream p)))]
    (when-not (.waitFor p 300 TimeUnit/SECONDS)
      (.destroyForcibly p))
    (or (some->> (str/split-lines @out)
                 (filter #(str/starts-with? % result-prefix))
                 first
                 (#(subs % (count result-prefix)))
                 edn/read-string)
        (throw (ex-info (str "the start-up run printed no result:\n" @out) {})))))

(defn- spread [xs]
  (let [v (vec (sort xs))]
    (format "%,.0f [%,.0f-%,.0f]" (double (v (quot (count v) 2))) (double (first v)) (double (peek v)))))

(defn -main
  "`[runs]` fresh JVMs (default 5), then the table; `--child` is one run."
  [& [a]]
  (if (= a "--child")
    (child)
    (let [n (if a (Long/parseLong a) 5)
          runs (vec (for [i (range n)]
                      (let [r (run-child)]
                        (println (str "run " (inc i) ": " (pr-str r)))
                        (flush)
                        r)))]
      (println "\n| step (ms, median [slowest-fastest] of" n "fresh JVMs) | time |")
      (println "|---|---:|")
      (doseq [[k label] [[:require-core-ms "(require 'tasklet.core)"]
                         [:require-node-ms "then (require 'tasklet.node)"]
                         [:start-ms "then node/start!"]
                         [:local-nodes-2-ms "then (node/start-local-nodes! 2), both connected"]]]
        (println (str "| " label " | " (spread (map k runs)) " |")))
      (shutdown-agents))))
