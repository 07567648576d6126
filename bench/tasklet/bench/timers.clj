(ns tasklet.bench.timers
  "The memory of pending timers (issue 14: a million pending timers must be
  cheap): `bytes-per-pending-timer` starts n send-after timers an hour away,
  all to one waiting tasklet, and measures the heap they hold. Not part of
  the W1-W8 suite; run it by hand on a quiet machine:

    lein with-profile +bench run -m clojure.main -e \\
      \"(require 'tasklet.bench.timers) (prn (tasklet.bench.timers/bytes-per-pending-timer 1000000))\""
  (:require [tasklet.bench.util :as u]
            [tasklet.core :as t])
  (:import [tasklet.kernel Node]))

(set! *warn-on-reflection* true)

(defn bytes-per-pending-timer
  "Start n timers (send-after, an hour away, one shared message) to one
  waiting tasklet, measure the heap in use after GC before and after
  (`tasklet.bench.util/heap-used`), then cancel them all and end the tasklet.
  The array holding the timer refs is made before the first measurement, so
  it is not counted. Returns {:n n :bytes-per b :pending p :pending-after q}:
  p timers were pending while measured, q once cancelled (both of this node)."
  [n]
  (let [n (long n)
        target (t/spawn (fn [] (t/receive :stop nil)))
        trefs (object-array n)
        timers (.userTimers (Node/current))
        base (.pending timers)
        before (u/heap-used)]
    (dotimes [i n] (aset trefs i (t/send-after 3600000 target :tick)))
    (let [after (u/heap-used)
          pending (- (.pending timers) base)]
      (dotimes [i n] (t/cancel-timer (aget trefs i)))
      (t/! target :stop)
      {:n n
       :bytes-per (double (/ (- after before) n))
       :pending pending
       :pending-after (- (.pending timers) base)})))
