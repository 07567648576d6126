(ns tasklet.node.pingpong
  "Remote ping-pong round trips per second and one-way small-message
  throughput between this JVM and one child node over loopback (Nippy).
  Run: java -cp $(lein classpath) clojure.main -m tasklet.node.pingpong
  Not a test; loading it starts nothing."
  (:require [tasklet.core :as t :refer [! receive self]]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h]))

(set! *warn-on-reflection* true)

(defn- rate [n ms] (long (/ (* 1000.0 n) (max 1 ms))))

(defn -main
  "Prints the two figures."
  [& _]
  (node/start! {:name :bench :cookie "bench"})
  (let [[c] (node/start-local-nodes! 1)
        ping (t/spawn-on c #'h/ponger)
        sink (t/spawn-on c #'h/counter-sink 0)
        rounds (fn [n] (dotimes [_ n] (! ping [:ping (self)]) (receive :pong nil)))]
    (rounds 20000)                                       ; warm-up
    (let [n 50000 t0 (System/nanoTime)]
      (rounds n)
      (println "remote ping-pong:" (rate n (/ (- (System/nanoTime) t0) 1e6)) "round trips/s"))
    (let [one-way (fn [n] (dotimes [i n] (! sink [:msg i])) (! sink [:count (self)]) (receive [:count k] k))]
      (one-way 200000)                                   ; warm-up
      (let [n 1000000 t0 (System/nanoTime)
            got (one-way n)]
        (println "one-way [:msg i]:" (rate n (/ (- (System/nanoTime) t0) 1e6)) "msgs/s (sink counted" got ")"))))
  (node/stop!)
  (shutdown-agents)
  (System/exit 0))
